/**
 * The pure scheduler, driven by scripted events: every test feeds
 * startJob/applyEvent a log and checks the effects and the final state.
 * Time only appears as timestamps inside the events.
 */
import assert from "node:assert/strict";
import type { Phase, Strategy } from "../models/job.ts";
import type { JobEvent, ResultEvent } from "../models/messages.ts";
import { planJob } from "./plan.ts";
import {
  applyEvent,
  currentLeaf,
  pendingDispatches,
  shouldRun,
  startJob,
} from "./scheduler.ts";
import type { Effect, JobInit, JobState } from "./job_state.ts";

// ---- helpers ----

const JOB = "job-1";
const T0 = Date.parse("2026-03-01T12:00:00.000Z");
/** An ISO timestamp `ms` after T0. */
const at = (ms: number) => new Date(T0 + ms).toISOString();

const L = (action: string, extra: Partial<Phase> = {}): Phase => ({
  backend: "test",
  action,
  ...extra,
});
const P = (tasks: Phase[], extra: Partial<Phase> = {}): Phase => ({
  tasks,
  ...extra,
});

interface Opts {
  strategy?: Strategy;
  nodes?: string[];
  timeoutMs?: number;
  keepOutput?: boolean;
  outputBudget?: number;
}

function init(tasks: Phase[], o: Opts = {}): JobInit {
  return {
    id: JOB,
    strategy: o.strategy ?? "fail-fast",
    timeoutMs: o.timeoutMs,
    phases: planJob(tasks),
    nodes: o.nodes ?? ["a", "b"],
    keepOutput: o.keepOutput,
    outputBudget: o.outputBudget,
  };
}

interface ResOpts {
  attempt?: number;
  /** finished_at, in ms after T0 */
  t?: number;
  error?: string;
  retryable?: boolean;
  output?: string;
  job?: string;
  dur?: number;
}

function result(
  node: string,
  step: number,
  status: ResultEvent["status"],
  o: ResOpts = {},
): ResultEvent {
  const t = o.t ?? 1000;
  const dur = o.dur ?? 100;
  const error = o.error ?? (status === "success" ? undefined : "boom");
  return {
    type: "result",
    job: o.job ?? JOB,
    step,
    node,
    attempt: o.attempt ?? 1,
    status,
    output: o.output ?? `out ${node}/${step}`,
    ...(error === undefined ? {} : { error }),
    ...(o.retryable === undefined ? {} : { retryable: o.retryable }),
    started_at: at(t - dur),
    finished_at: at(t),
    duration_ms: dur,
    by: "worker",
  };
}

/** One job run: the log fed so far and every effect it produced. */
class Run {
  readonly init: JobInit;
  readonly state: JobState;
  readonly log: JobEvent[] = [];
  readonly all: Effect[] = [];
  readonly start: Effect[];

  constructor(tasks: Phase[], o: Opts = {}) {
    this.init = init(tasks, o);
    const { state, effects } = startJob(this.init);
    this.state = state;
    this.start = effects;
    this.all.push(...effects);
  }

  /** Feeds one event; its seq is its 1-based position in the log. */
  send(ev: JobEvent): Effect[] {
    this.log.push(ev);
    const effects = applyEvent(this.state, ev, this.log.length);
    this.all.push(...effects);
    return effects;
  }
  ok(node: string, step: number, o: ResOpts = {}): Effect[] {
    return this.send(result(node, step, "success", o));
  }
  fail(node: string, step: number, o: ResOpts = {}): Effect[] {
    return this.send(result(node, step, "failed", o));
  }
  cancel(reason = "cancelled by operator", t = 5000): Effect[] {
    return this.send({ type: "cancel", job: JOB, at: at(t), reason });
  }
  timeout(t = 60_000): Effect[] {
    return this.send({ type: "job_timeout", job: JOB, at: at(t) });
  }
  leaf(step: number) {
    const l = this.state.phases.flatMap((p) => p.leaves).find((l) =>
      l.index === step
    );
    assert.ok(l, `no leaf ${step}`);
    return l;
  }
  outcome(step: number, node: string) {
    return this.state.results.get(step)?.get(node);
  }
}

/** Compact view of effects: "dispatch a:0#1", "abort b:2#1", "step 3", "finish failed". */
function show(effects: Effect[]): string[] {
  return effects.map((e) => {
    switch (e.kind) {
      case "dispatch":
        return `dispatch ${e.node}:${e.leaf.index}#${e.attempt}`;
      case "abort":
        return `abort ${e.node}:${e.step}#${e.attempt}`;
      case "step":
        return `step ${e.step}`;
      case "finish":
        return `finish ${e.status}`;
      case "rollout":
        return `rollout ${e.status.batch}/${e.status.batches}${
          e.status.paused ? " paused" : ""
        }${e.status.next_at ? ` until ${e.status.next_at}` : ""}`;
    }
  });
}

/** step → node → status, for the whole results map. */
function table(s: JobState): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [step, m] of s.results) {
    out[step] = Object.fromEntries([...m].map(([n, o]) => [n, o.status]));
  }
  return out;
}

function finishes(effects: Effect[]) {
  return effects.filter((e): e is Extract<Effect, { kind: "finish" }> =>
    e.kind === "finish"
  );
}

function dispatches(effects: Effect[]) {
  return effects.filter((e): e is Extract<Effect, { kind: "dispatch" }> =>
    e.kind === "dispatch"
  );
}

/** The object without its undefined-valued keys. */
function defined(o: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  );
}

/** Applies `ev` and checks it changed nothing at all. */
function assertIgnored(r: Run, ev: JobEvent, what: string): void {
  const before = structuredClone(r.state);
  const effects = r.send(ev);
  assert.deepEqual(effects, [], `${what}: no effects`);
  assert.deepEqual(r.state, before, `${what}: state unchanged`);
}

// ---- start ----

Deno.test("startJob: dispatches the first step, attempt 1, to every node of the job", () => {
  const r = new Run([L("one"), L("two")], { nodes: ["n1", "n2", "n3"] });
  const leaf0 = r.leaf(0);
  assert.deepEqual(r.start, [
    { kind: "step", step: 0 },
    { kind: "dispatch", node: "n1", leaf: leaf0, attempt: 1, notBefore: 0 },
    { kind: "dispatch", node: "n2", leaf: leaf0, attempt: 1, notBefore: 0 },
    { kind: "dispatch", node: "n3", leaf: leaf0, attempt: 1, notBefore: 0 },
  ]);
  assert.equal(r.state.status, "running");
  assert.equal(r.state.phase, 0);
  assert.equal(r.state.results.size, 0);
  assert.equal(currentLeaf(r.state, r.state.progress.get("n1")!), leaf0);
});

