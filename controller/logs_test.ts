import assert from "node:assert/strict";
import { CLOCK_AHEAD_MS, onServerClock } from "./logs.ts";
import type { JobEvent } from "../models/messages.ts";

const result = (started: string, finished: string): JobEvent => ({
  type: "result",
  job: "j",
  step: 0,
  node: "n",
  attempt: 1,
  status: "failed",
  output: "",
  started_at: started,
  finished_at: finished,
} as JobEvent);

Deno.test("events: a result from a fast clock is moved back to the server's, durations kept", () => {
  const stored = Date.parse("2026-12-02T04:00:00.000Z");
  const fast = onServerClock(
    result("2026-12-02T04:09:58.000Z", "2026-12-02T04:10:00.000Z"),
    stored,
  ) as Extract<JobEvent, { type: "result" }>;
  assert.equal(fast.finished_at, "2026-12-02T04:00:00.000Z");
  assert.equal(fast.started_at, "2026-12-02T03:59:58.000Z");
  // Within the allowance, or behind (a late report), nothing moves.
  const near = result(
    "2026-12-02T04:00:00.000Z",
    new Date(stored + CLOCK_AHEAD_MS).toISOString(),
  );
  assert.deepEqual(onServerClock(near, stored), near);
  const late = result("2026-12-02T03:50:00.000Z", "2026-12-02T03:51:00.000Z");
  assert.deepEqual(onServerClock(late, stored), late);
  const cancel = { type: "cancel", job: "j", at: "2099-01-01T00:00:00.000Z" };
  assert.deepEqual(onServerClock(cancel as JobEvent, stored), cancel);
});
