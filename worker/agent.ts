/**
 * The worker agent: takes in this node's commands (intake.ts), runs them
 * one at a time in arrival order and reports each outcome (executor.ts),
 * and keeps the node's record (presence.ts). This module only wires them
 * to the logs (logs.ts: NATS in production, fakes in unit tests) and to a
 * clock, and starts and stops them in order.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { type Cancel, type Clock, systemClock } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { BackendDef, Exec } from "../backends/types.ts";
import { Executor } from "./executor.ts";
import { Intake } from "./intake.ts";
import type { WorkerLogs } from "./logs.ts";
import { openNatsLogs } from "./nats_logs.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { Presence, resumeSeq } from "./presence.ts";

const log = logger("gridw");

interface AgentBase {
  id: string;
  hostname: string;
  groups: string[];
  labels?: Record<string, string>;
  heartbeatMs: number;
  /** Commands older than this are not run when read back from the stream. */
  catchUpWindowMs: number;
  backends: Map<string, BackendDef>;
  exec: Exec;
  /** @default systemClock */
  clock?: Clock;
  /** Counts what this worker does, for `worker.metrics`. */
  metrics?: WorkerMetrics;
}

/** The logs are NATS's on `nc`, or given (unit tests). */
export type AgentOptions =
  & AgentBase
  & ({ nc: NatsConnection } | { logs: WorkerLogs });

interface Parts {
  intake: Intake;
  executor: Executor;
  presence: Presence;
  unfollow?: Cancel;
}

export class Agent {
  #o: AgentOptions;
  #clock: Clock;
  #startedAt: number;
  #parts?: Parts;
  #stopped = false;

  constructor(o: AgentOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#startedAt = this.#clock.now();
  }

  async start(): Promise<void> {
    const o = this.#o;
    const clock = this.#clock;
    const opened = "logs" in o ? o.logs : await openNatsLogs(o.nc, o.id, clock);
    if (this.#stopped) return;
    const nc = "nc" in o ? o.nc : undefined;
    const logs = o.metrics?.watchLogs(
      opened,
      () => !!nc && (nc.isClosed() || nc.isDraining()),
    ) ?? opened;
    const executor = new Executor({
      node: o.id,
      hostname: o.hostname,
      backends: o.backends,
      exec: o.exec,
      results: logs.results,
      clock,
      onLongTask: () => void presence.beat(),
      observer: o.metrics,
    });
    const intake = new Intake({
      node: o.id,
      commands: logs.commands,
      results: logs.results,
      executor,
      clock,
      catchUpWindowMs: o.catchUpWindowMs,
      startedAt: this.#startedAt,
      observer: o.metrics,
    });
    o.metrics?.readQueue(() => executor.state());
    const presence = new Presence({
      id: o.id,
      hostname: o.hostname,
      groups: o.groups,
      ...(o.labels ? { labels: o.labels } : {}),
      backends: o.backends,
      heartbeatMs: o.heartbeatMs,
      startedAt: this.#startedAt,
      nodes: logs.nodes,
      clock,
      state: () => {
        const s = executor.state();
        return {
          cmdSeq: intake.lastSeq,
          resumeSeq: resumeSeq(intake.lastSeq, s.open),
          running: s.running,
          queued: s.queued,
        };
      },
    });
    const parts: Parts = { intake, executor, presence };
    this.#parts = parts;

    const prev = await presence.previous();
    if (prev) {
      // Re-read what was queued but not finished when this worker stopped;
      // what already has an outcome is skipped on the way.
      intake.resumeAfter(prev.resume_seq ?? prev.cmd_seq ?? 0);
      // A task that was running when this worker last stopped was cut short.
      if (prev.running) {
        intake.remember(prev.running);
        await executor.reportInterrupted(prev.running);
      }
    }
    // Stopped while starting: nothing must outlive stop().
    if (this.#stopped) return;
    parts.unfollow = logs.commands.follow({
      delivered: (d) => intake.live(d),
      resync: () => {
        intake.catchUp();
        presence.beat();
      },
    });
    await presence.beat();
    await intake.catchUp();
    presence.keepAlive();
    log.info("worker ready", {
      id: o.id,
      groups: o.groups.join(",") || "-",
      backends: [...o.backends.keys()].join(","),
    });
  }

  /**
   * Drains: takes no new command, lets the running task finish for up to
   * `graceMs` (then aborts it), reports queued tasks as not run, and marks
   * the node offline.
   */
  async stop(
    graceMs = 0,
    reason = "the worker is shutting down",
  ): Promise<void> {
    this.#stopped = true;
    const p = this.#parts;
    if (!p) return;
    p.intake.stop();
    p.presence.stop();
    p.unfollow?.();
    await p.executor.drain(graceMs, reason);
    await p.presence.markOffline();
  }
}
