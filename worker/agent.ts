/**
 * The worker agent: takes in this node's commands, runs them one at a time
 * in arrival order, and reports each outcome on the results stream.
 *
 * Commands arrive as core messages republished from the command stream.
 * Each carries its stream sequence and the sequence of the previous command
 * for this node, so a gap (a message lost while disconnected) is noticed and
 * filled from the stream. A worker that (re)connects catches up from the
 * last sequence it took in.
 */
import {
  DeliverPolicy,
  type JetStreamClient,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type {
  Msg,
  NatsConnection,
  Subscription,
} from "@nats-io/transport-node";
import {
  Command,
  type ResultEvent,
  type RunCommand,
} from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";
import { formatDuration } from "../models/duration.ts";
import { VERSION } from "../models/mod.ts";
import { iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { jetstreamClient, openOrdered } from "../lib/ordered.ts";
import { encodeJson } from "../lib/nats.ts";
import {
  BUCKET_NODES,
  HDR_LAST_SEQUENCE,
  HDR_SEQUENCE,
  STREAM_COMMANDS,
  STREAM_RESULTS,
  subjects,
} from "../lib/topology.ts";
import type { ActionContext, BackendDef, Exec } from "../backends/types.ts";
import { runAction } from "../backends/run.ts";
import { describeBackends } from "../backends/mod.ts";
import { Ledger } from "./ledger.ts";
import { type Arrival, isHistory, mustLookUpOutcome } from "./intake.ts";
import { AckedPublisher } from "../lib/acked.ts";

const log = logger("gridw");

export interface AgentOptions {
  nc: NatsConnection;
  id: string;
  hostname: string;
  groups: string[];
  heartbeatMs: number;
  /** Commands older than this are not run when read back from the stream. */
  catchUpWindowMs: number;
  backends: Map<string, BackendDef>;
  exec: Exec;
}

interface Running {
  cmd: RunCommand;
  ctl: AbortController;
  startedAt: number;
}

export class Agent {
  #o: AgentOptions;
  #js: JetStreamClient;
  /** Results: acks on one inbox, not one request each. */
  #pub: AckedPublisher;
  #jsm!: JetStreamManager;
  #kv!: KV;
  #lastSeq = 0;
  #ledger = new Ledger();
  #queue: RunCommand[] = [];
  /** Stream sequence of each command taken in, for the resume point. */
  #seqOf = new WeakMap<RunCommand, number>();
  #running?: Running;
  #intake: Promise<void> = Promise.resolve();
  #sub?: Subscription;
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopping = false;
  #startedMs = Date.now();
  #startedAt = iso(this.#startedMs);
  #idle: Promise<void> = Promise.resolve();
  #idleResolve?: () => void;

  constructor(o: AgentOptions) {
    this.#o = o;
    this.#js = jetstreamClient(o.nc);
    this.#pub = new AckedPublisher(o.nc);
  }

  async start(): Promise<void> {
    this.#kv = await this.#openBucket();
    this.#jsm = await jetstreamManager(this.#o.nc);
    const prev = await this.#kv.get(this.#o.id);
    if (prev?.operation === "PUT") {
      const rec = prev.json<NodeRecord>();
      // Re-read what was queued but not finished when this worker stopped;
      // what already has an outcome is skipped on the way.
      this.#lastSeq = rec.resume_seq ?? rec.cmd_seq ?? 0;
      // A task that was running when this worker last stopped was cut short.
      if (rec.running) await this.#reportInterrupted(rec.running);
    }
    this.#sub = this.#o.nc.subscribe(subjects.delivery(this.#o.id), {
      callback: (_err, msg) => {
        this.#serial(() => this.#onLive(msg));
      },
    });
    await this.#heartbeat();
    await this.#serial(() => this.#catchUp());
    this.#timers.push(
      setInterval(() => this.#heartbeat(), this.#o.heartbeatMs),
    );
    (async () => {
      for await (const s of this.#o.nc.status()) {
        if (s.type === "reconnect") {
          log.info("reconnected; catching up on commands");
          this.#serial(() => this.#catchUp());
          this.#heartbeat();
        } else if (s.type === "disconnect") {
          log.warn("disconnected from NATS; reconnecting");
        }
      }
    })().catch(() => {});
    log.info("worker ready", {
      id: this.#o.id,
      groups: this.#o.groups.join(",") || "-",
      backends: [...this.#o.backends.keys()].join(","),
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
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    this.#sub?.unsubscribe();
    const queued = this.#queue;
    this.#queue = [];
    await Promise.all(
      queued.map((cmd) => this.#report(this.#notRun(cmd, reason))),
    );
    if (this.#running) {
      log.info("waiting for the running task to finish", {
        job: this.#running.cmd.job,
      });
    }
    const abort = setTimeout(() => this.#running?.ctl.abort(reason), graceMs);
    await Promise.race([
      this.#idle,
      new Promise((r) => setTimeout(r, graceMs + 10_000)),
    ]);
    clearTimeout(abort);
    await this.#kv.put(this.#o.id, encodeJson(this.#record("offline"))).catch(
      () => {},
    );
  }

  #notRun(cmd: RunCommand, reason: string): ResultEvent {
    const now = iso(Date.now());
    return {
      type: "result",
      job: cmd.job,
      step: cmd.step,
      node: this.#o.id,
      attempt: cmd.attempt,
      status: "failed",
      output: "",
      error: `not run: ${reason}`,
      retryable: true,
      finished_at: now,
      duration_ms: 0,
      by: "worker",
    };
  }

  // ---- intake ----

  /** Runs intake steps one after another, so sequences are taken in order. */
  #serial(fn: () => Promise<void> | void): Promise<void> {
    this.#intake = this.#intake.then(fn).catch((e) =>
      log.error("command intake failed", { error: String(e) })
    );
    return this.#intake;
  }

  async #onLive(msg: Msg): Promise<void> {
    const seq = Number(msg.headers?.get(HDR_SEQUENCE));
    if (!Number.isSafeInteger(seq) || seq <= 0) return;
    if (seq <= this.#lastSeq) {
      // Mostly the live copy of a command catch-up has taken, which the
      // ledger drops. One the ledger does not know was passed over without
      // being taken (the resume point moved past it somehow): dropping it
      // would leave its job waiting for a re-send, if one ever comes.
      await this.#take(seq, msg.data, "late");
      return;
    }
    const prev = Number(msg.headers?.get(HDR_LAST_SEQUENCE) || 0);
    if (prev > this.#lastSeq) await this.#catchUp(prev);
    await this.#take(seq, msg.data, "live");
  }

  /**
   * Reads this node's commands after the last one taken, up to `upTo`
   * (default: the newest command for this node). The stopping rule is a
   * sequence, not the consumer's pending count, which can lag a message the
   * server has just stored.
   */
  async #catchUp(upTo?: number): Promise<void> {
    if (this.#stopping) return;
    const end = upTo ?? await this.#newestCommand();
    if (end <= this.#lastSeq) return;
    const c = await openOrdered(this.#js, STREAM_COMMANDS, {
      filter_subjects: subjects.command(this.#o.id),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#lastSeq + 1,
    });
    while (this.#lastSeq < end) {
      const batch = await c.fetch({ max_messages: 256, expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        if (m.seq > this.#lastSeq && m.seq <= end) {
          await this.#take(m.seq, m.data, "stream");
        }
        // Done: left alone, the fetch would wait out its expiry for more,
        // holding up every command behind it.
        if (m.seq >= end) {
          batch.stop();
          return;
        }
      }
      if (got === 0) {
        // What is left is taken when it comes live; a command lost here is
        // one the controller re-sends (our resume point is past it).
        log.warn("catching up on commands stopped short", {
          at: this.#lastSeq,
          newest: end,
        });
        break;
      }
    }
  }

  async #newestCommand(): Promise<number> {
    try {
      const m = await this.#jsm.streams.getMessage(STREAM_COMMANDS, {
        last_by_subj: subjects.command(this.#o.id),
      });
      return m?.seq ?? 0;
    } catch {
      return 0;
    }
  }

  async #take(seq: number, data: Uint8Array, arrival: Arrival): Promise<void> {
    this.#lastSeq = Math.max(this.#lastSeq, seq);
    let cmd: Command;
    try {
      const parsed = Command.safeParse(
        JSON.parse(new TextDecoder().decode(data)),
      );
      if (!parsed.success) throw new Error(parsed.error.message);
      cmd = parsed.data;
    } catch (e) {
      log.warn("ignoring a malformed command", { seq, error: String(e) });
      return;
    }
    const key = Ledger.key(cmd.job, cmd.step, cmd.attempt);
    // An abort is applied however it arrives, late too: applying one twice
    // changes nothing.
    if (cmd.type === "abort") {
      this.#ledger.add(key);
      this.#queue = this.#queue.filter((q) =>
        Ledger.key(q.job, q.step, q.attempt) !== key
      );
      const r = this.#running?.cmd;
      if (r && Ledger.key(r.job, r.step, r.attempt) === key) {
        this.#running!.ctl.abort(cmd.reason);
      }
      return;
    }
    // The ledger is bounded: what is queued or running is checked as well,
    // so a late or re-sent copy can never run beside the original.
    if (this.#ledger.has(key) || this.#holds(key)) return;
    this.#ledger.add(key);
    const now = Date.now();
    const issuedAt = Date.parse(cmd.issued_at);
    const window = this.#o.catchUpWindowMs;
    if (isHistory(arrival, issuedAt, now, window)) {
      log.info("skipping a command older than the catch-up window", {
        job: cmd.job,
        step: cmd.step,
      });
      return;
    }
    // The ledger starts empty on every start: an attempt that may have
    // reached an earlier run of this worker (read back, out of order,
    // re-sent, or sent before this start) may already have an outcome,
    // reported then or decided by the controller since.
    const lookUp = mustLookUpOutcome({
      arrival,
      resend: cmd.resend === true,
      issuedAt,
      startedAt: this.#startedMs,
      now,
      catchUpWindowMs: window,
    });
    if (lookUp && await this.#hasOutcome(cmd)) {
      // Routine on catch-up after a restart; live, it is a duplicate the
      // ledger alone would have let through.
      (arrival === "stream" ? log.debug : log.info)(
        "skipping a command that already has an outcome",
        { job: cmd.job, step: cmd.step, attempt: cmd.attempt, arrival },
      );
      return;
    }
    if (arrival === "late") {
      log.warn("taking a command delivered behind the resume point", {
        seq,
        job: cmd.job,
        step: cmd.step,
      });
    }
    this.#seqOf.set(cmd, seq);
    this.#queue.push(cmd);
    this.#next();
  }

  /** Whether this attempt is queued or running now. */
  #holds(key: string): boolean {
    const r = this.#running?.cmd;
    if (r && Ledger.key(r.job, r.step, r.attempt) === key) return true;
    return this.#queue.some((q) =>
      Ledger.key(q.job, q.step, q.attempt) === key
    );
  }

  /**
   * Whether the results stream already holds an outcome of this attempt.
   * Right after a restart JetStream may still be recovering; a failed look-up
   * is retried for a while before the task is run anyway, since running it
   * twice is the lesser evil only next to never running it.
   */
  async #hasOutcome(cmd: RunCommand): Promise<boolean> {
    const subject = subjects.result(cmd.job, cmd.step, this.#o.id);
    for (let attempt = 1;; attempt++) {
      try {
        const m = await this.#jsm.streams.getMessage(STREAM_RESULTS, {
          last_by_subj: subject,
        });
        return m !== null &&
          (m.json<ResultEvent>().attempt ?? 0) >= cmd.attempt;
      } catch (e) {
        // "no message found" is an answer: nothing was reported for it.
        if (/no message found/i.test(String(e))) return false;
        if (attempt >= 8 || this.#stopping) {
          log.warn(
            "cannot tell whether a task already ran; running it",
            {
              job: cmd.job,
              step: cmd.step,
              error: String(e),
            },
          );
          return false;
        }
        await new Promise((r) => setTimeout(r, 250 * attempt));
      }
    }
  }

  // ---- running ----

  #next(): void {
    if (this.#running || this.#stopping) return;
    const cmd = this.#queue.shift();
    if (!cmd) return;
    const running: Running = {
      cmd,
      ctl: new AbortController(),
      startedAt: Date.now(),
    };
    this.#running = running;
    this.#idle = new Promise((r) => (this.#idleResolve = r));
    this.#execute(running).finally(() => {
      this.#running = undefined;
      this.#idleResolve?.();
      this.#next();
    });
  }

  async #execute(r: Running): Promise<void> {
    const { cmd, ctl } = r;
    const timeout = setTimeout(
      () => ctl.abort(`timed out after ${formatDuration(cmd.timeout_ms)}`),
      cmd.timeout_ms,
    );
    // Long tasks show up in the node record (and so in `GET /nodes`); short
    // ones finish before this fires and cost no extra write.
    const progress = setTimeout(() => this.#heartbeat(), 250);
    const ctx: ActionContext = {
      signal: ctl.signal,
      exec: this.#o.exec,
      nodeId: this.#o.id,
      hostname: this.#o.hostname,
    };
    log.info("task started", {
      job: cmd.job,
      step: cmd.step,
      attempt: cmd.attempt,
      task: `${cmd.backend} ${cmd.action}`,
    });
    let outcome;
    try {
      outcome = await runAction(this.#o.backends, cmd, ctx);
    } finally {
      clearTimeout(timeout);
      clearTimeout(progress);
    }
    const finished = Date.now();
    const ev: ResultEvent = {
      type: "result",
      job: cmd.job,
      step: cmd.step,
      node: this.#o.id,
      attempt: cmd.attempt,
      status: outcome.status,
      output: outcome.output,
      ...(outcome.error ? { error: outcome.error } : {}),
      retryable: outcome.retryable,
      started_at: iso(r.startedAt),
      finished_at: iso(finished),
      duration_ms: finished - r.startedAt,
      by: "worker",
    };
    log.info("task finished", {
      job: cmd.job,
      step: cmd.step,
      status: ev.status,
      duration: formatDuration(ev.duration_ms),
      ...(ev.error ? { error: ev.error } : {}),
    });
    await this.#report(ev);
  }

  /** Publishes an outcome, retrying until the stream has it. */
  async #report(ev: ResultEvent): Promise<void> {
    const subject = subjects.result(ev.job, ev.step, ev.node);
    const msgID = `${ev.job}.${ev.step}.${ev.node}.${ev.attempt}.w`;
    for (let delay = 250;; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.#pub.send(subject, encodeJson(ev), msgID);
        return;
      } catch (e) {
        if (this.#o.nc.isClosed()) return;
        log.warn("reporting a result failed; retrying", {
          job: ev.job,
          error: String(e),
        });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async #reportInterrupted(
    running: NonNullable<NodeRecord["running"]>,
  ): Promise<void> {
    const key = Ledger.key(running.job, running.step, running.attempt);
    this.#ledger.add(key);
    const now = Date.now();
    await this.#report({
      type: "result",
      job: running.job,
      step: running.step,
      node: this.#o.id,
      attempt: running.attempt,
      status: "failed",
      output: "",
      error: "interrupted: the worker stopped while running this task",
      started_at: running.since,
      finished_at: iso(now),
      duration_ms: Math.max(0, now - Date.parse(running.since)),
      by: "worker",
    });
  }

  // ---- registration ----

  #record(status: "online" | "offline"): NodeRecord {
    const r = this.#running;
    return {
      id: this.#o.id,
      hostname: this.#o.hostname,
      groups: this.#o.groups,
      backends: describeBackends(this.#o.backends),
      status,
      last_seen: new Date().toISOString(),
      started_at: this.#startedAt,
      version: VERSION,
      cmd_seq: this.#lastSeq,
      resume_seq: this.#resumeSeq(),
      ...(r && status === "online"
        ? {
          running: {
            job: r.cmd.job,
            step: r.cmd.step,
            attempt: r.cmd.attempt,
            since: iso(r.startedAt),
          },
        }
        : {}),
      queued: this.#queue.length,
    };
  }

  /** Every command at or below this has an outcome or was never ours to run. */
  #resumeSeq(): number {
    const open = [this.#running?.cmd, ...this.#queue]
      .map((c) => (c ? this.#seqOf.get(c) : undefined))
      .filter((n): n is number => n !== undefined);
    return Math.min(this.#lastSeq, ...open.map((n) => n - 1));
  }

  async #heartbeat(): Promise<void> {
    if (this.#stopping) return;
    try {
      await this.#kv.put(this.#o.id, encodeJson(this.#record("online")));
    } catch (e) {
      log.warn("heartbeat failed", { error: String(e) });
    }
  }

  async #openBucket(): Promise<KV> {
    const kvm = new Kvm(this.#o.nc);
    for (let warned = false;; warned = true) {
      try {
        return await kvm.open(BUCKET_NODES);
      } catch (e) {
        if (!warned) {
          log.warn("waiting for the controller to create the nodes bucket", {
            error: String(e),
          });
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}
