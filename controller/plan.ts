/**
 * Turns a submitted task tree into the flat plan the scheduler walks:
 * top-level phases (barriers), each a list of leaves run as a per-node
 * pipeline. A top-level leaf is a pipeline of one.
 */
import type { Condition, Phase } from "../models/job.ts";
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
  let index = 0;
  const leafOf = (p: Phase, inherited?: Condition): Leaf => ({
    index: index++,
    backend: p.backend!,
    action: p.action!,
    params: p.params ?? {},
    timeoutMs: p.timeout === undefined ? undefined : parseDuration(p.timeout),
    maxRetries: p.max_retries ?? 0,
    condition: p.condition ?? inherited,
  });
  return tasks.map((p) => {
    const first = index;
    if (p.tasks) {
      const leaves = p.tasks.map((sub) => leafOf(sub as Phase, p.condition));
      return { leaves, pipeline: true, first };
    }
    return { leaves: [leafOf(p)], pipeline: false, first };
  });
}

export function countSteps(tasks: readonly Phase[]): number {
  return tasks.reduce((n, p) => n + (p.tasks ? p.tasks.length : 1), 0);
}

/** Wait before attempt `failedAttempts + 1`: 1s, 2s, 4s… capped at 30s. */
export function backoffMs(failedAttempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, failedAttempts - 1), 30_000);
}