Deno.test("startJob: zero nodes fails the job at once, with nothing dispatched", () => {
  const r = new Run([L("one")], { nodes: [] });
  assert.deepEqual(show(r.start), ["finish failed"]);
  const [fin] = finishes(r.start);
  assert.match(fin!.error ?? "", /no online node/);
  assert.equal(r.state.status, "failed");
  assert.equal(r.state.error, fin!.error);
  assert.deepEqual(pendingDispatches(r.state), []);
  assertIgnored(r, result("a", 0, "success"), "result after an empty start");
  assertIgnored(
    r,
    { type: "job_timeout", job: JOB, at: at(1) },
    "timeout after an empty start",
  );
});

// ---- barrier ----

Deno.test("barrier: the next phase starts only after every node finished the current one", () => {
  const r = new Run([L("one"), L("two")], { nodes: ["n1", "n2", "n3"] });
  assert.deepEqual(r.ok("n2", 0), []);
  assert.deepEqual(r.ok("n1", 0), []);
  assert.equal(r.state.phase, 0);
  assert.deepEqual(show(r.ok("n3", 0)), [
    "step 1",
    "dispatch n1:1#1",
    "dispatch n2:1#1",
    "dispatch n3:1#1",
  ]);
  assert.equal(r.state.phase, 1);
  assert.deepEqual(r.ok("n1", 1), []);
  assert.deepEqual(r.ok("n3", 1), []);
  const last = r.ok("n2", 1);
  assert.deepEqual(last, [{
    kind: "finish",
    status: "completed",
    error: undefined,
  }]);
  assert.equal(r.state.status, "completed");
  assert.equal(r.state.error, undefined);
  assert.deepEqual(table(r.state), {
    0: { n1: "success", n2: "success", n3: "success" },
    1: { n1: "success", n2: "success", n3: "success" },
  });
  assert.equal(finishes(r.all).length, 1);
});

Deno.test("barrier: dispatches go only to the job's nodes; foreign nodes' results are ignored", () => {
  const nodes = ["web-01", "web-02"];
  const r = new Run([L("one"), L("two"), L("three")], { nodes });
  assertIgnored(
    r,
    result("db-01", 0, "success"),
    "result from a node outside the job",
  );
  assertIgnored(
    r,
    result("db-01", 0, "failed"),
    "failure from a node outside the job",
  );
  r.ok("web-01", 0);
  r.ok("web-02", 0);
  r.ok("web-01", 1);
  r.ok("web-02", 1);
  r.ok("web-01", 2);
  r.ok("web-02", 2);
  assert.equal(r.state.status, "completed");
  for (const d of dispatches(r.all)) assert.ok(nodes.includes(d.node), d.node);
  assert.equal(dispatches(r.all).length, 6);
  for (const m of r.state.results.values()) {
    assert.deepEqual([...m.keys()].sort(), nodes);
  }
});

Deno.test("barrier: a node that finished early does not get the next phase before the others", () => {
  const r = new Run([L("one"), L("two")], { nodes: ["fast", "slow"] });
  assert.deepEqual(r.ok("fast", 0, { t: 10 }), []);
  // A result for the next step from the fast node (which never got it) changes nothing.
  assertIgnored(
    r,
    result("fast", 1, "success"),
    "result for a step not yet dispatched",
  );
  assert.deepEqual(show(r.ok("slow", 0, { t: 99_000 })), [
    "step 1",
    "dispatch fast:1#1",
    "dispatch slow:1#1",
  ]);
});

Deno.test("outcomes record attempts, timestamps, duration and the event's seq; output only when kept", () => {
  const r = new Run([L("one")], { nodes: ["a"] });
  r.ok("a", 0, { t: 2500, dur: 2300, output: "hello" });
  assert.deepEqual(defined(r.outcome(0, "a")!), {
    status: "success",
    attempts: 1,
    startedAt: at(200),
    finishedAt: at(2500),
    durationMs: 2300,
    seq: 1,
  });

  const k = new Run([L("one")], { nodes: ["a"], keepOutput: true });
  k.fail("a", 0, { output: "partial", error: "exit 3" });
  assert.equal(k.outcome(0, "a")!.output, "partial");
  assert.equal(k.outcome(0, "a")!.error, "exit 3");
});

Deno.test("kept outputs stop at the output budget; later ones are flagged as dropped", () => {
  const r = new Run([L("one"), L("two")], {
    nodes: ["a", "b"],
    keepOutput: true,
    outputBudget: 10,
  });
  r.ok("a", 0, { output: "123456" }); // 6 of 10
  r.ok("b", 0, { output: "1234567" }); // would exceed: dropped
  r.ok("a", 1, { output: "1234" }); // exactly fills the budget
  r.ok("b", 1, { output: "" }); // nothing to keep
  assert.equal(r.outcome(0, "a")!.output, "123456");
  assert.equal(r.outcome(0, "a")!.outputDropped, undefined);
  assert.equal(r.outcome(0, "b")!.output, undefined);
  assert.equal(r.outcome(0, "b")!.outputDropped, true);
  assert.equal(r.outcome(0, "b")!.seq, 2);
  assert.equal(r.outcome(1, "a")!.output, "1234");
  assert.ok(!r.outcome(1, "b")!.outputDropped);
  assert.equal(r.state.status, "completed");
});

Deno.test("step effects name the first flat index of each phase", () => {
  const r = new Run([L("a"), P([L("b"), L("c")]), L("d")], { nodes: ["n"] });
  for (const step of [0, 1, 2, 3]) r.ok("n", step);
  assert.deepEqual(
    r.all.filter((e) => e.kind === "step").map((e) =>
      (e as { step: number }).step
    ),
    [0, 1, 3],
  );
  assert.equal(r.state.status, "completed");
});

// ---- pipeline ----

Deno.test("pipeline: a node gets its next sub-step as soon as its previous one ends", () => {
  const r = new Run([P([L("s0"), L("s1"), L("s2")]), L("after")], {
    nodes: ["a", "b"],
  });
  assert.deepEqual(show(r.start), [
    "step 0",
    "dispatch a:0#1",
    "dispatch b:0#1",
  ]);
  assert.deepEqual(show(r.ok("a", 0)), ["dispatch a:1#1"]);
  assert.deepEqual(show(r.ok("a", 1)), ["dispatch a:2#1"]);
  // a is two sub-steps ahead; b still on its first.
  assert.deepEqual(show(r.ok("b", 0)), ["dispatch b:1#1"]);
  // a finishes the pipeline; the barrier step waits for b.
  assert.deepEqual(r.ok("a", 2), []);
  assert.deepEqual(show(r.ok("b", 1)), ["dispatch b:2#1"]);
  assert.deepEqual(show(r.ok("b", 2)), [
    "step 3",
    "dispatch a:3#1",
    "dispatch b:3#1",
  ]);
  r.ok("b", 3);
  assert.deepEqual(show(r.ok("a", 3)), ["finish completed"]);
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "success" },
    1: { a: "success", b: "success" },
    2: { a: "success", b: "success" },
    3: { a: "success", b: "success" },
  });
});

