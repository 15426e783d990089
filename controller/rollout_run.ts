/**
 * The scheduler's rollout decisions, as plain functions of its state: what
 * happens when a batch has walked the whole job (the next batch, a wait, or
 * the end), whether a resume event starts a batch, and where the rollout
 * stands. Like Ansible's `serial`, each batch runs every phase, barriers
 * within the batch, before the next batch starts.
 */
import type { JobEvent, ResumeEvent } from "../models/messages.ts";
import type { RolloutStatus } from "../models/rollout.ts";
import { parseDuration } from "../models/duration.ts";
import type { Effect, JobInit, JobState, RolloutState } from "./job_state.ts";
import { batchesOf, failureBudget } from "./rollout.ts";

/** The rollout state a job starts with, and the nodes of its first walk. */
export function startRollout(
  init: JobInit,
): { rollout?: RolloutState; batchNodes: string[] } {
  const r = init.rollout;
  if (!r) return { batchNodes: [...init.nodes] };
  const batches = batchesOf(init.nodes, r);
  return {
    batchNodes: batches[0] ?? [],
    rollout: {
      batches,
      batch: 0,
      canary: r.canary !== undefined,
      pauseMs: r.pause === undefined ? 0 : parseDuration(r.pause) ?? 0,
      budget: failureBudget(init.nodes.length, r),
      failed: 0,
    },
  };
}

/**
 * A batch has walked the job (and the job has not timed out). "end": the
 * job ends as a job without rollout would, judged on every node; "stop":
 * it ends failed with `error`; "next": the next batch is the current one,
 * to start now; "wait": the rollout waits (state says for what).
 */
export function afterBatch(
  s: JobState,
  r: RolloutState,
): { kind: "end" | "next" | "wait" } | { kind: "stop"; error: string } {
  const last = r.batch + 1 >= r.batches.length;
  if (s.strategy === "fail-fast" && s.anyFailed) {
    if (!last) r.stopped = `batch ${r.batch + 1} failed under fail-fast`;
    return { kind: "end" };
  }
  if (r.failed > r.budget) {
    const error =
      `failure budget spent: ${r.failed} of ${s.nodes.length} nodes failed, at most ${r.budget} may; first: ${s.firstFailure}`;
    r.stopped = error;
    return { kind: "stop", error };
  }
  if (last) return { kind: "end" };
  if (r.canary && r.batch === 0) {
    r.waiting = "approval";
    return { kind: "wait" };
  }
  if (r.pauseMs > 0) {
    r.waiting = "timer";
    r.dueAt = s.now + r.pauseMs;
    return { kind: "wait" };
  }
  r.batch++;
  return { kind: "next" };
}

/**
 * Whether `ev` starts the batch the rollout is waiting for; if so, that
 * batch is the current one, and the time is the event's.
 */
export function resumes(s: JobState, ev: ResumeEvent): boolean {
  const r = s.rollout;
  if (r?.waiting === undefined || ev.batch !== r.batch + 2) return false;
  r.batch++;
  r.waiting = undefined;
  r.dueAt = undefined;
  s.now = eventTime(ev) ?? s.now;
  return true;
}

/** The job ended: if batches were left, say why none of them runs. */
export function endRollout(s: JobState, why: string): void {
  const r = s.rollout;
  if (!r) return;
  if (r.waiting !== undefined || r.batch + 1 < r.batches.length) {
    r.stopped ??= why;
  }
  r.waiting = undefined;
  r.dueAt = undefined;
}

/** Tells the runner where the rollout stands (none without a rollout). */
export function announce(s: JobState): Effect[] {
  return s.rollout
    ? [{ kind: "rollout", status: rolloutStatus(s, s.rollout) }]
    : [];
}

/** Time an event happened (ms), or undefined when it does not say. */
export function eventTime(ev: JobEvent): number | undefined {
  const t = Date.parse(ev.type === "result" ? ev.finished_at : ev.at);
  return Number.isFinite(t) ? t : undefined;
}

/**
 * Where the rollout stands. `detail` adds the per-batch counts a view
 * shows; the record keeps the short form.
 */
export function rolloutStatus(
  s: JobState,
  r: RolloutState,
  detail = false,
): RolloutStatus {
  const out: RolloutStatus = {
    batch: Math.min(r.batch + 1, r.batches.length),
    batches: r.batches.length,
    ...(r.waiting === "approval" ? { paused: true } : {}),
    ...(r.dueAt !== undefined
      ? { next_at: new Date(r.dueAt).toISOString() }
      : {}),
    ...(r.stopped !== undefined ? { stopped: r.stopped } : {}),
    failed: r.failed,
    ...(Number.isFinite(r.budget) ? { max_failures: r.budget } : {}),
  };
  if (detail) {
    out.progress = r.batches.map((nodes, i) => batchCounts(s, r, i, nodes));
  }
  return out;
}

function batchCounts(
  s: JobState,
  r: RolloutState,
  i: number,
  nodes: readonly string[],
) {
  let failed = 0;
  let done = 0;
  const walked = i < r.batch || s.phase >= s.phases.length;
  const onLast = i === r.batch && s.phase === s.phases.length - 1;
  for (const n of nodes) {
    const p = s.progress.get(n)!;
    if (p.failed) failed++;
    else if (i <= r.batch && (walked || (onLast && p.done))) done++;
  }
  return {
    nodes: nodes.length,
    done,
    failed,
    pending: nodes.length - done - failed,
  };
}
