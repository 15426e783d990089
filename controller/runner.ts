/**
 * The runner carries out the scheduler's decisions: it owns the job queue,
 * feeds every job its events from the results stream in order, publishes
 * commands, and watches the clock for timeouts, retries and lost nodes.
 * It is the only writer of job records.
 *
 * Crash safety: a job's state is never stored, only its record and its
 * event log. On start the runner replays the log of every running job from
 * the stream, then re-sends the attempts still open; the command stream's
 * de-duplication and the worker's own ledger keep them from running twice.
 */
import {
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { type JobRecord, type JobSpec, TERMINAL } from "../models/job.ts";
import {
  type AbortCommand,
  type CancelEvent,
  JobEvent,
  type JobTimeoutEvent,
  type ResultEvent,
  type RunCommand,
} from "../models/messages.ts";
import { formatDuration, parseDuration } from "../models/duration.ts";
import type { Clock } from "../lib/clock.ts";
import { iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { encodeJson } from "../lib/nats.ts";
import { STREAM_RESULTS, subjects } from "../lib/topology.ts";
import { conflict, invalid, notFound, queueFull } from "./errors.ts";
import { foldJob, initFor } from "./job_log.ts";
import type { Registry } from "./registry.ts";
import {
  applyEvent,
  type Effect,
  type JobState,
  pendingDispatches,
  startJob,
} from "./scheduler.ts";
import { checkAgainstFleet, resolveTarget } from "./targets.ts";
import type { Leaf } from "./plan.ts";

const log = logger("runner");

export interface RunnerConfig {
  maxConcurrent: number;
  maxPending: number;
  taskTimeoutMs: number;
  offlineAfterMs: number;
  /** How often deadlines are checked. */
  tickMs?: number;
  /** Output bytes one `GET /job/:id` holds in memory before it streams the rest. */
  viewOutputBudget?: number;
}

export interface RunnerDeps {
  nc: NatsConnection;
  jobs: KV;
  registry: Registry;
  clock: Clock;
  config: RunnerConfig;
}

/** One attempt the runner has sent (or will send) to a node. */
interface Sent {
  step: number;
  attempt: number;
  leaf: Leaf;
  /** Command-stream sequence; 0 while unacknowledged, -1 if publishing failed. */
  seq: number;
  sentAt: number;
  sends: number;
  retryTimer?: ReturnType<typeof setTimeout>;
  /** A controller-decided outcome (lost, offline) is on its way. */
  settled?: boolean;
}

interface Active {
  record: JobRecord;
  /** Sequence of the last event applied. */
  lastSeq: number;
  state: JobState;
  sent: Map<string, Sent>;
  timeoutAt?: number;
  timeoutSent?: boolean;
  cancelSent?: boolean;
  waiters: (() => void)[];
}

export class Runner {
  #deps: RunnerDeps;
  #js: JetStreamClient;
  #jsm?: JetStreamManager;
  #index = new Map<string, JobRecord>();
  /** Job ids in creation order (ids sort by creation time). */
  #order: string[] = [];
  #queue: string[] = [];
  #active = new Map<string, Active>();
  #replaying = true;
  #catchUpTo = 0;
  #lastSeen = 0;
  #tick?: ReturnType<typeof setInterval>;
  #stopConsumer?: () => void;
  #saves = new Map<string, Promise<unknown>>();
  #lastId = { ms: 0, n: 0 };
  /** Until then, node records may be stale from before a restart: no node is judged lost. */
  #graceUntil = 0;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.#js = jetstream(deps.nc);
  }

  get config(): RunnerConfig {
    return this.#deps.config;
  }

  async start(): Promise<void> {
    this.#graceUntil = this.#deps.clock.now() +
      this.#deps.config.offlineAfterMs;
    await this.#loadRecords();
    const jsm = await jetstreamManager(this.#deps.nc);
    const last = (await jsm.streams.info(STREAM_RESULTS)).state.last_seq;
    this.#lastSeen = last;
    let from = last + 1;
    for (const rec of this.#index.values()) {
      if (rec.status !== "running") continue;
      const { state, effects } = startJob(initFor(rec, false));
      const a = this.#activate(rec, state);
      this.#handle(a, effects);
      from = Math.min(from, (rec.res_seq ?? 0) + 1);
    }
    this.#catchUpTo = last;
    await this.#consume(from);
    if (from > last) this.#finishReplay();
    this.#tick = setInterval(
      () => this.#sweep(),
      this.#deps.config.tickMs ?? 250,
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.#tick);
    this.#stopConsumer?.();
    for (const a of this.#active.values()) {
      for (const s of a.sent.values()) clearTimeout(s.retryTimer);
    }
    await Promise.allSettled(this.#saves.values());
  }

  // ---- API-facing operations ----

  async submit(spec: JobSpec): Promise<JobRecord> {
    if (this.#queue.length >= this.#deps.config.maxPending) {
      throw queueFull(
        `queue full: ${this.#queue.length} jobs already pending (scheduler.max_pending)`,
      );
    }
    const now = this.#deps.clock.now();
    const problem = checkAgainstFleet(
      spec,
      this.#deps.registry.nodes,
      now,
      this.#deps.config.offlineAfterMs,
    );
    if (problem) throw invalid(problem);
    const preview = resolveTarget(
      this.#deps.registry.nodes.values(),
      spec.target,
      now,
      this.#deps.config.offlineAfterMs,
    );
    const rec: JobRecord = {
      id: this.#newId(now),
      target: spec.target,
      strategy: spec.strategy,
      ...(spec.timeout ? { timeout: spec.timeout } : {}),
      tasks: spec.tasks,
      status: "pending",
      step: 0,
      expected: preview.online,
      offline: preview.offline,
      created_at: iso(now),
      updated_at: iso(now),
    };
    await this.#deps.jobs.create(rec.id, encodeJson(rec));
    this.#index.set(rec.id, rec);
    this.#order.push(rec.id);
    this.#queue.push(rec.id);
    // The answer shows the job as submitted, even if it starts at once.
    const submitted = { ...rec };
    this.#pump();
    return submitted;
  }

  async cancel(id: string): Promise<JobRecord> {
    const rec = this.#index.get(id);
    if (!rec) throw notFound(`job "${id}" not found`);
    if (TERMINAL.has(rec.status)) {
      throw conflict(`job "${id}" is already ${rec.status}`);
    }
    if (rec.status === "pending") {
      this.#queue = this.#queue.filter((q) => q !== id);
      const now = this.#deps.clock.now();
      Object.assign(rec, {
        status: "cancelled",
        error: "cancelled before it started",
        updated_at: iso(now),
        finished_at: iso(now),
      });
      await this.#save(rec);
      return rec;
    }
    const a = this.#active.get(id)!;
    const done = new Promise<void>((r) => a.waiters.push(r));
    if (!a.cancelSent) {
      a.cancelSent = true;
      const ev: CancelEvent = {
        type: "cancel",
        job: id,
        at: iso(this.#deps.clock.now()),
        reason: "cancelled by request",
      };
      await this.#js.publish(subjects.control(id), encodeJson(ev));
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    return rec;
  }

  record(id: string): JobRecord | undefined {
    return this.#index.get(id);
  }

  /**
   * Scheduler state with outputs, rebuilt from the job's log. Outputs past
   * `viewOutputBudget` bytes are left in the stream, to be read by
   * `loadOutput` while the answer is written.
   */
  async results(rec: JobRecord): Promise<JobState> {
    const untilSeq = this.#active.get(rec.id)?.lastSeq ?? rec.res_last ?? 0;
    return await foldJob(
      this.#js,
      rec,
      true,
      this.#deps.config.viewOutputBudget ?? 64 << 20,
      untilSeq,
    );
  }

  async loadOutput(seq: number): Promise<string> {
    this.#jsm ??= await jetstreamManager(this.#deps.nc);
    const m = await this.#jsm.streams.getMessage(STREAM_RESULTS, { seq });
    return m ? (m.json<ResultEvent>().output ?? "") : "";
  }

  /** Newest first, `before` an id (exclusive), optionally one status. */
  list(opts: { limit: number; before?: string; status?: string }): {
    jobs: JobRecord[];
    next?: string;
  } {
    const out: JobRecord[] = [];
    for (let i = this.#order.length - 1; i >= 0; i--) {
      const id = this.#order[i]!;
      if (opts.before !== undefined && id >= opts.before) continue;
      const rec = this.#index.get(id)!;
      if (opts.status && rec.status !== opts.status) continue;
      if (out.length === opts.limit) return { jobs: out, next: out.at(-1)!.id };
      out.push(rec);
    }
    return { jobs: out };
  }

  counts(): {
    byStatus: Record<string, number>;
    running: number;
    pending: number;
  } {
    const byStatus: Record<string, number> = {};
    for (const r of this.#index.values()) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    }
    return {
      byStatus,
      running: this.#active.size,
      pending: this.#queue.length,
    };
  }

  // ---- start-up ----

  async #loadRecords(): Promise<void> {
    const keys = await this.#deps.jobs.keys();
    const ids: string[] = [];
    for await (const k of keys) ids.push(k);
    await Promise.all(ids.map(async (id) => {
      const e = await this.#deps.jobs.get(id);
      if (e && e.operation === "PUT") this.#index.set(id, e.json<JobRecord>());
    }));
    this.#order = [...this.#index.keys()].sort();
    this.#queue = this.#order.filter((id) =>
      this.#index.get(id)!.status === "pending"
    );
  }

  async #consume(from: number): Promise<void> {
    const c = await this.#js.consumers.get(STREAM_RESULTS, {
      filter_subjects: subjects.allResults,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    const msgs = await c.consume();
    this.#stopConsumer = () => msgs.stop();
    (async () => {
      for await (const m of msgs) {
        this.#lastSeen = m.seq;
        const a = this.#active.get(m.subject.split(".")[2]!);
        if (a) {
          const ev = JobEvent.safeParse(m.json());
          if (ev.success) {
            a.lastSeq = m.seq;
            this.#handle(a, applyEvent(a.state, ev.data, m.seq));
          } else log.warn("ignoring malformed event", { subject: m.subject });
        }
        if (this.#replaying && m.seq >= this.#catchUpTo) this.#finishReplay();
      }
    })().catch((e) =>
      log.error("results consumer ended", { error: String(e) })
    );
  }

  #finishReplay(): void {
    if (!this.#replaying) return;
    this.#replaying = false;
    for (const a of this.#active.values()) {
      this.#handle(a, pendingDispatches(a.state));
    }
    if (this.#active.size > 0) {
      log.info("resumed running jobs", { jobs: this.#active.size });
    }
    this.#pump();
  }

  // ---- the queue ----

  #pump(): void {
    if (this.#replaying) return;
    while (
      this.#active.size < this.#deps.config.maxConcurrent &&
      this.#queue.length > 0
    ) {
      const rec = this.#index.get(this.#queue.shift()!);
      if (rec?.status === "pending") this.#begin(rec);
    }
  }

  #begin(rec: JobRecord): void {
    const now = this.#deps.clock.now();
    const { online, offline } = resolveTarget(
      this.#deps.registry.nodes.values(),
      rec.target,
      now,
      this.#deps.config.offlineAfterMs,
    );
    Object.assign(rec, {
      status: "running",
      expected: online,
      offline,
      started_at: iso(now),
      updated_at: iso(now),
      // Every event of this job comes after what the consumer has seen.
      res_seq: this.#lastSeen,
    });
    const { state, effects } = startJob(initFor(rec, false));
    const a = this.#activate(rec, state);
    // The record must say "running" before any command goes out.
    this.#save(rec).then(() => this.#handle(a, effects));
  }

  #activate(rec: JobRecord, state: JobState): Active {
    const a: Active = {
      record: rec,
      lastSeq: rec.res_seq ?? 0,
      state,
      sent: new Map(),
      waiters: [],
    };
    const timeoutMs = rec.timeout ? parseDuration(rec.timeout) : undefined;
    if (timeoutMs !== undefined && rec.started_at) {
      a.timeoutAt = Date.parse(rec.started_at) + timeoutMs;
    }
    this.#active.set(rec.id, a);
    return a;
  }

  // ---- effects ----

  #handle(a: Active, effects: Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case "dispatch":
          if (!this.#replaying) this.#dispatch(a, e);
          break;
        case "abort":
          this.#clearSent(a, e.node);
          if (!this.#replaying) this.#abort(a, e);
          break;
        case "step":
          if (a.record.step !== e.step) {
            a.record.step = e.step;
            a.record.updated_at = iso(this.#deps.clock.now());
            this.#save(a.record);
          }
          break;
        case "finish":
          this.#finish(a, e.status, e.error);
          break;
      }
    }
  }

  #dispatch(a: Active, e: Extract<Effect, { kind: "dispatch" }>): void {
    this.#clearSent(a, e.node);
    const s: Sent = {
      step: e.leaf.index,
      attempt: e.attempt,
      leaf: e.leaf,
      seq: 0,
      sentAt: 0,
      sends: 0,
    };
    a.sent.set(e.node, s);
    const wait = e.notBefore - this.#deps.clock.now();
    if (wait > 0) {
      s.retryTimer = setTimeout(() => {
        s.retryTimer = undefined;
        if (a.sent.get(e.node) === s) this.#send(a, e.node, s);
      }, wait);
      return;
    }
    this.#send(a, e.node, s);
  }

  #send(a: Active, node: string, s: Sent): void {
    const now = this.#deps.clock.now();
    if (now >= this.#graceUntil && !this.#deps.registry.isOnline(node, now)) {
      s.settled = true;
      this.#decide(a, node, s, "node is offline", false);
      return;
    }
    const timeoutMs = s.leaf.timeoutMs ?? this.#deps.config.taskTimeoutMs;
    const cmd: RunCommand = {
      type: "run",
      job: a.record.id,
      step: s.step,
      attempt: s.attempt,
      backend: s.leaf.backend,
      action: s.leaf.action,
      params: s.leaf.params,
      timeout_ms: timeoutMs,
      issued_at: iso(now),
    };
    s.sentAt = now;
    s.sends++;
    const key = `${a.record.id}.${s.step}.${node}.${s.attempt}`;
    this.#js.publish(subjects.command(node), encodeJson(cmd), {
      // The first send is de-duplicated by the stream across a controller
      // restart; a deliberate re-send needs a fresh id to get through.
      msgID: s.sends === 1 ? key : `${key}.r${s.sends}`,
    }).then((ack) => {
      s.seq = ack.seq;
    }, (err) => {
      s.seq = -1;
      log.warn("publishing a command failed; will retry", {
        node,
        error: String(err),
      });
    });
  }

  #abort(a: Active, e: Extract<Effect, { kind: "abort" }>): void {
    const cmd: AbortCommand = {
      type: "abort",
      job: a.record.id,
      step: e.step,
      attempt: e.attempt,
      reason: e.reason,
    };
    this.#js.publish(subjects.command(e.node), encodeJson(cmd)).catch((err) =>
      log.warn("publishing an abort failed", {
        node: e.node,
        error: String(err),
      })
    );
  }

  /** Publishes an outcome the controller decided, to be applied in log order. */
  #decide(
    a: Active,
    node: string,
    s: Sent,
    error: string,
    retryable: boolean,
  ): void {
    const now = iso(this.#deps.clock.now());
    const ev: ResultEvent = {
      type: "result",
      job: a.record.id,
      step: s.step,
      node,
      attempt: s.attempt,
      status: "failed",
      output: "",
      error,
      retryable,
      finished_at: now,
      duration_ms: 0,
      by: "controller",
    };
    this.#js.publish(subjects.result(a.record.id, s.step, node), encodeJson(ev))
      .catch((err) => {
        s.settled = false;
        log.warn("publishing a decision failed; will retry", {
          node,
          error: String(err),
        });
      });
  }

  #clearSent(a: Active, node: string): void {
    const s = a.sent.get(node);
    if (s) clearTimeout(s.retryTimer);
    a.sent.delete(node);
  }

  #finish(a: Active, status: JobRecord["status"], error?: string): void {
    const now = iso(this.#deps.clock.now());
    Object.assign(a.record, {
      status,
      updated_at: now,
      finished_at: now,
      res_last: a.lastSeq,
    });
    if (error) a.record.error = error;
    for (const node of [...a.sent.keys()]) this.#clearSent(a, node);
    this.#active.delete(a.record.id);
    this.#save(a.record).then(() => {
      for (const w of a.waiters) w();
    });
    log.info("job finished", {
      job: a.record.id,
      status,
      ...(error ? { error } : {}),
    });
    this.#pump();
  }

  // ---- the clock ----

  #sweep(): void {
    if (this.#replaying) return;
    const now = this.#deps.clock.now();
    const { registry, config } = this.#deps;
    const redeliverAfter = Math.max(2000, config.offlineAfterMs / 2);
    for (const a of this.#active.values()) {
      if (a.timeoutAt !== undefined && now >= a.timeoutAt && !a.timeoutSent) {
        a.timeoutSent = true;
        const ev: JobTimeoutEvent = {
          type: "job_timeout",
          job: a.record.id,
          at: iso(now),
        };
        this.#js.publish(subjects.control(a.record.id), encodeJson(ev)).catch(
          () => {
            a.timeoutSent = false;
          },
        );
      }
      for (const [node, s] of a.sent) {
        if (s.settled || s.retryTimer !== undefined || s.sentAt === 0) continue;
        if (now >= this.#graceUntil && !registry.isOnline(node, now)) {
          s.settled = true;
          const silent = formatDuration(config.offlineAfterMs);
          this.#decide(
            a,
            node,
            s,
            `node lost: no heartbeat for ${silent}`,
            false,
          );
          continue;
        }
        const taken = registry.nodes.get(node)?.cmd_seq ?? 0;
        if (
          s.seq === -1 ||
          (s.seq > 0 && taken < s.seq && now - s.sentAt > redeliverAfter)
        ) {
          log.info("re-sending a command the node has not taken", {
            node,
            step: s.step,
          });
          this.#send(a, node, s);
        }
      }
    }
  }

  // ---- records ----

  /** Writes a record; writes to one job are chained so they land in order. */
  #save(rec: JobRecord): Promise<unknown> {
    const prev = this.#saves.get(rec.id) ?? Promise.resolve();
    const next = prev.then(() => this.#deps.jobs.put(rec.id, encodeJson(rec)))
      .catch((e) =>
        log.error("saving a job record failed", {
          job: rec.id,
          error: String(e),
        })
      );
    this.#saves.set(rec.id, next);
    next.then(() => {
      if (this.#saves.get(rec.id) === next) this.#saves.delete(rec.id);
    });
    return next;
  }

  /** Ids sort by creation time: 11 hex digits of milliseconds, 5 of sequence. */
  #newId(now: number): string {
    if (now <= this.#lastId.ms) this.#lastId.n++;
    else this.#lastId = { ms: now, n: Math.floor(Math.random() * 0x4000) };
    const id = this.#lastId.ms.toString(16).padStart(11, "0") +
      this.#lastId.n.toString(16).padStart(5, "0");
    if (this.#index.has(id)) return this.#newId(now + 1);
    return id;
  }
}