Deno.test("pipeline: a result for a node's later sub-step is ignored until it gets there", () => {
  const r = new Run([P([L("s0"), L("s1")])], { nodes: ["a", "b"] });
  assertIgnored(
    r,
    result("a", 1, "success"),
    "result for a sub-step not dispatched yet",
  );
  r.ok("a", 0);
  assertIgnored(
    r,
    result("a", 0, "success"),
    "duplicate of a decided sub-step",
  );
  assertIgnored(r, result("b", 1, "failed"), "b's sub-step 1 before its 0");
});

// ---- fail-fast ----

Deno.test("fail-fast: after a failure only on_failure/always run; the rest is skipped; the job fails", () => {
  const r = new Run([
    L("deploy"),
    L("next"),
    L("rollback", { condition: "on_failure" }),
    L("report", { condition: "always" }),
    L("announce", { condition: "on_success" }),
  ], { nodes: ["n1", "n2"] });
  // n1 fails while n2 is still running the same step: n2's result still counts.
  assert.deepEqual(r.fail("n1", 0, { error: "disk full" }), []);
  assert.deepEqual(show(r.ok("n2", 0)), [
    "step 1",
    "step 2",
    "dispatch n1:2#1",
    "dispatch n2:2#1",
  ]);
  r.ok("n1", 2);
  assert.deepEqual(show(r.ok("n2", 2)), [
    "step 3",
    "dispatch n1:3#1",
    "dispatch n2:3#1",
  ]);
  r.ok("n1", 3);
  assert.deepEqual(show(r.ok("n2", 3)), ["step 4", "finish failed"]);
  assert.deepEqual(table(r.state), {
    0: { n1: "failed", n2: "success" },
    1: { n1: "skipped", n2: "skipped" },
    2: { n1: "success", n2: "success" },
    3: { n1: "success", n2: "success" },
    4: { n1: "skipped", n2: "skipped" },
  });
  assert.deepEqual(defined(r.outcome(1, "n1")!), {
    status: "skipped",
    attempts: 0,
    durationMs: 0,
  });
  assert.equal(r.state.status, "failed");
  const err = finishes(r.all)[0]!.error ?? "";
  assert.equal(err, r.state.error);
  assert.match(err, /step 0\b/);
  assert.match(err, /n1/);
  assert.match(err, /disk full/);
  assert.match(err, /test deploy/);
  assert.doesNotMatch(err, /n2/);
  // No dispatch of a skipped step ever went out.
  for (const d of dispatches(r.all)) assert.ok(![1, 4].includes(d.leaf.index));
});

Deno.test("fail-fast: README rollback example runs the on_failure pipeline on every node", () => {
  const r = new Run([
    { backend: "apt", action: "install", params: { package: "myapp" } },
    { backend: "systemd", action: "start", params: { unit: "myapp" } },
    P([
      { backend: "apt", action: "remove", params: { package: "myapp" } },
      {
        backend: "ping",
        action: "echo",
        params: { message: "rollback complete" },
      },
    ], { condition: "on_failure" }),
  ], { nodes: ["w1", "w2"] });
  r.ok("w1", 0);
  assert.deepEqual(show(r.fail("w2", 0)), [
    "step 1",
    "step 2",
    "dispatch w1:2#1",
    "dispatch w2:2#1",
  ]);
  assert.deepEqual(show(r.ok("w2", 2)), ["dispatch w2:3#1"]);
  r.ok("w1", 2);
  r.ok("w1", 3);
  r.ok("w2", 3);
  assert.equal(r.state.status, "failed");
  assert.deepEqual(table(r.state), {
    0: { w1: "success", w2: "failed" },
    1: { w1: "skipped", w2: "skipped" },
    2: { w1: "success", w2: "success" },
    3: { w1: "success", w2: "success" },
  });
});

Deno.test("fail-fast in a pipeline: other nodes' in-flight sub-steps keep their real results", () => {
  const r = new Run([
    P([L("s0"), L("s1"), L("cleanup", { condition: "on_failure" })]),
    L("after"),
  ], { nodes: ["a", "b", "c"] });
  assert.deepEqual(show(r.ok("c", 0)), ["dispatch c:1#1"]);
  // a fails: it skips s1 and goes straight to its cleanup.
  assert.deepEqual(show(r.fail("a", 0)), ["dispatch a:2#1"]);
  // b (on s0) and c (on s1) are in flight: nothing may be recorded for them yet.
  assert.equal(r.outcome(0, "b"), undefined);
  assert.equal(r.outcome(1, "c"), undefined);
  // Their real results are recorded when they arrive.
  assert.deepEqual(show(r.ok("b", 0)), ["dispatch b:2#1"]);
  assert.equal(r.outcome(0, "b")!.status, "success");
  assert.deepEqual(show(r.ok("c", 1)), ["dispatch c:2#1"]);
  assert.equal(r.outcome(1, "c")!.status, "success");
  r.ok("a", 2);
  r.ok("b", 2);
  assert.deepEqual(show(r.ok("c", 2)), ["step 3", "finish failed"]);
  assert.deepEqual(table(r.state), {
    0: { a: "failed", b: "success", c: "success" },
    1: { a: "skipped", b: "skipped", c: "success" },
    2: { a: "success", b: "success", c: "success" },
    3: { a: "skipped", b: "skipped", c: "skipped" },
  });
  assert.match(r.state.error ?? "", /step 0 .*on a/);
});

Deno.test("fail-fast in a pipeline: an in-flight failure on another node is recorded as failed", () => {
  const r = new Run([P([L("s0"), L("s1")])], { nodes: ["a", "b"] });
  r.fail("a", 0, { error: "first" });
  r.fail("b", 0, { error: "second" });
  assert.equal(r.state.status, "failed");
  assert.equal(r.outcome(0, "b")!.status, "failed");
  assert.equal(r.outcome(0, "b")!.error, "second");
  assert.deepEqual(table(r.state), {
    0: { a: "failed", b: "failed" },
    1: { a: "skipped", b: "skipped" },
  });
  // The job error names the first failure.
  assert.match(r.state.error ?? "", /first/);
  assert.match(r.state.error ?? "", / a\b/);
});

// ---- continue ----

