/**
 * Every NATS name GRID uses — streams, subjects, KV buckets — and the one
 * function that creates them. Nothing else spells a subject or bucket name.
 *
 * Commands are stored in GRID_CMD and republished by the server to a core
 * subject per node (`grid.run.<node>`), so delivery is a plain fan-out while
 * the stream keeps a sequenced record a worker can catch up from. Task
 * events go to GRID_RES, which is the log each job is replayed from.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";

export const STREAM_COMMANDS = "GRID_CMD";
export const STREAM_RESULTS = "GRID_RES";
export const BUCKET_JOBS = "grid_jobs";
export const BUCKET_NODES = "grid_nodes";
export const BUCKET_CONTROLLERS = "grid_controllers";
/** Create-only ownership claims, one key per job and epoch. */
export const BUCKET_CLAIMS = "grid_claims";
/** API tokens by name, each stored as its SHA-256 hash. */
export const BUCKET_TOKENS = "grid_tokens";
/** Node identities: groups, NATS users, revocations (controllers write it). */
export const BUCKET_ENROLL = "grid_enroll";
/** Checkpoints of the job index, so a controller starts without reading every job. */
export const BUCKET_HISTORY = "grid_history";
/** Where a system-account user pushes an account JWT to every server. */
export const SYS_CLAIMS_UPDATE = "$SYS.REQ.CLAIMS.UPDATE";
/** Who changed what through the API, and refused attempts. */
export const STREAM_AUDIT = "GRID_AUDIT";
/** Running tasks' output, in chunks as it comes: live views and their replay. */
export const STREAM_OUTPUT = "GRID_OUT";

export const subjects = {
  /** Where the controller publishes a node's commands (stored). */
  command: (node: string): string => `grid.cmd.${node}`,
  /** Where the server republishes them and the worker listens (core). */
  delivery: (node: string): string => `grid.run.${node}`,
  /** One attempt's outcome on one node. */
  result: (job: string, step: number, node: string): string =>
    `grid.res.${job}.${step}.${node}`,
  /** Job-wide events: cancel, job timeout. */
  control: (job: string): string => `grid.res.${job}.ctl`,
  /** Every result one node can report (what a worker may publish). */
  nodeResults: (node: string): string => `grid.res.*.*.${node}`,
  /** A running task's output chunks (its attempt's final output is its result). */
  output: (job: string, step: number, node: string): string =>
    `grid.out.${job}.${step}.${node}`,
  /** Every output chunk one node can stream (what a worker may publish). */
  nodeOutput: (node: string): string => `grid.out.*.*.${node}`,
  /** Every output chunk of one job. */
  jobOutput: (job: string): string => `grid.out.${job}.>`,
  allOutput: "grid.out.>",
  /** Every event of one job. */
  jobEvents: (job: string): string => `grid.res.${job}.>`,
  allResults: "grid.res.>",
  allCommands: "grid.cmd.>",
  allDeliveries: "grid.run.>",
  /** One audit entry; `action` is dotted (job.submit). */
  audit: (action: string): string => `grid.audit.${action}`,
  allAudit: "grid.audit.>",
} as const;

/** Headers the server puts on republished messages. */
export const HDR_SEQUENCE = "Nats-Sequence";
export const HDR_LAST_SEQUENCE = "Nats-Last-Sequence";

const NANOS_PER_MS = 1_000_000;
const DAY_MS = 86_400_000;

/**
 * Results and claims outlive a job's record by this much: a job's events
 * are all stored while it runs, and its record is removed `max_age` after
 * it finished, so the results of any job that ran under a week (the
 * longest job timeout) are still there as long as its record is.
 */
export const HISTORY_MARGIN_MS = 7 * DAY_MS;

/** How long results and claims are kept, given `history.max_age`. */
export function keptMs(opts: TopologyOptions): number {
  return (opts.historyMaxAgeMs ?? 30 * DAY_MS) + HISTORY_MARGIN_MS;
}

