/**
 * Turns a submitted task tree into the flat plan the scheduler walks:
 * top-level phases (barriers), each a list of leaves run as a per-node
 * pipeline. A top-level leaf is a pipeline of one.
 */
import {
  type Condition,
  type JobRecord,
  leavesOf,
  type Phase,
} from "../models/job.ts";
import { parseDuration } from "../models/duration.ts";

export interface Leaf {
  /** Flat step index: depth-first over leaves, used as the results key. */
  index: number;
  backend: string;
  action: string;
  params: Record<string, string>;
  timeoutMs?: number;
  maxRetries: number;
  /** The leaf's own condition, else its pipeline's; undefined means default. */
  condition?: Condition;
}

export interface PlanPhase {
  leaves: Leaf[];
  pipeline: boolean;
  /** Flat index of the first leaf. */
  first: number;
}

export function planJob(tasks: readonly Phase[]): PlanPhase[] {
  const phases: PlanPhase[] = tasks.map((p) => ({
    leaves: [],
    pipeline: p.tasks !== undefined,
    first: -1,
  }));
  for (const l of leavesOf(tasks)) {
    const phase = phases[l.phase]!;
    if (phase.leaves.length === 0) phase.first = l.index;
    const t = l.task;
    phase.leaves.push({
      index: l.index,
      backend: t.backend!,
      action: t.action!,
      params: t.params ?? {},
      timeoutMs: t.timeout === undefined ? undefined : parseDuration(t.timeout),
      maxRetries: t.max_retries ?? 0,
      condition: t.condition ?? l.pipeline?.condition,
    });
  }
  return phases;
}

export function countSteps(tasks: readonly Phase[]): number {
  return leavesOf(tasks).length;
}

/** Wait before attempt `failedAttempts + 1`: 1s, 2s, 4s… capped at 30s. */
export function backoffMs(failedAttempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, failedAttempts - 1), 30_000);
}

/**
 * What the scheduler starts a job from, given its record. The runner
 * (keepOutput false) decides from progress alone; views keep outcomes and
 * outputs, which the runner would otherwise hold for every node and step.
 */
export function initFor(rec: JobRecord, keepOutput: boolean) {
  return {
    id: rec.id,
    strategy: rec.strategy,
    timeoutMs: rec.timeout ? parseDuration(rec.timeout) : undefined,
    phases: planJob(rec.tasks),
    nodes: rec.expected,
    rollout: rec.rollout,
    startedAt: Date.parse(rec.started_at ?? rec.created_at),
    keepOutput,
    keepResults: keepOutput,
  };
}
