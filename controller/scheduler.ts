/**
 * The scheduler's decisions, as plain functions of state. Events come in
 * (task results, cancel, job timeout), effects go out (dispatch, abort,
 * step, finish). No clock, no NATS: the runner feeds it the job's event log
 * in order, so replaying the log after a restart rebuilds the same state.
 *
 * Semantics, per node and per phase:
 * - Phases are barriers: phase N+1 starts when every node is done with N.
 *   Within a phase each node walks its leaves on its own (a pipeline).
 * - A leaf's condition (or its pipeline's) decides whether a node runs it.
 *   "Failed" means: anywhere in the job under fail-fast, on this node under
 *   continue, and always once the job has timed out. `always` runs anyway,
 *   `on_failure` runs only when failed, no condition or `on_success` runs
 *   only when not. A node that does not run a leaf gets `skipped`.
 * - A failed attempt is retried on that node alone, after a backoff, while
 *   retries remain and the failure is retryable.
 * - With a rollout, the nodes walk all of the above batch by batch
 *   (rollout_run.ts decides between batches); without, in one batch.
 */
import type { JobEvent, ResultEvent } from "../models/messages.ts";
import { formatDuration } from "../models/duration.ts";
import { backoffMs, type Leaf } from "./plan.ts";
import type {
  Effect,
  JobInit,
  JobState,
  NodeProgress,
  Outcome,
} from "./job_state.ts";
import * as rollout from "./rollout_run.ts";

export function startJob(
  init: JobInit,
): { state: JobState; effects: Effect[] } {
  const state: JobState = {
    id: init.id,
    strategy: init.strategy,
    timeoutMs: init.timeoutMs,
    phases: init.phases,
    nodes: [...init.nodes],
    ...rollout.startRollout(init),
    now: Number.isFinite(init.startedAt) ? init.startedAt! : 0,
    progress: new Map(init.nodes.map((n) => [n, {
      failed: false,
      sub: 0,
      attempt: 0,
      inflight: false,
      retryAt: 0,
      done: false,
    }])),
    doneCount: 0,
    phase: 0,
    anyFailed: false,
    timedOut: false,
    status: "running",
    results: new Map(),
    keepOutput: init.keepOutput ?? false,
    keepResults: init.keepResults ?? true,
    outputBudget: init.outputBudget ?? Infinity,
    onOutcome: init.onOutcome,
  };
  const effects: Effect[] = [];
  if (state.nodes.length === 0) {
    finish(state, effects, "failed", "no online node matches the target");
  } else {
    startBatch(state, effects);
  }
  return { state, effects };
}

/** Applies one event from the job's log; `seq` is its stream sequence. */
export function applyEvent(s: JobState, ev: JobEvent, seq?: number): Effect[] {
  const effects: Effect[] = [];
  if (s.status !== "running" || ev.job !== s.id) return effects;
  switch (ev.type) {
    case "result":
      onResult(s, ev, seq, effects);
      break;
    case "cancel":
      stopInflight(s, "cancelled", ev.reason, ev.at, seq, effects);
      finish(s, effects, "cancelled", ev.reason);
      break;
    case "job_timeout": {
      // A repeated timeout (a re-sent event) must not abort the cleanup the first one started.
      if (s.timedOut) break;
      const reason = `job timed out after ${formatDuration(s.timeoutMs ?? 0)}`;
      s.timedOut = true;
      stopInflight(
        s,
        "failed",
        reason,
        ev.at,
        seq,
        effects,
        (node, p, leaf) => {
          markFailed(s, p, `step ${leaf.index} on ${node}: ${reason}`);
          p.sub++;
        },
      );
      for (const node of s.batchNodes) {
        const p = s.progress.get(node)!;
        if (!p.done && !p.inflight) advanceNode(s, node, p, effects);
      }
      // Between batches every node is done: this ends the walk, and the job.
      maybeNextPhase(s, effects);
      break;
    }
    case "resume":
      if (rollout.resumes(s, ev)) startBatch(s, effects);
      break;
  }
  return effects;
}

