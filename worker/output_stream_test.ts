import assert from "node:assert/strict";
import type { OutputChunk } from "../models/messages.ts";
import { ManualClock } from "../lib/clock.ts";
import {
  CHUNK_BYTES,
  FLUSH_EVERY_MS,
  OutputStream,
  STREAM_LIMIT_BYTES,
} from "./output_stream.ts";
import { NODE, runCmd } from "./testing.ts";

function rig() {
  const clock = new ManualClock();
  const sent: OutputChunk[] = [];
  const s = new OutputStream(
    runCmd(clock, "j"),
    NODE,
    clock,
    (c) => sent.push(c),
  );
  return { clock, sent, s };
}

Deno.test("OutputStream: many small writes go out as one chunk per interval", async () => {
  const { clock, sent, s } = rig();
  for (let i = 0; i < 100; i++) s.write(`x${i}\n`);
  assert.equal(sent.length, 0);
  await clock.advance(FLUSH_EVERY_MS);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.text.split("\n").length, 101);
  s.write("more\n");
  s.close();
  assert.deepEqual(sent.map((c) => c.n), [0, 1]);
  assert.equal(clock.pending, 0, "no timer left behind");
});

Deno.test("OutputStream: a full chunk goes at once", () => {
  const { sent, s } = rig();
  s.write("y".repeat(CHUNK_BYTES));
  assert.equal(sent.length, 1);
  s.close();
});

Deno.test("OutputStream: streaming stops at the limit, saying so", () => {
  const { sent, s } = rig();
  for (let i = 0; i < 80; i++) s.write("z".repeat(CHUNK_BYTES));
  s.write("after the limit");
  s.close();
  const total = sent.reduce((n, c) => n + c.text.length, 0);
  assert.equal(total, STREAM_LIMIT_BYTES);
  assert.equal(sent.at(-1)!.truncated, true);
  assert.ok(sent.slice(0, -1).every((c) => !c.truncated));
});