Deno.test("continue: failed nodes skip later default steps and run on_failure alone; healthy nodes go on", () => {
  const r = new Run([
    L("install"),
    L("configure"),
    L("cleanup", { condition: "on_failure" }),
    L("announce", { condition: "on_success" }),
    L("report", { condition: "always" }),
  ], { strategy: "continue", nodes: ["n1", "n2", "n3"] });
  r.fail("n3", 0);
  r.ok("n1", 0);
  assert.deepEqual(show(r.ok("n2", 0)), [
    "step 1",
    "dispatch n1:1#1",
    "dispatch n2:1#1",
  ]);
  r.ok("n1", 1);
  assert.deepEqual(show(r.fail("n2", 1)), [
    "step 2",
    "dispatch n2:2#1",
    "dispatch n3:2#1",
  ]);
  r.ok("n3", 2);
  assert.deepEqual(show(r.ok("n2", 2)), ["step 3", "dispatch n1:3#1"]);
  assert.deepEqual(show(r.ok("n1", 3)), [
    "step 4",
    "dispatch n1:4#1",
    "dispatch n2:4#1",
    "dispatch n3:4#1",
  ]);
  r.ok("n1", 4);
  r.ok("n2", 4);
  assert.deepEqual(r.ok("n3", 4), [{
    kind: "finish",
    status: "completed",
    error: undefined,
  }]);
  assert.deepEqual(table(r.state), {
    0: { n1: "success", n2: "success", n3: "failed" },
    1: { n1: "success", n2: "failed", n3: "skipped" },
    2: { n1: "skipped", n2: "success", n3: "success" },
    3: { n1: "success", n2: "skipped", n3: "skipped" },
    4: { n1: "success", n2: "success", n3: "success" },
  });
  assert.equal(r.state.status, "completed");
});

Deno.test("continue: the failure-continue scenario (db-01 drops out, web nodes carry on)", () => {
  const r = new Run([L("fail"), L("echo")], {
    strategy: "continue",
    nodes: ["db-01", "web-01", "web-02"],
  });
  r.fail("db-01", 0, { error: "db-01 is broken" });
  r.ok("web-01", 0);
  assert.deepEqual(show(r.ok("web-02", 0)), [
    "step 1",
    "dispatch web-01:1#1",
    "dispatch web-02:1#1",
  ]);
  r.ok("web-01", 1);
  r.ok("web-02", 1);
  assert.equal(r.state.status, "completed");
  assert.deepEqual(table(r.state), {
    0: { "db-01": "failed", "web-01": "success", "web-02": "success" },
    1: { "db-01": "skipped", "web-01": "success", "web-02": "success" },
  });
});

Deno.test("continue: the job fails when every node failed, naming the first failure", () => {
  const r = new Run([L("x"), L("y"), L("z", { condition: "on_failure" })], {
    strategy: "continue",
    nodes: ["a", "b"],
  });
  r.fail("a", 0, { error: "first" });
  assert.deepEqual(show(r.fail("b", 0, { error: "second" })), [
    "step 1",
    "step 2",
    "dispatch a:2#1",
    "dispatch b:2#1",
  ]);
  r.ok("a", 2);
  assert.deepEqual(show(r.ok("b", 2)), ["finish failed"]);
  assert.equal(r.state.status, "failed");
  assert.match(r.state.error ?? "", /every node failed/);
  assert.match(r.state.error ?? "", /step 0 .*on a: first/);
});

Deno.test("continue: a node that fails late still counts as failed; one healthy node completes the job", () => {
  const r = new Run([L("x"), L("y")], {
    strategy: "continue",
    nodes: ["a", "b"],
  });
  r.fail("a", 0);
  r.ok("b", 0);
  r.fail("b", 1);
  assert.equal(r.state.status, "failed");
  const r2 = new Run([L("x"), L("y")], {
    strategy: "continue",
    nodes: ["a", "b"],
  });
  r2.fail("a", 0);
  r2.ok("b", 0);
  r2.ok("b", 1);
  assert.equal(r2.state.status, "completed");
  assert.equal(r2.state.error, undefined);
});

Deno.test("continue in a pipeline: only the failed node runs the on_failure sub-step, at its own pace", () => {
  // scenarios/jobs/pipeline-with-conditions.yaml
  const r = new Run([
    P([
      L("fail"),
      L("echo", { condition: "on_success" }),
      L("cleanup", { condition: "on_failure" }),
    ]),
  ], { strategy: "continue", nodes: ["web-01", "web-02", "db-01"] });
  assert.deepEqual(show(r.fail("web-02", 0)), ["dispatch web-02:2#1"]);
  assert.deepEqual(r.ok("web-02", 2), []);
  assert.deepEqual(show(r.ok("web-01", 0)), ["dispatch web-01:1#1"]);
  assert.deepEqual(r.ok("web-01", 1), []);
  assert.deepEqual(show(r.ok("db-01", 0)), ["dispatch db-01:1#1"]);
  assert.deepEqual(show(r.ok("db-01", 1)), ["finish completed"]);
  assert.deepEqual(table(r.state), {
    0: { "web-02": "failed", "web-01": "success", "db-01": "success" },
    1: { "web-02": "skipped", "web-01": "success", "db-01": "success" },
    2: { "web-02": "success", "web-01": "skipped", "db-01": "skipped" },
  });
});

// ---- conditions ----

Deno.test("conditions: nothing fails → on_success runs, on_failure is skipped", () => {
  const r = new Run([
    L("echo"),
    L("succeed", { condition: "on_success" }),
    L("never", { condition: "on_failure" }),
  ]);
  r.ok("a", 0);
  assert.deepEqual(show(r.ok("b", 0)), [
    "step 1",
    "dispatch a:1#1",
    "dispatch b:1#1",
  ]);
  r.ok("a", 1);
  assert.deepEqual(show(r.ok("b", 1)), ["step 2", "finish completed"]);
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "success" },
    1: { a: "success", b: "success" },
    2: { a: "skipped", b: "skipped" },
  });
  assert.ok(dispatches(r.all).every((d) => d.leaf.index !== 2));
});

Deno.test("conditions: the conditional-cleanup scenario", () => {
  const r = new Run([
    L("echo"),
    L("fail"),
    L("rollback", { condition: "on_failure" }),
    L("announce", { condition: "on_success" }),
  ]);
  r.ok("a", 0);
  r.ok("b", 0);
  r.fail("a", 1);
  r.fail("b", 1);
  r.ok("a", 2);
  r.ok("b", 2);
  assert.equal(r.state.status, "failed");
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "success" },
    1: { a: "failed", b: "failed" },
    2: { a: "success", b: "success" },
    3: { a: "skipped", b: "skipped" },
  });
});

