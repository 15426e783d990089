/**
 * A job running on this controller: its record as we last wrote it, its
 * scheduler state, and what has been sent to each of its nodes. Shared by
 * the runner's parts; only the runner adds and removes them.
 */
import { type JobRecord, TERMINAL } from "../models/job.ts";
import type { JobEvent } from "../models/messages.ts";
import { parseDuration } from "../models/duration.ts";
import type { Cancel } from "../lib/clock.ts";
import type { Leaf } from "./plan.ts";
import type { JobState } from "./job_state.ts";
import type { Stored } from "./job_store.ts";

/** One attempt sent (or about to be) to a node. */
export interface Sent {
  step: number;
  attempt: number;
  leaf: Leaf;
  /** Command-stream sequence; 0 while unacknowledged, -1 if publishing failed. */
  seq: number;
  sentAt: number;
  /** Deliberate re-sends so far: each needs a fresh message id to get past de-duplication. */
  resends: number;
  /** The node may have had this attempt before (a re-send, or sent before we adopted the job). */
  resend: boolean;
  /** Set while the attempt waits out its retry backoff. */
  retryTimer?: Cancel;
  /** A controller-decided outcome (lost, offline) is on its way. */
  settled?: boolean;
}

export interface Active {
  record: JobRecord;
  rev: number;
  state: JobState;
  /** Sequence of the last event applied. */
  lastSeq: number;
  /** Set while the job's log is replayed: live events wait here. */
  buffer?: [JobEvent, number][];
  sent: Map<string, Sent>;
  timeoutAt?: number;
  timeoutSent?: boolean;
  /** The rollout batch (from 1) this controller asked to start after a pause. */
  resumeSent?: number;
  /** A coalesced record write is due. */
  saveTimer?: Cancel;
}

/** A job starting to run here, from its stored record and fresh state. */
export function activate(s: Stored, state: JobState): Active {
  const record = structuredClone(s.rec);
  const a: Active = {
    record,
    rev: s.rev,
    lastSeq: record.res_seq ?? 0,
    state,
    sent: new Map(),
  };
  const timeoutMs = record.timeout ? parseDuration(record.timeout) : undefined;
  if (timeoutMs !== undefined && record.started_at) {
    a.timeoutAt = Date.parse(record.started_at) + timeoutMs;
  }
  return a;
}

/**
 * Whether a stored record shows the job is no longer ours to run: a later
 * epoch, a final status, or our epoch under another owner.
 */
export function supersedes(rec: JobRecord, a: Active, self: string): boolean {
  const ours = a.record.epoch ?? 0;
  const theirs = rec.epoch ?? 0;
  return theirs > ours || TERMINAL.has(rec.status) ||
    (theirs === ours && rec.owner !== self);
}
