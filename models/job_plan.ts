/**
 * `POST /job/plan`: what a job would do if submitted now, judged against
 * the live registry. A plan changes nothing (README, "Plan").
 */
import { z } from "zod";
import { Condition, Strategy, Target } from "./job.ts";
import { Rollout } from "./rollout.ts";

export const PlanStep = z.object({
  /** The flat step index results will be keyed by. */
  step: z.number().int(),
  /** Where it sits in the file: `tasks[1].tasks[0]`. */
  path: z.string(),
  backend: z.string(),
  action: z.string(),
  /** Absent: on_success. */
  condition: Condition.optional(),
  /** Part of a pipeline: each node runs on without waiting for the others. */
  pipeline: z.boolean().optional(),
});
export type PlanStep = z.infer<typeof PlanStep>;

export const PlanBatch = z.object({
  /** From 1, in the order they run. */
  batch: z.number().int(),
  nodes: z.array(z.string()),
  /** The canary batch: the rollout waits for `job resume` after it. */
  canary: z.boolean().optional(),
});
export type PlanBatch = z.infer<typeof PlanBatch>;

export const PlanView = z.object({
  /** Whether `POST /job` would accept it now; if not, `problem` says why. */
  valid: z.boolean(),
  /** What `POST /job` would answer with 400. */
  problem: z.string().optional(),
  target: Target,
  strategy: Strategy,
  timeout: z.string().optional(),
  rollout: Rollout.optional(),
  /** Online nodes the target matches: each runs every step, batch by batch. */
  nodes: z.array(z.string()),
  /** Matched but offline: skipped, never counted as failed. */
  offline: z.array(z.string()),
  steps: z.array(PlanStep),
  batches: z.array(PlanBatch),
  budget: z.object({
    /** Nodes that may fail before no new batch starts; null: any number. */
    nodes: z.number().int().nullable(),
    /** Out of this many (the online nodes). */
    of: z.number().int(),
    /** The budget in words. */
    says: z.string(),
  }),
});
export type PlanView = z.infer<typeof PlanView>;