Deno.test("conditions: a pipeline's condition applies to its sub-steps (all skipped, none dispatched)", () => {
  const r = new Run([
    L("x"),
    P([L("p1"), L("p2")], { condition: "on_failure" }),
    L("y"),
  ]);
  r.ok("a", 0);
  assert.deepEqual(show(r.ok("b", 0)), [
    "step 1",
    "step 3",
    "dispatch a:3#1",
    "dispatch b:3#1",
  ]);
  r.ok("a", 3);
  r.ok("b", 3);
  assert.equal(r.state.status, "completed");
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "success" },
    1: { a: "skipped", b: "skipped" },
    2: { a: "skipped", b: "skipped" },
    3: { a: "success", b: "success" },
  });
});

Deno.test("conditions: an on_success pipeline is skipped after a fail-fast failure", () => {
  const r = new Run([
    L("x"),
    P([L("p1"), L("p2")], { condition: "on_success" }),
    L("y"),
  ]);
  r.fail("a", 0);
  assert.deepEqual(show(r.ok("b", 0)), ["step 1", "step 3", "finish failed"]);
  assert.deepEqual(table(r.state)[1], { a: "skipped", b: "skipped" });
  assert.deepEqual(table(r.state)[2], { a: "skipped", b: "skipped" });
});

Deno.test("conditions: sub-steps inherit the pipeline's condition unless they set their own", () => {
  const tasks = [
    L("deploy"),
    P([
      L("undo"), // inherits on_failure
      L("notify", { condition: "always" }),
      L("verify", { condition: "on_success" }),
    ], { condition: "on_failure" }),
  ];
  // Nothing failed: undo (inherited on_failure) is skipped, the others run.
  const ok = new Run(tasks, { nodes: ["n"] });
  assert.deepEqual(show(ok.ok("n", 0)), ["step 1", "dispatch n:2#1"]);
  assert.deepEqual(show(ok.ok("n", 2)), ["dispatch n:3#1"]);
  assert.deepEqual(show(ok.ok("n", 3)), ["finish completed"]);
  assert.deepEqual(table(ok.state)[1], { n: "skipped" });

  // deploy failed: undo and notify run, verify is skipped.
  const bad = new Run(tasks, { nodes: ["n"] });
  assert.deepEqual(show(bad.fail("n", 0)), ["step 1", "dispatch n:1#1"]);
  assert.deepEqual(show(bad.ok("n", 1)), ["dispatch n:2#1"]);
  assert.deepEqual(show(bad.ok("n", 2)), ["finish failed"]);
  assert.deepEqual(table(bad.state), {
    0: { n: "failed" },
    1: { n: "success" },
    2: { n: "success" },
    3: { n: "skipped" },
  });
});

Deno.test("conditions: sub-step conditions are evaluated per node, mid-pipeline, under continue", () => {
  const r = new Run([
    P([
      L("s0"),
      L("s1", { condition: "on_success" }),
      L("s2", { condition: "always" }),
    ]),
  ], { strategy: "continue", nodes: ["a", "b"] });
  r.ok("a", 0);
  assert.deepEqual(show(r.fail("a", 1)), ["dispatch a:2#1"]);
  r.ok("b", 0);
  r.ok("b", 1);
  r.ok("b", 2);
  r.ok("a", 2);
  assert.equal(r.state.status, "completed");
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "success" },
    1: { a: "failed", b: "success" },
    2: { a: "success", b: "success" },
  });
});

Deno.test("shouldRun: the documented truth table", () => {
  const conds = [undefined, "on_success", "always", "on_failure"] as const;
  // failed ⇔ timedOut || (fail-fast ? anyFailed : node failed)
  for (const strategy of ["fail-fast", "continue"] as const) {
    for (const anyFailed of [false, true]) {
      for (const nodeFailed of [false, true]) {
        for (const timedOut of [false, true]) {
          const failed = timedOut ||
            (strategy === "fail-fast" ? anyFailed : nodeFailed);
          for (const condition of conds) {
            const want = condition === "always"
              ? true
              : condition === "on_failure"
              ? failed
              : !failed;
            const got = shouldRun(
              { strategy, anyFailed, timedOut },
              { failed: nodeFailed },
              { condition },
            );
            assert.equal(
              got,
              want,
              JSON.stringify({
                strategy,
                anyFailed,
                nodeFailed,
                timedOut,
                condition,
              }),
            );
          }
        }
      }
    }
  }
});

// ---- retries ----

Deno.test("retries: a failed attempt is re-dispatched to that node only, after 1s, 2s, 4s", () => {
  const r = new Run([L("flaky", { max_retries: 3 }), L("next")], {
    nodes: ["a", "b"],
  });
  const leaf0 = r.leaf(0);
  assert.deepEqual(r.fail("a", 0, { t: 1000 }), [
    {
      kind: "dispatch",
      node: "a",
      leaf: leaf0,
      attempt: 2,
      notBefore: T0 + 1000 + 1000,
    },
  ]);
  // Nothing is recorded for a retried attempt.
  assert.equal(r.outcome(0, "a"), undefined);
  assert.deepEqual(r.fail("a", 0, { attempt: 2, t: 5000 }), [
    {
      kind: "dispatch",
      node: "a",
      leaf: leaf0,
      attempt: 3,
      notBefore: T0 + 5000 + 2000,
    },
  ]);
  assert.deepEqual(r.fail("a", 0, { attempt: 3, t: 9000 }), [
    {
      kind: "dispatch",
      node: "a",
      leaf: leaf0,
      attempt: 4,
      notBefore: T0 + 9000 + 4000,
    },
  ]);
  assert.deepEqual(r.ok("a", 0, { attempt: 4, t: 14_000 }), []);
  assert.equal(r.outcome(0, "a")!.status, "success");
  assert.equal(r.outcome(0, "a")!.attempts, 4);
  // b was never re-dispatched; the next phase starts at attempt 1 for both.
  assert.deepEqual(show(r.ok("b", 0)), [
    "step 1",
    "dispatch a:1#1",
    "dispatch b:1#1",
  ]);
  assert.equal(r.outcome(0, "b")!.attempts, 1);
  assert.ok(
    dispatches(r.all).filter((d) => d.node === "b").every((d) =>
      d.attempt === 1
    ),
  );
  r.ok("a", 1);
  r.ok("b", 1);
  assert.equal(r.state.status, "completed");
});

Deno.test("retries: when retries run out the last failure is recorded with its attempt count", () => {
  const r = new Run([
    L("flapping", { max_retries: 2 }),
    L("page", { condition: "on_failure" }),
  ], {
    nodes: ["a", "b"],
  });
  r.ok("b", 0);
  assert.deepEqual(show(r.fail("a", 0, { t: 1000 })), ["dispatch a:0#2"]);
  assert.deepEqual(show(r.fail("a", 0, { attempt: 2, t: 3000 })), [
    "dispatch a:0#3",
  ]);
  assert.deepEqual(
    show(r.fail("a", 0, { attempt: 3, t: 6000, error: "flapping" })),
    [
      "step 1",
      "dispatch a:1#1",
      "dispatch b:1#1",
    ],
  );
  const o = r.outcome(0, "a")!;
  assert.equal(o.status, "failed");
  assert.equal(o.attempts, 3);
  assert.equal(o.error, "flapping");
  assert.equal(o.finishedAt, at(6000));
  assert.equal(o.seq, 4);
});

