/**
 * `follow: false` (`GET /job/:id/output?follow=false`, `gridc job logs`
 * without -f): what was streamed before the request, then `end`, even
 * while the job still runs.
 */
import assert from "node:assert/strict";
import { readSse, type SseEvent } from "../client/sse.ts";
import type { JobRecord } from "../models/job.ts";
import type { OutputChunk } from "../models/messages.ts";
import { ManualClock } from "../lib/clock.ts";
import { EventLogFollower } from "./job_follow.ts";
import { jobStream, type StreamOptions } from "./job_stream.ts";
import { MemoryEventLog, MemoryOutputLog, steps } from "./testing.ts";

const rec: JobRecord = {
  id: "j1",
  target: { scope: "all" },
  strategy: "fail-fast",
  tasks: steps(1),
  status: "running",
  step: 0,
  expected: ["a"],
  offline: [],
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
  started_at: "2026-01-01T00:00:00.000Z",
  res_seq: 0,
};

const chunk = (n: number, job = "j1"): OutputChunk => ({
  type: "output",
  job,
  step: 0,
  node: "a",
  attempt: 1,
  n,
  text: `line ${n}\n`,
});

/** A stream of job j1 read in the background: its events, and whether it ended. */
function open(log: MemoryOutputLog, opts: StreamOptions, job = rec) {
  const clock = new ManualClock();
  const closing = new AbortController();
  const stream = jobStream(
    {
      record: () => job,
      follower: new EventLogFollower(new MemoryEventLog()),
      output: log,
      clock,
      closing: closing.signal,
    },
    job,
    { res: 0, out: 0 },
    opts,
  );
  const got: SseEvent[] = [];
  let closed = false;
  const reading = (async () => {
    for await (const e of readSse(stream)) got.push(e);
    closed = true;
  })();
  return {
    clock,
    got,
    closed: () => closed,
    /** Stops the stream if it is still open, and waits for the reader. */
    finish: async () => {
      closing.abort();
      await reading;
    },
  };
}

const texts = (got: SseEvent[]) =>
  got.filter((e) => e.type === "output").map((e) => JSON.parse(e.data).text);

Deno.test("follow=false: a running job's output so far, then end with its status", async () => {
  const log = new MemoryOutputLog();
  for (let n = 1; n <= 3; n++) log.append(chunk(n));
  const s = open(log, { results: false, output: {}, follow: false });
  await s.clock.advance(0);
  // Written after the request: not waited for.
  log.append(chunk(4));
  await s.clock.advance(250);
  assert.ok(s.closed(), "ended at the first look after reading up to 3");
  await s.finish();
  assert.deepEqual(texts(s.got).slice(0, 3), [
    "line 1\n",
    "line 2\n",
    "line 3\n",
  ]);
  const end = s.got.at(-1)!;
  assert.equal(end.type, "end");
  assert.deepEqual(JSON.parse(end.data), { status: "running" });
  assert.equal(s.got[0]!.type, "status");
});

Deno.test("follow=false: other jobs' output written last does not hold it up", async () => {
  const log = new MemoryOutputLog();
  log.append(chunk(1));
  log.append(chunk(1, "other"));
  const s = open(log, { results: false, output: {}, follow: false });
  // Its reader has nothing pending: read, whoever wrote last.
  await s.clock.advance(250);
  assert.ok(s.closed());
  await s.finish();
  assert.deepEqual(texts(s.got), ["line 1\n"]);
  assert.equal(s.got.at(-1)!.type, "end");
});

Deno.test("follow=false: a pending job has no output yet and ends at once", async () => {
  const log = new MemoryOutputLog();
  log.append(chunk(1, "other"));
  const pending: JobRecord = { ...rec, status: "pending" };
  delete pending.started_at;
  const s = open(log, { results: false, output: {}, follow: false }, pending);
  await s.clock.advance(250);
  assert.ok(s.closed());
  await s.finish();
  assert.deepEqual(s.got.map((e) => e.type), ["status", "end"]);
  assert.deepEqual(JSON.parse(s.got[1]!.data), { status: "pending" });
});

Deno.test("follow (the default): a running job's stream stays open", async () => {
  const log = new MemoryOutputLog();
  log.append(chunk(1));
  const s = open(log, { results: false, output: {} });
  await s.clock.advance(10_000);
  assert.ok(!s.closed());
  log.append(chunk(2));
  await s.clock.advance(0);
  await s.finish();
  assert.deepEqual(texts(s.got), ["line 1\n", "line 2\n"]);
  assert.ok(s.got.every((e) => e.type !== "end"));
});
