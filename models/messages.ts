/**
 * Messages on the wire between controller and workers. Commands go to one
 * node; task events come back on the results stream and are the job's log.
 */
import { z } from "zod";

export const RunCommand = z.object({
  type: z.literal("run"),
  job: z.string(),
  step: z.number().int(),
  attempt: z.number().int(),
  backend: z.string(),
  action: z.string(),
  params: z.record(z.string(), z.string()),
  timeout_ms: z.number(),
  issued_at: z.string(),
  /**
   * This attempt may have reached the node before (a re-send, or a send by a
   * controller that adopted the job): the worker checks the results stream
   * for an outcome before running it, since its ledger may be from after a
   * restart.
   */
  resend: z.boolean().optional(),
});
export type RunCommand = z.infer<typeof RunCommand>;

export const AbortCommand = z.object({
  type: z.literal("abort"),
  job: z.string(),
  step: z.number().int(),
  attempt: z.number().int(),
  reason: z.string(),
});
export type AbortCommand = z.infer<typeof AbortCommand>;

export const Command = z.discriminatedUnion("type", [RunCommand, AbortCommand]);
export type Command = z.infer<typeof Command>;

/** The outcome of one attempt on one node, from the worker or decided by the controller. */
export const ResultEvent = z.object({
  type: z.literal("result"),
  job: z.string(),
  step: z.number().int(),
  node: z.string(),
  attempt: z.number().int(),
  status: z.enum(["success", "failed", "cancelled"]),
  output: z.string(),
  /**
   * What the action found, as data its schema checked on the worker;
   * within the same cap as `output` (256 KiB for both).
   */
  data: z.unknown().optional(),
  error: z.string().optional(),
  /** False when running it again cannot help (bad params, node lost, job timeout). */
  retryable: z.boolean().optional(),
  started_at: z.string().optional(),
  finished_at: z.string(),
  duration_ms: z.number(),
  by: z.enum(["worker", "controller"]),
});
export type ResultEvent = z.infer<typeof ResultEvent>;

export const CancelEvent = z.object({
  type: z.literal("cancel"),
  job: z.string(),
  at: z.string(),
  reason: z.string(),
});
export type CancelEvent = z.infer<typeof CancelEvent>;

export const JobTimeoutEvent = z.object({
  type: z.literal("job_timeout"),
  job: z.string(),
  at: z.string(),
});
export type JobTimeoutEvent = z.infer<typeof JobTimeoutEvent>;

/**
 * Starts the next batch of a rollout: an operator's approval after the
 * canary, or the owner's timer once a pause is over. It names the batch it
 * starts (from 1), so a repeated one cannot skip a later wait.
 */
export const ResumeEvent = z.object({
  type: z.literal("resume"),
  job: z.string(),
  at: z.string(),
  batch: z.number().int().min(1),
  reason: z.string(),
});
export type ResumeEvent = z.infer<typeof ResumeEvent>;

export const JobEvent = z.discriminatedUnion("type", [
  ResultEvent,
  CancelEvent,
  JobTimeoutEvent,
  ResumeEvent,
]);
export type JobEvent = z.infer<typeof JobEvent>;

/** What a result event says about how an attempt ended. */
export interface AttemptOutcome {
  status: ResultEvent["status"];
  output?: string;
  data?: unknown;
  error?: string;
  retryable?: boolean;
}

/**
 * The one way a result event is built, by a worker or by the controller.
 * Times are epoch milliseconds; without `startedAt` the attempt never ran
 * (not run, node lost) and its duration is zero.
 */
export function resultEvent(
  attempt: { job: string; step: number; attempt: number },
  node: string,
  by: ResultEvent["by"],
  outcome: AttemptOutcome,
  times: { startedAt?: number; finishedAt: number },
): ResultEvent {
  const { finishedAt } = times;
  // A start time read back from a record may be unreadable: then none.
  const startedAt = Number.isFinite(times.startedAt)
    ? times.startedAt
    : undefined;
  return {
    type: "result",
    job: attempt.job,
    step: attempt.step,
    node,
    attempt: attempt.attempt,
    status: outcome.status,
    output: outcome.output ?? "",
    ...(outcome.data !== undefined ? { data: outcome.data } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.retryable !== undefined
      ? { retryable: outcome.retryable }
      : {}),
    ...(startedAt !== undefined
      ? { started_at: new Date(startedAt).toISOString() }
      : {}),
    finished_at: new Date(finishedAt).toISOString(),
    duration_ms: startedAt === undefined
      ? 0
      : Math.max(0, finishedAt - startedAt),
    by,
  };
}

/**
 * A piece of a running task's output, as it comes (stdout and stderr
 * interleaved as read). Chunks of an attempt are numbered from 0; the
 * stored result still holds the attempt's whole (capped) output.
 */
export const OutputChunk = z.object({
  type: z.literal("output"),
  job: z.string(),
  step: z.number().int(),
  node: z.string(),
  attempt: z.number().int(),
  n: z.number().int().min(0),
  text: z.string(),
  /** Streaming stopped here: the attempt's output went past what is streamed. */
  truncated: z.boolean().optional(),
});
export type OutputChunk = z.infer<typeof OutputChunk>;