Deno.test("retries: backoff doubles and is capped at 30s", () => {
  const r = new Run([L("flaky", { max_retries: 8 })], { nodes: ["a"] });
  const waits: number[] = [];
  for (let attempt = 1; attempt <= 8; attempt++) {
    const t = attempt * 100_000;
    const [d] = dispatches(r.fail("a", 0, { attempt, t }));
    assert.equal(d!.attempt, attempt + 1);
    waits.push(d!.notBefore - (T0 + t));
  }
  assert.deepEqual(waits, [
    1000,
    2000,
    4000,
    8000,
    16_000,
    30_000,
    30_000,
    30_000,
  ]);
  assert.deepEqual(show(r.fail("a", 0, { attempt: 9, t: 999_000 })), [
    "finish failed",
  ]);
  assert.equal(r.outcome(0, "a")!.attempts, 9);
});

Deno.test("retries: a failure marked retryable:false is not retried", () => {
  const r = new Run([L("x", { max_retries: 5 })], { nodes: ["a"] });
  assert.deepEqual(
    show(r.fail("a", 0, { retryable: false, error: "bad params" })),
    [
      "finish failed",
    ],
  );
  assert.equal(r.outcome(0, "a")!.attempts, 1);
  assert.equal(r.outcome(0, "a")!.error, "bad params");
  // retryable:true is the same as absent.
  const r2 = new Run([L("x", { max_retries: 1 })], { nodes: ["a"] });
  assert.deepEqual(show(r2.fail("a", 0, { retryable: true })), [
    "dispatch a:0#2",
  ]);
});

Deno.test("retries: max_retries 0 means one attempt; a worker-cancelled attempt is not retried", () => {
  const r = new Run([L("x")], { nodes: ["a"] });
  assert.deepEqual(show(r.fail("a", 0)), ["finish failed"]);
  assert.equal(r.outcome(0, "a")!.attempts, 1);

  const c = new Run([L("x", { max_retries: 3 }), L("y")], { nodes: ["a"] });
  assert.deepEqual(
    show(c.send(result("a", 0, "cancelled", { error: "aborted" }))),
    [
      "step 1",
      "finish failed",
    ],
  );
  assert.equal(c.outcome(0, "a")!.status, "cancelled");
  assert.equal(c.outcome(1, "a")!.status, "skipped");
});

Deno.test("retries in a pipeline: only the failing node waits; the counter resets per sub-step", () => {
  const r = new Run([
    P([L("s0", { max_retries: 2 }), L("s1", { max_retries: 2 })]),
  ], {
    nodes: ["a", "b"],
  });
  assert.deepEqual(show(r.fail("a", 0, { t: 2000 })), ["dispatch a:0#2"]);
  assert.equal(dispatches(r.all).at(-1)!.notBefore, T0 + 3000);
  assert.deepEqual(show(r.ok("b", 0)), ["dispatch b:1#1"]);
  assert.deepEqual(show(r.ok("a", 0, { attempt: 2 })), ["dispatch a:1#1"]);
  assert.equal(r.outcome(0, "a")!.attempts, 2);
  assert.deepEqual(show(r.fail("a", 1, { t: 50_000 })), ["dispatch a:1#2"]);
  assert.equal(dispatches(r.all).at(-1)!.notBefore, T0 + 51_000);
  r.ok("b", 1);
  assert.deepEqual(show(r.ok("a", 1, { attempt: 2 })), ["finish completed"]);
});

// ---- stale, duplicate, foreign ----

Deno.test("stale, duplicate and foreign results change nothing", () => {
  const r = new Run([L("x", { max_retries: 2 }), L("y")], {
    nodes: ["a", "b"],
  });
  r.fail("a", 0, { t: 1000 }); // a now waits for attempt 2
  r.ok("b", 0); // b is done with phase 0
  assertIgnored(
    r,
    result("a", 0, "success"),
    "earlier attempt (1) after a retry",
  );
  assertIgnored(
    r,
    result("a", 0, "failed"),
    "duplicate of the retried failure",
  );
  assertIgnored(
    r,
    result("a", 0, "success", { attempt: 3 }),
    "an attempt not dispatched yet",
  );
  assertIgnored(r, result("a", 1, "success", { attempt: 2 }), "wrong step");
  assertIgnored(r, result("a", 7, "success"), "step that does not exist");
  assertIgnored(
    r,
    result("b", 0, "failed"),
    "duplicate from a node already done",
  );
  assertIgnored(
    r,
    result("b", 1, "success"),
    "next step before the barrier opened",
  );
  assertIgnored(r, result("zz", 0, "failed", { attempt: 2 }), "unknown node");
  // The real attempt 2 is accepted.
  assert.deepEqual(show(r.ok("a", 0, { attempt: 2 })), [
    "step 1",
    "dispatch a:1#1",
    "dispatch b:1#1",
  ]);
  assert.equal(r.outcome(0, "b")!.status, "success");
  // The first outcome of an attempt wins: a second answer for it is ignored.
  r.ok("a", 1);
  assertIgnored(
    r,
    result("a", 1, "failed"),
    "second answer for a decided attempt",
  );
  r.ok("b", 1);
  assert.equal(r.state.status, "completed");
  // After the job is done nothing changes it.
  assertIgnored(r, result("a", 1, "failed"), "result after done");
  assertIgnored(
    r,
    { type: "cancel", job: JOB, at: at(1), reason: "x" },
    "cancel after done",
  );
  assertIgnored(
    r,
    { type: "job_timeout", job: JOB, at: at(1) },
    "timeout after done",
  );
  assert.equal(finishes(r.all).length, 1);
});

Deno.test("events carrying another job's id are ignored", () => {
  const r = new Run([L("x")], { nodes: ["a"], timeoutMs: 1000 });
  assertIgnored(
    r,
    result("a", 0, "failed", { job: "job-2" }),
    "other job's result",
  );
  assertIgnored(
    r,
    { type: "cancel", job: "job-2", at: at(1), reason: "x" },
    "other job's cancel",
  );
  assertIgnored(
    r,
    { type: "job_timeout", job: "job-2", at: at(1) },
    "other job's timeout",
  );
  assert.deepEqual(show(r.ok("a", 0)), ["finish completed"]);
});