/** Attempts that should be running or waiting now: re-dispatched after a restart. */
export function pendingDispatches(s: JobState): Effect[] {
  if (s.status !== "running") return [];
  const out: Effect[] = [];
  for (const [node, p] of s.progress) {
    if (!p.inflight) continue;
    out.push({
      kind: "dispatch",
      node,
      leaf: currentLeaf(s, p)!,
      attempt: p.attempt,
      notBefore: p.retryAt,
    });
  }
  return out;
}

/** The leaf a node is on, if it is in the middle of one. */
export function currentLeaf(s: JobState, p: { sub: number }): Leaf | undefined {
  return s.phases[s.phase]?.leaves[p.sub];
}

function onResult(
  s: JobState,
  ev: ResultEvent,
  seq: number | undefined,
  effects: Effect[],
): void {
  const p = s.progress.get(ev.node);
  if (!p || !p.inflight) return;
  const leaf = currentLeaf(s, p);
  // Stale, duplicate or foreign results (an earlier attempt, a step already
  // decided) change nothing: the first outcome of the current attempt wins.
  if (!leaf || leaf.index !== ev.step || p.attempt !== ev.attempt) return;
  s.now = rollout.eventTime(ev) ?? s.now;
  if (
    ev.status === "failed" && ev.retryable !== false &&
    p.attempt <= leaf.maxRetries
  ) {
    p.retryAt = Date.parse(ev.finished_at) + backoffMs(p.attempt);
    p.attempt++;
    effects.push({
      kind: "dispatch",
      node: ev.node,
      leaf,
      attempt: p.attempt,
      notBefore: p.retryAt,
    });
    return;
  }
  p.inflight = false;
  p.retryAt = 0;
  let output: string | undefined;
  let data: unknown;
  let outputDropped: true | undefined;
  // Data and output share the budget, and are read back together.
  const size = ev.output.length +
    (ev.data === undefined ? 0 : JSON.stringify(ev.data).length);
  if (s.keepOutput && size > 0) {
    if (size <= s.outputBudget) {
      s.outputBudget -= size;
      output = ev.output || undefined;
      data = ev.data;
    } else outputDropped = true;
  }
  record(s, leaf.index, ev.node, {
    status: ev.status,
    attempts: p.attempt,
    error: ev.error,
    output,
    ...(data !== undefined ? { data } : {}),
    outputDropped,
    startedAt: ev.started_at,
    finishedAt: ev.finished_at,
    durationMs: ev.duration_ms,
    seq,
  });
  if (ev.status !== "success") {
    const what = `${leaf.backend} ${leaf.action}`;
    markFailed(
      s,
      p,
      `step ${leaf.index} (${what}) ${ev.status} on ${ev.node}${
        ev.error ? `: ${ev.error}` : ""
      }`,
    );
  }
  p.sub++;
  advanceNode(s, ev.node, p, effects);
  maybeNextPhase(s, effects);
}

function markFailed(s: JobState, p: NodeProgress, summary: string): void {
  if (!p.failed && s.rollout) s.rollout.failed++;
  p.failed = true;
  if (!s.anyFailed) {
    s.anyFailed = true;
    s.firstFailure = summary;
  }
}

/** Walks the current batch's nodes through the job from its first phase. */
function startBatch(s: JobState, effects: Effect[]): void {
  if (s.rollout) s.batchNodes = s.rollout.batches[s.rollout.batch]!;
  effects.push(...rollout.announce(s));
  s.phase = 0;
  enterPhase(s, effects);
}

function enterPhase(s: JobState, effects: Effect[]): void {
  while (s.phase < s.phases.length) {
    effects.push({ kind: "step", step: s.phases[s.phase]!.first });
    s.doneCount = 0;
    for (const node of s.batchNodes) {
      const p = s.progress.get(node)!;
      p.sub = 0;
      p.attempt = 0;
      p.done = false;
      advanceNode(s, node, p, effects);
    }
    if (!allDone(s)) return;
    s.phase++;
  }
  finishWalk(s, effects);
}

