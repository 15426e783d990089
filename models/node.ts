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
  /**
   * What the node claims (worker.labels); the registry keeps only the pairs
   * its enrollment grants. Absent from workers older than labels.
   */
  labels: z.record(z.string(), z.string()).optional(),
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
  /**
   * Names the description of what this node's actions accept
   * (models/params.ts NodeParams); unchanged while it holds. Absent from
   * workers older than it.
   */
  params_digest: z.string().max(128).optional(),
  /**
   * That description, sent in the first write after the worker starts and
   * now and then after, not in every heartbeat (a controller keeps it).
   * Read with NodeParams on its own, so one a newer worker shapes
   * differently does not make the record unreadable.
   */
  params: z.unknown().optional(),
});
export type NodeRecord = z.infer<typeof NodeRecord>;

/**
 * `GET /nodes` and `GET /node/:id`: the record with liveness judged by the
 * controller. `backends` is a list of names, as the reference's API has it
 * (its dashboard lists them); `actions` says what each backend offers.
 */
export const NodeView = NodeRecord.omit({
  cmd_seq: true,
  resume_seq: true,
  params_digest: true,
  params: true,
})
  .extend({
    backends: z.array(z.string()),
    actions: z.record(z.string(), z.array(z.string())),
    /** `revoked`: its credentials were revoked (`POST /node/:id/revoke`). */
    status: z.enum(["online", "offline", "revoked"]),
  });
export type NodeView = z.infer<typeof NodeView>;

/**
 * A node's identity as enrolled (KV `grid_enroll`, written by controllers
 * only): the groups it may join, its current NATS user and the ones it no
 * longer uses, and whether it was revoked.
 */
export const NodeEnrollment = z.object({
  id: z.string(),
  groups: z.array(z.string()),
  /** The labels it may carry: a claimed pair counts only if it is here. */
  labels: z.record(z.string(), z.string()).optional(),
  /** Public key of its current NATS user. */
  user: z.string(),
  enrolled_at: z.string(),
  enrolled_by: z.string(),
  /** Users of earlier enrollments: revoked when replaced. */
  retired: z.array(z.object({ user: z.string(), at: z.string() })).default(
    [],
  ),
  revoked_at: z.string().optional(),
  revoked_by: z.string().optional(),
});
export type NodeEnrollment = z.infer<typeof NodeEnrollment>;

export const StatusView = z.object({
  /** `degraded`: this controller cannot trust its view now; `reasons` say why. */
  status: z.enum(["active", "degraded"]),
  reasons: z.array(z.string()).optional(),
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
  /**
   * Records read from NATS that were malformed and skipped since this
   * controller started, by where they were (`jobs`, `claims`, `results`…).
   */
  bad_records: z.record(z.string(), z.number()).optional(),
  /** GRID_RES: `problem` says when jobs' results are gone with it. */
  results_stream: z.object({
    created: z.string().optional(),
    first_seq: z.number().optional(),
    last_seq: z.number().optional(),
    problem: z.string().optional(),
  }).optional(),
});
export type StatusView = z.infer<typeof StatusView>;