// ---- cancel ----

Deno.test("cancel: in-flight attempts become cancelled with aborts; the job ends cancelled", () => {
  const r = new Run([L("x", { max_retries: 1 }), L("y")], {
    nodes: ["a", "b", "c"],
  });
  r.ok("a", 0);
  r.fail("b", 0, { t: 1000 }); // b waits for attempt 2
  const effects = r.cancel("stopped by alice", 2000);
  assert.deepEqual(effects, [
    {
      kind: "abort",
      node: "b",
      step: 0,
      attempt: 2,
      reason: "stopped by alice",
    },
    {
      kind: "abort",
      node: "c",
      step: 0,
      attempt: 1,
      reason: "stopped by alice",
    },
    { kind: "finish", status: "cancelled", error: "stopped by alice" },
  ]);
  assert.equal(r.state.status, "cancelled");
  assert.equal(r.state.error, "stopped by alice");
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "cancelled", c: "cancelled" },
  });
  assert.deepEqual(defined(r.outcome(0, "c")!), {
    status: "cancelled",
    attempts: 1,
    error: "stopped by alice",
    finishedAt: at(2000),
    durationMs: 0,
    seq: 3,
  });
  assert.equal(r.outcome(0, "b")!.attempts, 2);
  // Later events change nothing.
  assertIgnored(r, result("c", 0, "success"), "result after cancel");
  assertIgnored(
    r,
    result("b", 0, "success", { attempt: 2 }),
    "retry result after cancel",
  );
  assertIgnored(
    r,
    { type: "cancel", job: JOB, at: at(9), reason: "again" },
    "second cancel",
  );
  assertIgnored(
    r,
    { type: "job_timeout", job: JOB, at: at(9) },
    "timeout after cancel",
  );
  assert.deepEqual(pendingDispatches(r.state), []);
});

Deno.test("cancel: in a pipeline, nodes between sub-steps or done are not aborted", () => {
  const r = new Run([P([L("s0"), L("s1")]), L("z")], { nodes: ["a", "b"] });
  r.ok("a", 0);
  r.ok("a", 1); // a is done with the pipeline
  assert.deepEqual(show(r.cancel()), ["abort b:0#1", "finish cancelled"]);
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "cancelled" },
    1: { a: "success" },
  });
});

// ---- job timeout ----

Deno.test("job_timeout: in-flight attempts fail with aborts, then only on_failure/always run", () => {
  const r = new Run([
    L("long"),
    L("next"),
    L("cleanup", { condition: "on_failure" }),
    L("report", { condition: "always" }),
    L("announce", { condition: "on_success" }),
  ], { nodes: ["a", "b"], timeoutMs: 90_000 });
  r.ok("a", 0);
  const effects = r.timeout(90_000);
  assert.deepEqual(effects[0], {
    kind: "abort",
    node: "b",
    step: 0,
    attempt: 1,
    reason: "job timed out after 1m30s",
  });
  assert.deepEqual(show(effects), [
    "abort b:0#1",
    "step 1",
    "step 2",
    "dispatch a:2#1",
    "dispatch b:2#1",
  ]);
  assert.equal(r.state.status, "running");
  assert.deepEqual(defined(r.outcome(0, "b")!), {
    status: "failed",
    attempts: 1,
    error: "job timed out after 1m30s",
    finishedAt: at(90_000),
    durationMs: 0,
    seq: 2,
  });
  assert.equal(r.outcome(0, "a")!.status, "success");
  // b's late real answer for the aborted attempt is ignored.
  assertIgnored(
    r,
    result("b", 0, "success", { t: 95_000 }),
    "late result of an aborted attempt",
  );
  r.ok("a", 2);
  assert.deepEqual(show(r.ok("b", 2)), [
    "step 3",
    "dispatch a:3#1",
    "dispatch b:3#1",
  ]);
  r.ok("a", 3);
  assert.deepEqual(show(r.ok("b", 3)), ["step 4", "finish failed"]);
  assert.equal(r.state.status, "failed");
  assert.equal(r.state.error, "job timed out after 1m30s");
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "failed" },
    1: { a: "skipped", b: "skipped" },
    2: { a: "success", b: "success" },
    3: { a: "success", b: "success" },
    4: { a: "skipped", b: "skipped" },
  });
});

Deno.test("job_timeout: inside a pipeline under continue, every node counts as failed", () => {
  const r = new Run([
    P([
      L("s0"),
      L("s1"),
      L("fin", { condition: "always" }),
      L("undo", { condition: "on_failure" }),
    ]),
    L("after"),
  ], { strategy: "continue", nodes: ["a", "b"], timeoutMs: 30_000 });
  r.ok("a", 0);
  assert.deepEqual(show(r.timeout(30_000)), [
    "abort a:1#1",
    "abort b:0#1",
    "dispatch a:2#1",
    "dispatch b:2#1",
  ]);
  r.ok("a", 2);
  r.ok("b", 2);
  r.ok("a", 3);
  assert.deepEqual(show(r.ok("b", 3)), ["step 4", "finish failed"]);
  assert.equal(r.state.error, "job timed out after 30s");
  assert.deepEqual(table(r.state), {
    0: { a: "success", b: "failed" },
    1: { a: "failed", b: "skipped" },
    2: { a: "success", b: "success" },
    3: { a: "success", b: "success" },
    4: { a: "skipped", b: "skipped" },
  });
});

Deno.test("job_timeout: a node waiting for a retry is aborted and not retried", () => {
  const r = new Run([L("x", { max_retries: 3 })], {
    nodes: ["a"],
    timeoutMs: 10_000,
  });
  r.fail("a", 0, { t: 1000 });
  assert.deepEqual(show(r.timeout(10_000)), ["abort a:0#2", "finish failed"]);
  assert.equal(r.outcome(0, "a")!.attempts, 2);
  assert.equal(r.outcome(0, "a")!.error, "job timed out after 10s");
});

Deno.test("job_timeout: a repeated timeout event does not abort the cleanup that followed the first", () => {
  // The runner can publish job_timeout again (a retried publish, or a restart
  // that re-arms the job's timer): it must not kill the on_failure/always steps.
  const r = new Run([L("long"), L("cleanup", { condition: "on_failure" })], {
    nodes: ["a"],
    timeoutMs: 60_000,
  });
  assert.deepEqual(show(r.timeout(60_000)), [
    "abort a:0#1",
    "step 1",
    "dispatch a:1#1",
  ]);
  assertIgnored(
    r,
    { type: "job_timeout", job: JOB, at: at(61_000) },
    "second job_timeout",
  );
  assert.deepEqual(show(r.ok("a", 1, { t: 62_000 })), ["finish failed"]);
  assert.equal(r.outcome(1, "a")!.status, "success");
});

