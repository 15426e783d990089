/**
 * Rollouts in the pure scheduler: batches, canary pause and resume, the
 * pause timer, the failure budget under fail-fast and continue, cancel and
 * job timeout mid-rollout, and replay. Time is only the timestamps inside
 * the events, and the sweep's `now` for the pause timer.
 */
import assert from "node:assert/strict";
import type { JobRecord, Phase, Strategy } from "../models/job.ts";
import type { JobEvent, ResultEvent } from "../models/messages.ts";
import type { Rollout } from "../models/rollout.ts";
import { initFor, planJob } from "./plan.ts";
import { applyEvent, pendingDispatches, startJob } from "./scheduler.ts";
import { rolloutStatus } from "./rollout_run.ts";
import { controlEvent, sweep, sweepConfig } from "./sweep.ts";
import type { Effect, JobInit, JobState } from "./job_state.ts";

const JOB = "job-r";
const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

const L = (action: string, extra: Partial<Phase> = {}): Phase => ({
  backend: "test",
  action,
  ...extra,
});

interface Opts {
  strategy?: Strategy;
  nodes?: string[];
  timeoutMs?: number;
}

function init(tasks: Phase[], rollout: Rollout, o: Opts = {}): JobInit {
  return {
    id: JOB,
    strategy: o.strategy ?? "fail-fast",
    timeoutMs: o.timeoutMs,
    phases: planJob(tasks),
    nodes: o.nodes ?? ["a", "b", "c", "d", "e"],
    rollout,
    startedAt: T0,
    keepOutput: true,
    keepResults: true,
  };
}

function result(
  node: string,
  step: number,
  status: ResultEvent["status"],
  t: number,
  attempt = 1,
): ResultEvent {
  return {
    type: "result",
    job: JOB,
    step,
    node,
    attempt,
    status,
    output: "",
    ...(status === "success" ? {} : { error: "boom" }),
    started_at: at(t - 10),
    finished_at: at(t),
    duration_ms: 10,
    by: "worker",
  };
}

const resume = (batch: number, t: number): JobEvent => ({
  type: "resume",
  job: JOB,
  at: at(t),
  batch,
  reason: "resumed by request",
});

/** A run: the log so far and every effect, shown compactly. */
class Run {
  readonly state: JobState;
  readonly log: JobEvent[] = [];
  readonly all: Effect[] = [];
  readonly init: JobInit;
  #t = 0;

  constructor(tasks: Phase[], rollout: Rollout, o: Opts = {}) {
    this.init = init(tasks, rollout, o);
    const { state, effects } = startJob(this.init);
    this.state = state;
    this.all.push(...effects);
  }

