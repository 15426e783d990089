import assert from "node:assert/strict";
import { watchStall } from "./ordered.ts";

/** Resolves once `check` holds, polling every few ms; rejects after a deadline. */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("watchStall: a reader behind its stream that does not move is reported", async () => {
  const calls: [number, number][] = [];
  const stop = watchStall(
    () => Promise.resolve(9),
    () => 4,
    (seen, last) => {
      calls.push([seen, last]);
    },
    10,
  );
  try {
    await until(() => calls.length > 0);
    assert.deepEqual(calls[0], [4, 9]);
  } finally {
    stop();
  }
});

Deno.test("watchStall: a reader that moves, or has caught up, is left alone", async () => {
  let seen = 0;
  let checks = 0;
  const stalled: number[] = [];
  const stop = watchStall(
    () => {
      checks++;
      return Promise.resolve(checks < 10 ? 1000 : seen);
    },
    () => (checks < 10 ? ++seen : seen),
    (at) => {
      stalled.push(at);
    },
    5,
  );
  try {
    await until(() => checks >= 20);
    assert.deepEqual(stalled, []);
  } finally {
    stop();
  }
});