Deno.test("the scenario retry-and-timeout: retries, a worker timeout, then on_failure", () => {
  const r = new Run([
    L("fail", { max_retries: 2 }),
    L("sleep", { timeout: "1s", condition: "always" }),
    L("page", { condition: "on_failure" }),
  ], { nodes: ["web-01", "web-02"] });
  r.ok("web-02", 0);
  r.fail("web-01", 0, { t: 1000 });
  r.fail("web-01", 0, { attempt: 2, t: 2100 });
  assert.deepEqual(show(r.fail("web-01", 0, { attempt: 3, t: 4200 })), [
    "step 1",
    "dispatch web-01:1#1",
    "dispatch web-02:1#1",
  ]);
  assert.equal(r.leaf(1).timeoutMs, 1000);
  r.fail("web-01", 1, { error: "timed out after 1s", retryable: false });
  r.fail("web-02", 1, { error: "timed out after 1s", retryable: false });
  r.ok("web-01", 2);
  r.ok("web-02", 2);
  assert.equal(r.state.status, "failed");
  assert.deepEqual(table(r.state), {
    0: { "web-01": "failed", "web-02": "success" },
    1: { "web-01": "failed", "web-02": "failed" },
    2: { "web-01": "success", "web-02": "success" },
  });
  assert.equal(r.outcome(0, "web-01")!.attempts, 3);
  assert.equal(r.outcome(0, "web-02")!.attempts, 1);
});

// ---- restart: replay and pending dispatches ----

/** A log exercising pipelines, retries, stale results and a failure. */
function scriptedLog(): { tasks: Phase[]; opts: Opts; events: JobEvent[] } {
  const tasks = [
    P([L("s0", { max_retries: 2 }), L("s1")]),
    L("barrier"),
    L("cleanup", { condition: "on_failure" }),
  ];
  const events: JobEvent[] = [
    result("a", 0, "failed", { t: 1000 }),
    result("b", 0, "success", { t: 1100 }),
    result("a", 0, "failed", { t: 1200 }), // stale duplicate of attempt 1
    result("c", 0, "success", { t: 1300 }),
    result("c", 1, "success", { t: 1400 }),
    result("a", 0, "success", { attempt: 2, t: 3000 }),
    result("b", 1, "failed", { t: 3100, error: "b broke" }),
    result("a", 1, "success", { t: 3200 }),
    result("zz", 1, "success", { t: 3300 }), // unknown node
    result("a", 3, "success", { t: 4000 }),
    result("b", 3, "success", { t: 4100 }),
  ];
  return { tasks, opts: { nodes: ["a", "b", "c"], keepOutput: true }, events };
}

function replay(tasks: Phase[], opts: Opts, events: JobEvent[]) {
  const { state, effects } = startJob(init(tasks, opts));
  const all = [...effects];
  events.forEach((ev, i) => all.push(...applyEvent(state, ev, i + 1)));
  return { state, effects: all };
}

Deno.test("replay: the same log into a fresh state yields identical state and effects", () => {
  const { tasks, opts, events } = scriptedLog();
  const one = replay(tasks, opts, events);
  const two = replay(tasks, opts, events);
  assert.deepEqual(two.state, one.state);
  assert.deepEqual(two.effects, one.effects);
  // And the same as the live run that produced the log.
  const live = new Run(tasks, opts);
  for (const ev of events) live.send(ev);
  assert.deepEqual(live.state, one.state);
  assert.deepEqual(live.all, one.effects);
  // Sanity: the log got somewhere interesting.
  assert.equal(one.state.phase, 2);
  assert.equal(one.state.status, "running");
  assert.equal(one.state.results.get(0)!.get("a")!.attempts, 2);
  assert.match(one.state.firstFailure ?? "", /b broke/);
});

Deno.test("replay: every prefix of the log replays to the same state as the live run", () => {
  const { tasks, opts, events } = scriptedLog();
  const live = new Run(tasks, opts);
  for (let n = 0; n <= events.length; n++) {
    if (n > 0) live.send(events[n - 1]!);
    const { state } = replay(tasks, opts, events.slice(0, n));
    assert.deepEqual(state, live.state, `after ${n} events`);
    assert.deepEqual(
      pendingDispatches(state),
      pendingDispatches(live.state),
      `pending after ${n}`,
    );
  }
});

Deno.test("pendingDispatches: after a replay, exactly the in-flight attempts, retries with their notBefore", () => {
  const tasks = [P([L("s0", { max_retries: 2 }), L("s1")]), L("after")];
  const opts: Opts = { nodes: ["a", "b", "c"] };
  const events: JobEvent[] = [
    result("a", 0, "failed", { t: 1000 }), // a: attempt 2 waits until +1s
    result("b", 0, "success", { t: 1100 }), // b: on s1
    result("c", 0, "success", { t: 1200 }),
    result("c", 1, "success", { t: 1300 }), // c: done with the pipeline
  ];
  const { state } = replay(tasks, opts, events);
  const leaves = state.phases[0]!.leaves;
  const byNode = (e: Effect[]) =>
    [...e].sort((
      x,
      y,
    ) => ((x as { node: string }).node < (y as { node: string }).node
      ? -1
      : 1)
    );
  assert.deepEqual(byNode(pendingDispatches(state)), [
    {
      kind: "dispatch",
      node: "a",
      leaf: leaves[0],
      attempt: 2,
      notBefore: T0 + 2000,
    },
    { kind: "dispatch", node: "b", leaf: leaves[1], attempt: 1, notBefore: 0 },
  ]);
  // Before any event: the first step's dispatches, exactly as startJob sent them.
  const fresh = replay(tasks, opts, []);
  assert.deepEqual(pendingDispatches(fresh.state), dispatches(fresh.effects));
  // Pending dispatches do not change the state (calling it twice is the same).
  assert.deepEqual(pendingDispatches(state), pendingDispatches(state));
});

Deno.test("pendingDispatches: a retry waiting after a replay keeps its notBefore, then clears", () => {
  const tasks = [L("x", { max_retries: 1 })];
  const opts: Opts = { nodes: ["a", "b"] };
  const { state } = replay(tasks, opts, [
    result("a", 0, "failed", { t: 7000 }),
    result("b", 0, "success", { t: 7100 }),
  ]);
  assert.deepEqual(pendingDispatches(state).map((e) => show([e])[0]), [
    "dispatch a:0#2",
  ]);
  assert.equal(
    (pendingDispatches(state)[0] as { notBefore: number }).notBefore,
    T0 + 8000,
  );
  applyEvent(state, result("a", 0, "success", { attempt: 2, t: 9000 }), 3);
  assert.equal(state.status, "completed");
  assert.deepEqual(pendingDispatches(state), []);
});