function maybeNextPhase(s: JobState, effects: Effect[]): void {
  if (s.status !== "running" || !allDone(s)) return;
  s.phase++;
  enterPhase(s, effects);
}

function allDone(s: JobState): boolean {
  return s.doneCount === s.batchNodes.length;
}

/** Moves a node to its next leaf that should run, recording skips on the way. */
function advanceNode(
  s: JobState,
  node: string,
  p: NodeProgress,
  effects: Effect[],
): void {
  const leaves = s.phases[s.phase]!.leaves;
  while (p.sub < leaves.length) {
    const leaf = leaves[p.sub]!;
    if (shouldRun(s, p, leaf)) {
      p.attempt = 1;
      p.inflight = true;
      p.retryAt = 0;
      effects.push({ kind: "dispatch", node, leaf, attempt: 1, notBefore: 0 });
      return;
    }
    record(s, leaf.index, node, {
      status: "skipped",
      attempts: 0,
      durationMs: 0,
    });
    p.sub++;
  }
  if (!p.done) s.doneCount++;
  p.done = true;
}

export function shouldRun(
  s: Pick<JobState, "timedOut" | "strategy" | "anyFailed">,
  p: Pick<NodeProgress, "failed">,
  leaf: Pick<Leaf, "condition">,
): boolean {
  const failed = s.timedOut ||
    (s.strategy === "fail-fast" ? s.anyFailed : p.failed);
  switch (leaf.condition) {
    case "always":
      return true;
    case "on_failure":
      return failed;
    default:
      return !failed;
  }
}

function finishWalk(s: JobState, effects: Effect[]): void {
  if (s.rollout && !s.timedOut) {
    const next = rollout.afterBatch(s, s.rollout);
    if (next.kind === "stop") return finish(s, effects, "failed", next.error);
    if (next.kind === "wait") return void effects.push(...rollout.announce(s));
    if (next.kind === "next") return startBatch(s, effects);
  }
  if (s.timedOut) {
    return finish(
      s,
      effects,
      "failed",
      `job timed out after ${formatDuration(s.timeoutMs ?? 0)}`,
    );
  }
  if (s.strategy === "fail-fast") {
    return s.anyFailed
      ? finish(s, effects, "failed", s.firstFailure)
      : finish(s, effects, "completed");
  }
  const survivors = s.nodes.filter((n) => !s.progress.get(n)!.failed);
  if (survivors.length === 0) {
    return finish(
      s,
      effects,
      "failed",
      `every node failed; first: ${s.firstFailure}`,
    );
  }
  finish(s, effects, "completed");
}

function finish(
  s: JobState,
  effects: Effect[],
  status: "completed" | "failed" | "cancelled",
  error?: string,
): void {
  s.status = status;
  s.error = error;
  rollout.endRollout(s, error ?? status);
  effects.push(...rollout.announce(s), { kind: "finish", status, error });
}

function record(s: JobState, step: number, node: string, o: Outcome): void {
  if (!s.keepResults) return;
  let m = s.results.get(step);
  if (!m) s.results.set(step, m = new Map());
  m.set(node, o);
  s.onOutcome?.(step, node, o);
}

/** Ends every attempt in flight with `status`, aborting it on its node. */
function stopInflight(
  s: JobState,
  status: "cancelled" | "failed",
  reason: string,
  at: string,
  seq: number | undefined,
  effects: Effect[],
  then?: (node: string, p: NodeProgress, leaf: Leaf) => void,
): void {
  for (const [node, p] of s.progress) {
    if (!p.inflight) continue;
    const leaf = currentLeaf(s, p)!;
    p.inflight = false;
    record(s, leaf.index, node, {
      status,
      attempts: p.attempt,
      error: reason,
      finishedAt: at,
      durationMs: 0,
      seq,
    });
    effects.push({
      kind: "abort",
      node,
      step: leaf.index,
      attempt: p.attempt,
      reason,
    });
    then?.(node, p, leaf);
  }
}