  send(ev: JobEvent): string[] {
    this.log.push(ev);
    const effects = applyEvent(this.state, ev, this.log.length);
    this.all.push(...effects);
    return show(effects);
  }
  /** Results at increasing times: "a:0" success, "a:0!" failed. */
  res(...items: string[]): string[] {
    return items.flatMap((it) => {
      const failed = it.endsWith("!");
      const [node, step] = it.replace("!", "").split(":");
      this.#t += 100;
      return this.send(
        result(node!, Number(step), failed ? "failed" : "success", this.#t),
      );
    });
  }
  get t(): number {
    return this.#t;
  }
  status() {
    return rolloutStatus(this.state, this.state.rollout!, true);
  }
}

function show(effects: Effect[]): string[] {
  return effects.map((e) => {
    switch (e.kind) {
      case "dispatch":
        return `run ${e.node}:${e.leaf.index}`;
      case "abort":
        return `abort ${e.node}:${e.step}`;
      case "step":
        return `step ${e.step}`;
      case "finish":
        return `finish ${e.status}`;
      case "rollout":
        return `batch ${e.status.batch}/${e.status.batches}${
          e.status.paused ? " paused" : ""
        }${e.status.next_at ? " waits" : ""}${
          e.status.stopped ? " stopped" : ""
        }`;
    }
  });
}

/** Every node run, once each per step (no node run twice). */
function runs(effects: Effect[]): string[] {
  return effects.flatMap((e) =>
    e.kind === "dispatch" ? [`${e.node}:${e.leaf.index}`] : []
  );
}

const TWO = [L("drain"), L("upgrade")];

Deno.test("batches run the whole job in order, phases as barriers within a batch", () => {
  const r = new Run(TWO, { batch: 2 });
  assert.deepEqual(show(r.all), [
    "batch 1/3",
    "step 0",
    "run a:0",
    "run b:0",
  ]);
  // a is done with phase 0 but waits for b; no node of batch 2 starts.
  assert.deepEqual(r.res("a:0"), []);
  assert.deepEqual(r.res("b:0"), ["step 1", "run a:1", "run b:1"]);
  assert.deepEqual(r.res("a:1"), []);
  assert.deepEqual(r.res("b:1"), [
    "batch 2/3",
    "step 0",
    "run c:0",
    "run d:0",
  ]);
  r.res("c:0", "d:0", "c:1");
  assert.deepEqual(r.res("d:1"), ["batch 3/3", "step 0", "run e:0"]);
  assert.deepEqual(r.res("e:0"), ["step 1", "run e:1"]);
  assert.deepEqual(r.res("e:1"), ["batch 3/3", "finish completed"]);
  assert.equal(r.state.status, "completed");
  assert.deepEqual(runs(r.all), [
    "a:0",
    "b:0",
    "a:1",
    "b:1",
    "c:0",
    "d:0",
    "c:1",
    "d:1",
    "e:0",
    "e:1",
  ]);
  assert.deepEqual(r.status().progress, [
    { nodes: 2, done: 2, failed: 0, pending: 0 },
    { nodes: 2, done: 2, failed: 0, pending: 0 },
    { nodes: 1, done: 1, failed: 0, pending: 0 },
  ]);
});

Deno.test("results for nodes of a later batch are ignored until it starts", () => {
  const r = new Run([L("x")], { batch: 2 });
  const before = structuredClone(r.state);
  assert.deepEqual(r.send(result("c", 0, "success", 50)), []);
  assert.deepEqual(r.state, before);
});

Deno.test("canary: pauses after the first batch until a resume names the next batch", () => {
  const r = new Run([L("x")], { batch: 2, canary: 1 });
  assert.deepEqual(show(r.all), ["batch 1/3", "step 0", "run a:0"]);
  assert.deepEqual(r.res("a:0"), ["batch 1/3 paused"]);
  assert.equal(r.state.status, "running");
  assert.equal(r.status().paused, true);
  assert.deepEqual(r.status().progress, [
    { nodes: 1, done: 1, failed: 0, pending: 0 },
    { nodes: 2, done: 0, failed: 0, pending: 2 },
    { nodes: 2, done: 0, failed: 0, pending: 2 },
  ]);
  assert.deepEqual(pendingDispatches(r.state), [], "nothing runs while paused");
  // A resume for another batch (a stale or skipped one) changes nothing.
  const before = structuredClone(r.state);
  assert.deepEqual(r.send(resume(3, 5000)), []);
  assert.deepEqual(r.send(resume(1, 5000)), []);
  assert.deepEqual(r.state, before);
  assert.deepEqual(r.send(resume(2, 6000)), [
    "batch 2/3",
    "step 0",
    "run b:0",
    "run c:0",
  ]);
  assert.equal(r.status().paused, undefined);
  // A second resume for the same batch (a double click) is ignored.
  assert.deepEqual(r.send(resume(2, 6100)), []);
  // Only the canary pauses: batch 3 follows batch 2 at once.
  r.res("b:0");
  assert.deepEqual(r.res("c:0"), ["batch 3/3", "step 0", "run d:0", "run e:0"]);
  assert.deepEqual(r.res("d:0", "e:0"), ["batch 3/3", "finish completed"]);
});

Deno.test("canary larger than the fleet: one batch, no pause", () => {
  const r = new Run([L("x")], { batch: 1, canary: 9 }, { nodes: ["a", "b"] });
  assert.deepEqual(r.res("a:0", "b:0"), ["batch 1/1", "finish completed"]);
});

Deno.test("pause: the next batch waits until the pause is over, by the sweep's clock", () => {
  const r = new Run([L("x")], { batch: 2, pause: "30s" }, {
    nodes: ["a", "b", "c"],
  });
  r.res("a:0");
  assert.deepEqual(r.res("b:0"), ["batch 1/2 waits"]);
  const due = T0 + r.t + 30_000;
  assert.equal(
    r.state.rollout!.dueAt,
    due,
    "from the event that ended the batch",
  );
  assert.equal(r.status().next_at, new Date(due).toISOString());
  const job = { record: { id: JOB }, state: r.state, sent: new Map() };
  const facts = (now: number) => ({ now, graceUntil: 0, nodes: new Map() });
  const cfg = sweepConfig(15_000);
  assert.deepEqual(sweep([job], facts(due - 1), cfg), [], "not before");
  const effects = sweep([job], facts(due), cfg);
  assert.deepEqual(effects, [{ kind: "next_batch", job: JOB, batch: 2 }]);
  assert.deepEqual(
    sweep([{ ...job, resumeSent: 2 }], facts(due + 5000), cfg),
    [],
    "asked once",
  );
  const ev = controlEvent(
    effects[0] as { kind: "next_batch"; job: string; batch: number },
    due,
  );
  assert.deepEqual(ev, {
    type: "resume",
    job: JOB,
    at: new Date(due).toISOString(),
    batch: 2,
    reason: "pause over",
  });
  assert.deepEqual(r.send(ev), ["batch 2/2", "step 0", "run c:0"]);
  assert.equal(r.state.rollout!.dueAt, undefined);
  assert.deepEqual(sweep([job], facts(due + 60_000), cfg), []);
  assert.deepEqual(r.res("c:0"), ["batch 2/2", "finish completed"]);
});

Deno.test("pause after a canary: approval first, then the timer between later batches", () => {
  const r = new Run([L("x")], { batch: 1, canary: 1, pause: "10s" }, {
    nodes: ["a", "b", "c"],
  });
  assert.deepEqual(r.res("a:0"), ["batch 1/3 paused"]);
  assert.equal(r.state.rollout!.dueAt, undefined, "no timer for approval");
  assert.deepEqual(r.send(resume(2, 1000)), ["batch 2/3", "step 0", "run b:0"]);
  assert.deepEqual(r.res("b:0"), ["batch 2/3 waits"]);
  assert.deepEqual(r.send(resume(3, 20_000)), [
    "batch 3/3",
    "step 0",
    "run c:0",
  ]);
});

// ---- failures ----

const WITH_CLEANUP = [
  L("drain"),
  L("upgrade"),
  L("rollback", { condition: "on_failure" }),
  L("notify", { condition: "always" }),
];

Deno.test("fail-fast: a failure ends the rollout; the batch's on_failure/always run; no new batch", () => {
  const r = new Run(WITH_CLEANUP, { batch: 2 });
  r.res("a:0");
  // b fails the drain: under fail-fast the whole batch counts as failed.
  assert.deepEqual(r.res("b:0!"), [
    "step 1", // skipped by both
    "step 2",
    "run a:2",
    "run b:2",
  ]);
  assert.deepEqual(r.res("a:2", "b:2"), ["step 3", "run a:3", "run b:3"]);
  assert.deepEqual(r.res("a:3", "b:3"), ["batch 1/3 stopped", "finish failed"]);
  assert.match(r.state.error ?? "", /step 0 \(test drain\) failed on b/);
  assert.match(
    r.state.rollout!.stopped ?? "",
    /batch 1 failed under fail-fast/,
  );
  assert.ok(!runs(r.all).some((x) => /^[cde]:/.test(x)), "batch 2 never ran");
  assert.deepEqual(r.status().progress?.map((b) => b.pending), [0, 2, 1]);
});

Deno.test("fail-fast: a failure in the last batch ends the job as without rollout", () => {
  const r = new Run([L("x")], { batch: 1 }, { nodes: ["a", "b"] });
  r.res("a:0");
  assert.deepEqual(r.res("b:0!"), ["batch 2/2", "finish failed"]);
  assert.equal(r.state.rollout!.stopped, undefined, "no batch was left");
});

Deno.test("continue: failures within the budget; the next batches still run", () => {
  const r = new Run(TWO, { batch: 2, max_failures: 1 }, {
    strategy: "continue",
  });
  r.res("a:0!", "b:0");
  // a failed: it skips the upgrade; b goes on.
  assert.deepEqual(r.res("b:1"), [
    "batch 2/3",
    "step 0",
    "run c:0",
    "run d:0",
  ]);
  r.res("c:0", "d:0", "c:1", "d:1", "e:0", "e:1");
  assert.equal(r.state.status, "completed");
  assert.equal(r.status().failed, 1);
  assert.equal(r.status().max_failures, 1);
});

Deno.test("continue: the budget spent stops new batches; the batch finishes, on_failure/always included", () => {
  const r = new Run(WITH_CLEANUP, { batch: 2, max_failures: 1 }, {
    strategy: "continue",
  });
  r.res("a:0", "b:0", "a:1", "b:1", "a:3", "b:3");
  assert.equal(r.state.rollout!.batch, 1, "batch 2 running");
  // c fails: 1 of 1 allowed, the budget is not spent yet.
  r.res("c:0!");
  // d fails too: 2 > 1. d's and c's cleanup still run, in their batch.
  assert.deepEqual(r.res("d:0!"), [
    "step 1",
    "step 2",
    "run c:2",
    "run d:2",
  ]);
  r.res("c:2", "d:2");
  assert.deepEqual(r.res("c:3", "d:3"), ["batch 2/3 stopped", "finish failed"]);
  assert.match(
    r.state.error ?? "",
    /^failure budget spent: 2 of 5 nodes failed, at most 1 may; first: step 0 \(test drain\) failed on c/,
  );
  assert.ok(!runs(r.all).some((x) => x.startsWith("e:")), "batch 3 never ran");
  assert.deepEqual(r.status().progress, [
    { nodes: 2, done: 2, failed: 0, pending: 0 },
    { nodes: 2, done: 0, failed: 2, pending: 0 },
    { nodes: 1, done: 0, failed: 0, pending: 1 },
  ]);
});

Deno.test("continue: budget spent mid-batch, a healthy node of the batch still walks the job", () => {
  const r = new Run(TWO, { batch: 3, max_failures: 0 }, {
    strategy: "continue",
  });
  assert.deepEqual(r.res("a:0!", "b:0", "c:0"), [
    "step 1",
    "run b:1",
    "run c:1",
  ]);
  assert.deepEqual(r.res("b:1", "c:1"), ["batch 1/2 stopped", "finish failed"]);
  assert.ok(!runs(r.all).some((x) => /^[de]:/.test(x)));
});

Deno.test("continue: the budget counts the last batch too", () => {
  const r = new Run([L("x")], { batch: 2, max_failures: "20%" }, {
    strategy: "continue",
  });
  r.res("a:0", "b:0", "c:0", "d:0!");
  assert.equal(r.state.status, "running");
  r.res("e:0!");
  assert.equal(r.state.status, "failed", "2 failed, 20% of 5 is 1");
});

Deno.test("continue without max_failures: every batch runs; failed only if every node failed", () => {
  const some = new Run([L("x")], { batch: 2 }, { strategy: "continue" });
  some.res("a:0!", "b:0!", "c:0", "d:0!", "e:0!");
  assert.equal(some.state.status, "completed");
  const all = new Run([L("x")], { batch: 2 }, { strategy: "continue" });
  all.res("a:0!", "b:0!", "c:0!", "d:0!", "e:0!");
  assert.equal(all.state.status, "failed");
  assert.match(all.state.error ?? "", /^every node failed/);
});

Deno.test("a canary that fails under continue still pauses (within the budget)", () => {
  const r = new Run([L("x")], { batch: 2, canary: 1 }, {
    strategy: "continue",
  });
  assert.deepEqual(r.res("a:0!"), ["batch 1/3 paused"]);
  const spent = new Run([L("x")], { batch: 2, canary: 1, max_failures: 0 }, {
    strategy: "continue",
  });
  assert.deepEqual(spent.res("a:0!"), ["batch 1/3 stopped", "finish failed"]);
});

// ---- cancel, timeout ----

Deno.test("cancel mid-batch: in-flight attempts aborted, no new batch", () => {
  const r = new Run(TWO, { batch: 2 });
  r.res("a:0", "b:0", "a:1", "b:1", "c:0");
  assert.deepEqual(
    r.send({ type: "cancel", job: JOB, at: at(9000), reason: "stop" }),
    ["abort d:0", "batch 2/3 stopped", "finish cancelled"],
  );
  assert.equal(r.state.rollout!.stopped, "stop");
  assert.ok(!runs(r.all).some((x) => x.startsWith("e:")));
});

Deno.test("cancel while paused or waiting: nothing to abort, the job ends", () => {
  const paused = new Run([L("x")], { batch: 2, canary: 1 });
  paused.res("a:0");
  assert.deepEqual(
    paused.send({ type: "cancel", job: JOB, at: at(9000), reason: "no" }),
    ["batch 1/3 stopped", "finish cancelled"],
  );
  assert.equal(paused.status().paused, undefined);
  const waiting = new Run([L("x")], { batch: 2, pause: "1m" });
  waiting.res("a:0", "b:0");
  waiting.send({ type: "cancel", job: JOB, at: at(9000), reason: "no" });
  assert.equal(waiting.state.status, "cancelled");
  assert.equal(waiting.state.rollout!.dueAt, undefined, "the timer is off");
  assert.deepEqual(
    waiting.send(resume(2, 70_000)),
    [],
    "a late resume does nothing",
  );
});

Deno.test("job timeout mid-batch: the batch's on_failure/always run, no new batch, failed", () => {
  const r = new Run(WITH_CLEANUP, { batch: 2 }, { timeoutMs: 60_000 });
  r.res("a:0", "b:0", "a:1");
  assert.deepEqual(
    r.send({ type: "job_timeout", job: JOB, at: at(60_000) }),
    ["abort b:1", "step 2", "run a:2", "run b:2"],
  );
  r.res("a:2", "b:2", "a:3");
  assert.deepEqual(r.res("b:3"), ["batch 1/3 stopped", "finish failed"]);
  assert.match(r.state.error ?? "", /timed out after 1m/);
  assert.ok(!runs(r.all).some((x) => /^[cde]:/.test(x)));
});

Deno.test("job timeout while paused for approval ends the job at once", () => {
  const r = new Run(WITH_CLEANUP, { batch: 2, canary: 1 }, {
    timeoutMs: 60_000,
  });
  r.res("a:0", "a:1", "a:3");
  assert.equal(r.status().paused, true);
  assert.deepEqual(
    r.send({ type: "job_timeout", job: JOB, at: at(60_000) }),
    ["batch 1/3 stopped", "finish failed"],
  );
  assert.match(r.state.rollout!.stopped ?? "", /timed out/);
});

// ---- offline nodes, replay ----

Deno.test("offline nodes at start are not in any batch and not in the budget's base", () => {
  const rec = {
    id: JOB,
    strategy: "continue",
    target: { scope: "all" },
    tasks: [L("x")],
    rollout: { batch: 2, max_failures: "50%" },
    status: "running",
    step: 0,
    expected: ["a", "b", "c", "d"],
    offline: ["x", "y"],
    created_at: at(0),
    updated_at: at(0),
    started_at: at(0),
  } satisfies JobRecord;
  const { state } = startJob(initFor(rec, true));
  assert.deepEqual(state.rollout!.batches, [["a", "b"], ["c", "d"]]);
  const st = rolloutStatus(state, state.rollout!);
  assert.equal(st.max_failures, 2, "50% of the 4 online nodes");
  assert.equal(st.failed, 0);
});

Deno.test("a job without rollout: one batch of every node, no rollout effects", () => {
  const { state, effects } = startJob({
    ...init([L("x")], { batch: 1 }),
    rollout: undefined,
  });
  assert.equal(state.rollout, undefined);
  assert.deepEqual(state.batchNodes, ["a", "b", "c", "d", "e"]);
  assert.ok(!effects.some((e) => e.kind === "rollout"));
});

/** A log through canary, approval, a budget-free failure, a pause and its timer. */
function rolloutLog(): {
  tasks: Phase[];
  rollout: Rollout;
  events: JobEvent[];
} {
  return {
    tasks: [L("s0", { max_retries: 1 }), L("s1")],
    rollout: { batch: 2, canary: 1, pause: "5s" },
    events: [
      result("a", 0, "success", 100),
      result("a", 1, "success", 200),
      result("b", 0, "success", 250), // before b's batch: ignored
      resume(2, 1000),
      resume(2, 1001), // duplicate
      result("b", 0, "failed", 1100), // retried
      result("c", 0, "success", 1200),
      result("b", 0, "success", 3200, 2),
      result("b", 1, "success", 3300),
      result("c", 1, "success", 3400),
      resume(3, 8400), // the pause timer
      result("d", 0, "success", 8500),
    ],
  };
}

Deno.test("replay: every prefix of a rollout log rebuilds the live state, and no node runs twice", () => {
  const { tasks, rollout, events } = rolloutLog();
  const live = new Run(tasks, rollout);
  for (let n = 0; n <= events.length; n++) {
    if (n > 0) live.send(events[n - 1]!);
    const { state } = startJob(init(tasks, rollout));
    events.slice(0, n).forEach((ev, i) => applyEvent(state, ev, i + 1));
    assert.deepEqual(state, live.state, `after ${n} events`);
    assert.deepEqual(
      pendingDispatches(state),
      pendingDispatches(live.state),
      `pending after ${n}`,
    );
  }
  assert.equal(live.state.rollout!.batch, 2);
  assert.deepEqual(
    pendingDispatches(live.state).map((e) => e.kind === "dispatch" && e.node),
    ["e"], // d is done with step 0, waiting at the barrier
  );
  // Each node ran each step once (b's retry is a new attempt of the same step).
  const keys = live.all.flatMap((e) =>
    e.kind === "dispatch" ? [`${e.node}:${e.leaf.index}#${e.attempt}`] : []
  );
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual(keys.filter((k) => k.startsWith("b:")), [
    "b:0#1",
    "b:0#2",
    "b:1#1",
  ]);
});
