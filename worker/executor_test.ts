/**
 * The executor alone on an in-memory results log and a manual clock: order,
 * timeouts, and reporting until the log holds the outcome.
 */
import assert from "node:assert/strict";
import { iso, ManualClock } from "../lib/clock.ts";
import { recordingExec } from "../backends/testing.ts";
import { testBackend } from "../backends/test_actions.ts";
import { Executor } from "./executor.ts";
import { FakeResultLog, Gates, heldCmd, NODE, runCmd } from "./testing.ts";

function setup() {
  const clock = new ManualClock();
  const results = new FakeResultLog();
  const gates = new Gates();
  let longTasks = 0;
  const executor = new Executor({
    node: NODE,
    hostname: NODE,
    backends: new Map([["test", testBackend()], ["gate", gates.backend]]),
    exec: recordingExec(),
    results,
    clock,
    onLongTask: () => longTasks++,
  });
  return { clock, results, gates, executor, longTasks: () => longTasks };
}

Deno.test("executor: tasks run one at a time, in the order taken in", async () => {
  const t = setup();
  t.executor.enqueue(heldCmd(t.clock, "a"), 1);
  t.executor.enqueue(heldCmd(t.clock, "b"), 2);
  t.executor.enqueue(heldCmd(t.clock, "c"), 3);
  await t.clock.advance(0);
  assert.deepEqual(t.gates.started, ["a"]);
  assert.deepEqual(t.executor.state().open, [1, 2, 3]);
  t.gates.open("a");
  await t.clock.advance(0);
  assert.deepEqual(t.gates.started, ["a", "b"]);
  assert.deepEqual(t.executor.state().open, [2, 3]);
  t.gates.open("b");
  await t.clock.advance(0);
  t.gates.open("c");
  await t.clock.advance(0);
  assert.deepEqual(t.results.events.map((e) => e.job), ["a", "b", "c"]);
  assert.deepEqual(t.executor.state(), { queued: 0, open: [] });
});

Deno.test("executor: the outcome reported says how the task ran and for how long", async () => {
  const t = setup();
  const started = t.clock.now();
  t.executor.enqueue(heldCmd(t.clock, "a", { step: 2, attempt: 3 }), 1);
  await t.clock.advance(1500);
  t.gates.open("a");
  await t.clock.advance(0);
  assert.deepEqual(t.results.events, [{
    type: "result",
    job: "a",
    step: 2,
    node: NODE,
    attempt: 3,
    status: "success",
    output: "a done",
    retryable: false,
    started_at: iso(started),
    finished_at: iso(started + 1500),
    duration_ms: 1500,
    by: "worker",
  }]);
});

Deno.test("executor: a task past its timeout is aborted and reported as retryable", async () => {
  const t = setup();
  t.executor.enqueue(heldCmd(t.clock, "a", { timeout_ms: 2000 }), 1);
  await t.clock.advance(1999);
  assert.deepEqual(t.gates.holding, ["a"]);
  await t.clock.advance(1);
  const ev = t.results.of("a");
  assert.equal(ev?.status, "failed");
  assert.equal(ev?.error, "timed out after 2s");
  assert.equal(ev?.retryable, true);
  assert.equal(t.clock.pending, 0);
});

Deno.test("executor: a failed report is retried with growing waits until held", async () => {
  const t = setup();
  t.results.failReports = 3;
  t.executor.enqueue(runCmd(t.clock, "a"), 1);
  await t.clock.advance(0);
  assert.equal(t.results.reportCalls, 1);
  // Waits of 250, 500 and 1000 ms.
  await t.clock.advance(1749);
  assert.equal(t.results.reportCalls, 3);
  assert.equal(t.results.of("a"), undefined);
  // Still reporting: the task is not done, so the next waits.
  t.executor.enqueue(runCmd(t.clock, "b"), 2);
  await t.clock.advance(0);
  assert.equal(t.results.of("b"), undefined);
  await t.clock.advance(1);
  assert.deepEqual(t.results.events.map((e) => e.job), ["a", "b"]);
});

Deno.test("executor: reporting stops once the log is closed for good", async () => {
  const t = setup();
  t.results.closed = true;
  t.executor.enqueue(runCmd(t.clock, "a"), 1);
  t.executor.enqueue(runCmd(t.clock, "b"), 2);
  await t.clock.advance(60_000);
  assert.equal(t.results.reportCalls, 2, "one try each, no retry");
  assert.equal(t.clock.pending, 0);
});

Deno.test("executor: a task running longer than a moment is announced once", async () => {
  const t = setup();
  t.executor.enqueue(runCmd(t.clock, "quick"), 1);
  await t.clock.advance(1000);
  assert.equal(t.longTasks(), 0);
  t.executor.enqueue(heldCmd(t.clock, "long"), 2);
  await t.clock.advance(249);
  assert.equal(t.longTasks(), 0);
  await t.clock.advance(10_000);
  assert.equal(t.longTasks(), 1);
  assert.equal(t.executor.state().running?.job, "long");
  t.gates.open("long");
});

Deno.test("executor: drain with nothing running or queued ends at once", async () => {
  const t = setup();
  await t.executor.drain(30_000, "bye");
  assert.equal(t.clock.pending, 0);
  t.executor.enqueue(runCmd(t.clock, "late"), 1);
  await t.clock.advance(0);
  assert.deepEqual(t.results.events, []);
});

Deno.test("executor: a task's output is streamed, and all of it goes before its result", async () => {
  const t = setup();
  const order: string[] = [];
  const stream = t.results.stream.bind(t.results);
  const report = t.results.report.bind(t.results);
  t.results.stream = (c) => {
    order.push(`chunk ${c.n}`);
    stream(c);
  };
  t.results.report = (ev) => {
    order.push("result");
    return report(ev);
  };
  t.executor.enqueue(
    runCmd(t.clock, "s", {
      action: "stream",
      params: { lines: "3", interval: "0s" },
    }),
    1,
  );
  // The test backend waits on real timers (of 0 ms): let them run out.
  for (let i = 0; i < 100 && t.results.events.length === 0; i++) {
    await t.clock.advance(0);
  }
  // Gathered: three lines written together make one chunk, sent first.
  assert.deepEqual(order, ["chunk 0", "result"]);
  assert.equal(
    t.results.chunks[0]!.text,
    "line 1 of 3\nline 2 of 3\nline 3 of 3\n",
  );
  assert.equal(t.results.chunks[0]!.job, "s");
  assert.equal(
    t.results.events[0]!.output,
    "line 1 of 3\nline 2 of 3\nline 3 of 3",
  );
});