export interface TopologyOptions {
  /** How long commands stay for workers to catch up on. */
  commandRetentionMs?: number;
  /** How long task events (and so job results) are kept; default: `historyMaxAgeMs` and a week. */
  resultRetentionMs?: number;
  /** `history.max_age`: how long a finished job is kept (default 30 days). */
  historyMaxAgeMs?: number;
  /** How long audit entries are kept. */
  auditRetentionMs?: number;
  /** How long streamed output is kept for replay. */
  outputRetentionMs?: number;
  replicas?: number;
}

export function streamConfigs(
  opts: TopologyOptions = {},
): (Partial<StreamConfig> & { name: string })[] {
  const replicas = opts.replicas ?? 1;
  return [
    {
      name: STREAM_COMMANDS,
      subjects: [subjects.allCommands],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: (opts.commandRetentionMs ?? DAY_MS) * NANOS_PER_MS,
      duplicate_window: 120_000 * NANOS_PER_MS,
      num_replicas: replicas,
      republish: { src: subjects.allCommands, dest: subjects.allDeliveries },
      // Workers read their newest command by subject (direct get), which
      // their permissions can scope to their own subject.
      allow_direct: true,
    },
    {
      name: STREAM_RESULTS,
      subjects: [subjects.allResults],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: (opts.resultRetentionMs ?? keptMs(opts)) * NANOS_PER_MS,
      duplicate_window: 120_000 * NANOS_PER_MS,
      num_replicas: replicas,
      // Workers look up their own earlier outcomes by subject.
      allow_direct: true,
    },
    {
      name: STREAM_AUDIT,
      subjects: [subjects.allAudit],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: (opts.auditRetentionMs ?? 365 * DAY_MS) * NANOS_PER_MS,
      num_replicas: replicas,
    },
    {
      name: STREAM_OUTPUT,
      subjects: [subjects.allOutput],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      // A live view and its replay: a week, and at most 1 GiB, whichever
      // comes first; the final output of every attempt is in its result.
      max_age: (opts.outputRetentionMs ?? 7 * DAY_MS) * NANOS_PER_MS,
      max_bytes: 1 << 30,
      num_replicas: replicas,
    },
  ];
}

/** Creates or updates every stream and bucket; safe to run on every start. */
export async function ensureTopology(
  nc: NatsConnection,
  opts: TopologyOptions = {},
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const cfg of streamConfigs(opts)) {
    // Several controllers may run this at once: add, and if the stream is
    // already there (ours or a peer's), bring its config up to date.
    try {
      await jsm.streams.add(cfg);
    } catch {
      await jsm.streams.update(cfg.name, cfg);
    }
  }
  const kvm = new Kvm(nc);
  for (
    const bucket of [
      BUCKET_JOBS,
      BUCKET_NODES,
      BUCKET_CONTROLLERS,
      BUCKET_CLAIMS,
      BUCKET_TOKENS,
      BUCKET_ENROLL,
      BUCKET_HISTORY,
    ]
  ) {
    await kvm.create(bucket, { history: 1, replicas: opts.replicas ?? 1 });
  }
  // Claims go with their job (controller/retention.ts); any a claimant
  // left past its job's last epoch goes by age.
  const claims = await jsm.streams.info(`KV_${BUCKET_CLAIMS}`);
  const maxAge = keptMs(opts) * NANOS_PER_MS;
  if (claims.config.max_age !== maxAge) {
    await jsm.streams.update(claims.config.name, {
      ...claims.config,
      max_age: maxAge,
    });
  }
}

/**
 * Whether a job event sits on the subject its content names: a result on
 * its own attempt's subject, a cancel or job timeout on its job's control
 * subject. A worker may publish only on its own result subjects, so an
 * event that names another node, or a cancel written on a result subject,
 * is forged, and is not applied.
 */
export function onItsSubject(
  subject: string,
  ev: { type: string; job: string; step?: number; node?: string },
): boolean {
  if (ev.type === "result") {
    return ev.step !== undefined && ev.node !== undefined &&
      subject === subjects.result(ev.job, ev.step, ev.node);
  }
  return subject === subjects.control(ev.job);
}
