/**
 * What a rollout means in nodes: which batches, in which order, and how
 * many nodes may fail. Pure; the scheduler and the plan endpoint share it,
 * so a plan shows exactly the batches a run takes.
 */
import { type Amount, percentOf, type Rollout } from "../models/rollout.ts";

/**
 * `amount` of `total` nodes: a count as is, a percentage rounded down.
 * The epsilon keeps 30% of 10 at 3 despite floating point.
 */
function nodesIn(amount: Amount, total: number): number {
  if (typeof amount === "number") return amount;
  return Math.floor((total * (percentOf(amount) ?? 0)) / 100 + 1e-9);
}

/**
 * The batches `nodeIds` run in, in the order given: the canary batch (if
 * any) first, then batches of `rollout.batch` (a percentage of all the
 * nodes, at least one). Without a rollout every node is in one batch.
 */
export function batchesOf(
  nodeIds: readonly string[],
  rollout?: Rollout,
): string[][] {
  if (nodeIds.length === 0) return [];
  if (!rollout) return [[...nodeIds]];
  const out: string[][] = [];
  let at = 0;
  if (rollout.canary !== undefined) {
    at = Math.min(rollout.canary, nodeIds.length);
    out.push(nodeIds.slice(0, at));
  }
  const size = Math.max(1, nodesIn(rollout.batch, nodeIds.length));
  for (; at < nodeIds.length; at += size) {
    out.push(nodeIds.slice(at, at + size));
  }
  return out;
}

/**
 * How many of `total` nodes may fail before no new batch starts: the
 * budget is spent when more than this have failed. A percentage rounds
 * down; without `max_failures` any number may fail (Infinity).
 */
export function failureBudget(total: number, rollout?: Rollout): number {
  const max = rollout?.max_failures;
  return max === undefined ? Infinity : nodesIn(max, total);
}
