/** What a worker tells the fleet about itself (KV `nodes`). */
import { z } from "zod";

export const NodeStatus = z.enum(["online", "offline"]);
export type NodeStatus = z.infer<typeof NodeStatus>;

export const RunningTask = z.object({
  job: z.string(),
  step: z.number().int(),
  attempt: z.number().int(),
  since: z.string(),
});

export const NodeRecord = z.object({
  id: z.string(),
  hostname: z.string(),
  groups: z.array(z.string()),
  /** Backend name → the actions this node can run. */
  backends: z.record(z.string(), z.array(z.string())),
  status: NodeStatus,
  last_seen: z.string(),
  started_at: z.string(),
  version: z.string(),
  /** Highest command-stream sequence the worker has taken in. */
  cmd_seq: z.number().int(),
  /** Every command up to this sequence has an outcome: where a restart resumes. */
  resume_seq: z.number().int().optional(),
  running: RunningTask.optional(),
  queued: z.number().int(),
});
export type NodeRecord = z.infer<typeof NodeRecord>;

/** `GET /nodes` and `GET /node/:id`: the record with liveness judged by the controller. */
export const NodeView = NodeRecord.omit({ cmd_seq: true, resume_seq: true })
  .extend({
    /** `revoked`: its credentials were revoked (`POST /node/:id/revoke`). */
    status: z.enum(["online", "offline", "revoked"]),
  });
export type NodeView = z.infer<typeof NodeView>;

export const StatusView = z.object({
  status: z.literal("active"),
  version: z.string(),
  controller: z.string(),
  nodes: z.object({ total: z.number(), online: z.number() }),
  jobs: z.record(z.string(), z.number()),
  queue: z.object({
    running: z.number(),
    pending: z.number(),
    max_concurrent: z.number(),
    max_pending: z.number(),
  }),
});
export type StatusView = z.infer<typeof StatusView>;
