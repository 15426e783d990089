/**
 * The runner's time-based decisions, as plain functions of state: which
 * jobs are past their timeout, which nodes are lost, which commands to send
 * again. The runner calls `sweep` every tick and carries out its effects;
 * nothing here reads a clock or touches NATS.
 */
import type { NodeRecord } from "../models/node.ts";
import type { JobTimeoutEvent, ResumeEvent } from "../models/messages.ts";
import { iso } from "../lib/clock.ts";
import { formatDuration } from "../models/duration.ts";
import type { Sent } from "./active.ts";
import { isOnline } from "./targets.ts";

export interface SweepConfig {
  offlineAfterMs: number;
  /** A command not taken (or passed without an outcome) this long is sent again. */
  redeliverAfterMs: number;
  /** A command whose publish failed is tried again after this. */
  retryPublishMs: number;
}

/** Liveness thresholds from the one setting operators tune. */
export function sweepConfig(offlineAfterMs: number): SweepConfig {
  return {
    offlineAfterMs,
    redeliverAfterMs: Math.max(2000, offlineAfterMs / 2),
    retryPublishMs: 1000,
  };
}

export type SweepEffect =
  | { kind: "job_timeout"; job: string }
  /** A rollout's pause is over: start batch `batch` (from 1). */
  | { kind: "next_batch"; job: string; batch: number }
  | { kind: "node_lost"; job: string; node: string; error: string }
  | { kind: "republish"; job: string; node: string }
  | {
    kind: "resend";
    job: string;
    node: string;
    step: number;
    /** Not taken by the node, or taken and passed without an outcome. */
    why: "missed" | "passed";
  };

/** The job-wide event a timer effect has the owner append to the job's log. */
export function controlEvent(
  e: Extract<SweepEffect, { kind: "job_timeout" | "next_batch" }>,
  now: number,
): JobTimeoutEvent | ResumeEvent {
  const base = { job: e.job, at: iso(now) };
  return e.kind === "job_timeout"
    ? { type: "job_timeout", ...base }
    : { type: "resume", ...base, batch: e.batch, reason: "pause over" };
}

/** What the sweep reads of a running job. */
export interface SweepJob {
  readonly record: { readonly id: string };
  readonly timeoutAt?: number;
  readonly timeoutSent?: boolean;
  /** A rollout waiting out a pause: `dueAt` ends it; `batch` is the last run (from 0). */
  readonly state?: {
    readonly rollout?: { readonly batch: number; readonly dueAt?: number };
  };
  /** The batch (from 1) whose start was asked for already. */
  readonly resumeSent?: number;
  readonly sent: ReadonlyMap<
    string,
    Readonly<Pick<Sent, "step" | "seq" | "sentAt" | "settled" | "retryTimer">>
  >;
}

export interface SweepFacts {
  now: number;
  /** Until then node records may be stale (a restart, an outage): nobody is lost. */
  graceUntil: number;
  nodes: ReadonlyMap<string, NodeRecord>;
}

export function sweep(
  jobs: Iterable<SweepJob>,
  facts: SweepFacts,
  config: SweepConfig,
): SweepEffect[] {
  const { now, graceUntil, nodes } = facts;
  const effects: SweepEffect[] = [];
  for (const a of jobs) {
    const job = a.record.id;
    if (a.timeoutAt !== undefined && now >= a.timeoutAt && !a.timeoutSent) {
      effects.push({ kind: "job_timeout", job });
    }
    const r = a.state?.rollout;
    if (
      r?.dueAt !== undefined && now >= r.dueAt && a.resumeSent !== r.batch + 2
    ) {
      effects.push({ kind: "next_batch", job, batch: r.batch + 2 });
    }
    for (const [node, s] of a.sent) {
      // Decided already, waiting out a backoff, or not sent yet.
      if (s.settled || s.retryTimer !== undefined || s.sentAt === 0) continue;
      const rec = nodes.get(node);
      if (
        now >= graceUntil &&
        !(rec && isOnline(rec, now, config.offlineAfterMs))
      ) {
        const silent = formatDuration(config.offlineAfterMs);
        effects.push({
          kind: "node_lost",
          job,
          node,
          error: `node lost: no heartbeat for ${silent}`,
        });
        continue;
      }
      if (s.seq === -1) {
        if (now - s.sentAt >= config.retryPublishMs) {
          effects.push({ kind: "republish", job, node });
        }
        continue;
      }
      if (s.seq === 0 || now - s.sentAt <= config.redeliverAfterMs) continue;
      // Not taken: the node missed it. Or taken and done with (every
      // command up to resume_seq has an outcome, by the node's account),
      // yet no outcome reached us: it was dropped on the way.
      const missed = (rec?.cmd_seq ?? 0) < s.seq;
      if (missed || (rec?.resume_seq ?? 0) >= s.seq) {
        effects.push({
          kind: "resend",
          job,
          node,
          step: s.step,
          why: missed ? "missed" : "passed",
        });
      }
    }
  }
  return effects;
}

/**
 * Whether the registry can be believed now: the controller's own sentinel
 * write went through it recently. Node heartbeats go through the same
 * bucket; while it is not answering (a JetStream outage, a follower stuck on
 * a lost server), silent nodes say nothing about the nodes.
 */
export function fleetCurrent(
  now: number,
  freshAt: number,
  offlineAfterMs: number,
): boolean {
  return now - freshAt < offlineAfterMs / 2;
}

/**
 * While the registry is not current, and until the nodes have had time to
 * report again after it is, no node is judged lost: the store was down,
 * not the fleet.
 */
export function graceAfterOutage(
  now: number,
  graceUntil: number,
  freshAt: number,
  offlineAfterMs: number,
): number {
  return fleetCurrent(now, freshAt, offlineAfterMs)
    ? graceUntil
    : Math.max(graceUntil, now + offlineAfterMs);
}

/**
 * Our claim on our jobs holds while our heartbeat reaches the store well
 * inside the time after which peers take our jobs over.
 */
export function holdsLease(
  now: number,
  lastBeatOk: number,
  staleMs: number,
): boolean {
  return now - lastBeatOk < staleMs / 2;
}
