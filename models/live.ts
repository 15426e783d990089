/**
 * `GET /job/:id/events`: a job as Server-Sent Events. Each event's `data`
 * is one JSON object of the schema named after its type. Only `result`
 * events carry an `id` (the results-stream sequence of the log event that
 * decided them), so a client resuming with `Last-Event-ID` gets every
 * later result once: a log event's results travel in one SSE event, whole
 * or not at all.
 */
import { z } from "zod";
import { JobRecord, JobStatus, NodeResult } from "./job.ts";

/**
 * The event types. `output` is live task output (chunks of a running
 * task's stdout/stderr, see LiveOutput); clients ignore types they do not
 * know.
 */
export const LIVE_EVENTS = ["status", "result", "output", "end"] as const;
export type LiveEventType = (typeof LIVE_EVENTS)[number];

/**
 * Where the job stands: sent on connecting and on each change. A finished
 * job's final status comes after its last result, just before `end`. A
 * rollout's status is the short form (no per-batch counts), so a new event
 * means the rollout moved: a batch began, it paused or resumed, a node
 * failed, or it stopped.
 */
export const LiveStatus = JobRecord.pick({
  id: true,
  status: true,
  step: true,
  error: true,
  expected: true,
  offline: true,
  created_at: true,
  updated_at: true,
  started_at: true,
  finished_at: true,
  rollout_status: true,
});
export type LiveStatus = z.infer<typeof LiveStatus>;

/** One node's final result of one step, without its output. */
export const LiveResult = NodeResult.omit({ output: true }).extend({
  step: z.number().int(),
  node: z.string(),
});
export type LiveResult = z.infer<typeof LiveResult>;

/** Every result one log event decided (a cancel decides many at once). */
export const LiveResults = z.object({
  seq: z.number().int(),
  results: z.array(LiveResult),
});
export type LiveResults = z.infer<typeof LiveResults>;

/** The job has finished and every result was sent: the stream ends. */
export const LiveEnd = z.object({ status: JobStatus });
export type LiveEnd = z.infer<typeof LiveEnd>;

/**
 * Output of a running task (`output` events). `skipped` stands for lines
 * a slow reader did not get (the connection could not keep up): they are
 * in the result when the task ends.
 */
export const LiveOutput = z.object({
  step: z.number().int(),
  node: z.string(),
  attempt: z.number().int(),
  text: z.string(),
  skipped: z.number().int().optional(),
});
export type LiveOutput = z.infer<typeof LiveOutput>;
