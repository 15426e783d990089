/**
 * A job's plan (`POST /job/plan`): the target resolved against the fleet
 * as a submit would resolve it now, the checks a submit makes, the batches
 * the scheduler would run and what the failure budget means in nodes.
 * Pure: it reads the fleet and writes nothing, so a plan has no effect.
 */
import { type JobSpec, leavesOf } from "../models/job.ts";
import type { PlanStep, PlanView } from "../models/job_plan.ts";
import type { NodeRecord } from "../models/node.ts";
import type { NodeParams } from "../models/params.ts";
import { batchesOf, failureBudget } from "./rollout.ts";
import { checkAgainstFleet, resolveTarget } from "./targets.ts";

export interface PlanFleet {
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  paramsOf?(id: string): NodeParams | undefined;
}

export function planJob(
  spec: JobSpec,
  fleet: PlanFleet,
  now: number,
  offlineAfterMs: number,
): PlanView {
  const problem = checkAgainstFleet(
    spec,
    fleet.nodes,
    now,
    offlineAfterMs,
    (id) => fleet.paramsOf?.(id),
  );
  // The scheduler batches the online nodes in this (sorted) order too.
  const { online, offline } = resolveTarget(
    fleet.nodes.values(),
    spec.target,
    now,
    offlineAfterMs,
  );
  const canary = spec.rollout?.canary !== undefined;
  return {
    valid: problem === undefined,
    ...(problem === undefined ? {} : { problem }),
    target: spec.target,
    strategy: spec.strategy,
    ...(spec.timeout === undefined ? {} : { timeout: spec.timeout }),
    ...(spec.rollout === undefined ? {} : { rollout: spec.rollout }),
    nodes: online,
    offline,
    steps: leavesOf(spec.tasks).map((l): PlanStep => ({
      step: l.index,
      path: l.path,
      backend: l.task.backend!,
      action: l.task.action!,
      ...(l.task.condition ? { condition: l.task.condition } : {}),
      ...(l.pipeline ? { pipeline: true } : {}),
    })),
    batches: batchesOf(online, spec.rollout).map((nodes, i) => ({
      batch: i + 1,
      nodes,
      ...(canary && i === 0 ? { canary: true } : {}),
    })),
    budget: budgetOf(spec, online.length),
  };
}

function budgetOf(spec: JobSpec, of: number): PlanView["budget"] {
  if (spec.strategy === "fail-fast") {
    return {
      nodes: 0,
      of,
      says: "none: under fail-fast the first failure ends the job",
    };
  }
  const n = failureBudget(of, spec.rollout);
  if (n === Infinity) {
    return {
      nodes: null,
      of,
      says: "any number: under continue every batch runs whatever fails",
    };
  }
  return {
    nodes: n,
    of,
    says: `${n} of ${of} node${of === 1 ? "" : "s"} (max_failures ${
      spec.rollout!.max_failures
    }): once more than ${n} ha${
      n === 1 ? "s" : "ve"
    } failed, no new batch starts and the job ends failed`,
  };
}
