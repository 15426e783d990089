/**
 * The runner carries out the scheduler's decisions for the jobs this
 * controller owns: it claims queued jobs, feeds each running job its events
 * from the results stream in order, publishes commands, and watches the
 * clock for timeouts, retries and lost nodes.
 *
 * Several controllers may share one store. Who runs a job is settled by a
 * create-only claim per ownership epoch (claims.ts), so a pending job starts
 * once and a running job has one owner; the winner then writes the record.
 * When an owner stops heartbeating (or hands its jobs back on SIGTERM), a
 * peer claims the next epoch of its running jobs and adopts them.
 *
 * Crash safety: a job's state is never stored, only its record and its
 * event log. Adopting a job replays its log, then re-sends the attempts
 * still open; the command stream's de-duplication and the worker's ledger
 * keep them from running twice.
 */
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
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
import {
  jetstreamClient,
  openOrdered,
  QUICK_RECOVERY,
  watchStall,
} from "../lib/ordered.ts";
import { encodeJson } from "../lib/nats.ts";
import { STREAM_RESULTS, subjects } from "../lib/topology.ts";
import { conflict, invalid, notFound, queueFull } from "./errors.ts";
import { foldJob, initFor } from "./job_log.ts";
import { AckedPublisher } from "../lib/acked.ts";
import { type JobStore, StaleRecordError, type Stored } from "./job_store.ts";
import { type Claim, claimNext, type ClaimStore } from "./claims.ts";
import type { Peers } from "./peers.ts";
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

/** A command publish that failed (no JetStream) is tried again this often. */
const RETRY_PUBLISH_MS = 1000;

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
  store: JobStore;
  claims: ClaimStore;
  peers: Peers;
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
  /** Deliberate re-sends so far: each needs a fresh message id to get past de-duplication. */
  resends: number;
  /** The node may have had this attempt before (a re-send, or sent before we adopted the job). */
  resend: boolean;
  retryTimer?: ReturnType<typeof setTimeout>;
  /** A controller-decided outcome (lost, offline) is on its way. */
  settled?: boolean;
}

interface Active {
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
  /** A coalesced record write is due. */
  saveTimer?: ReturnType<typeof setTimeout>;
}

export class Runner {
  #deps: RunnerDeps;
  #js: JetStreamClient;
  /** Commands: acks on one inbox, not one request each. */
  #pub: AckedPublisher;
  /** The last command encoded: every node of a step gets the same bytes. */
  #cmd?: { key: string; at: number; body: Uint8Array };
  #jsm!: JetStreamManager;
  #active = new Map<string, Active>();
  #lastSeen = 0;
  /** Events of jobs being claimed, seen before the job is running here. */
  #claiming = new Map<string, [JobEvent, number][]>();
  /** Pending jobs a live peer has claimed but not yet written as running. */
  #heldByPeer = new Set<string>();
  #tick?: ReturnType<typeof setInterval>;
  #peerTick?: ReturnType<typeof setInterval>;
  #stopWatchdog?: () => void;
  #stopConsumer?: () => void;
  #saves = new Map<string, Promise<unknown>>();
  #waiters = new Map<string, (() => void)[]>();
  #lastId = { ms: 0, n: 0 };
  #pumping = false;
  #takingOver = false;
  #pumpAgain = false;
  #stopping = false;
  /** Until then, node records may be stale from before a restart: no node is judged lost. */
  #graceUntil = 0;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.#js = jetstreamClient(deps.nc);
    this.#pub = new AckedPublisher(deps.nc);
  }

  get config(): RunnerConfig {
    return this.#deps.config;
  }

  get id(): string {
    return this.#deps.peers.id;
  }

  async start(): Promise<void> {
    const { store, config, clock } = this.#deps;
    this.#graceUntil = clock.now() + config.offlineAfterMs;
    this.#jsm = await jetstreamManager(this.#deps.nc);
    store.onChange((s) => this.#onRecord(s));
    await this.#consumeLive();
    // Our own running jobs (a restart) and those of controllers that are gone.
    await this.#takeOver();
    this.#tick = setInterval(() => this.#sweep(), config.tickMs ?? 250);
    this.#peerTick = setInterval(() => {
      this.#takeOver();
      // A peer that claimed a pending job may have died before starting it;
      // a fresh look finds its claim dead and takes the next epoch.
      this.#heldByPeer.clear();
      this.#pump(); // also retries claims that failed while JetStream was unavailable
    }, this.#deps.peers.heartbeatMs);
    this.#pump();
  }

  /** Stops; with `release`, hands running jobs back so a peer (or our next start) adopts them. */
  async stop(release = true): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#tick);
    clearInterval(this.#peerTick);
    this.#pub.stop();
    this.#stopWatchdog?.();
    this.#stopConsumer?.();
    for (const a of this.#active.values()) {
      for (const s of a.sent.values()) clearTimeout(s.retryTimer);
      clearTimeout(a.saveTimer);
    }
    await Promise.allSettled(this.#saves.values());
    if (!release) return;
    await Promise.allSettled([...this.#active.values()].map(async (a) => {
      const { owner: _, ...rest } = a.record;
      await this.#deps.store.update({
        ...rest,
        updated_at: iso(this.#deps.clock.now()),
      }, a.rev);
    }));
  }

  // ---- API-facing operations ----

  async submit(spec: JobSpec): Promise<JobRecord> {
    const { store, registry, config, clock } = this.#deps;
    const pending = store.count("pending");
    if (pending >= config.maxPending) {
      throw queueFull(
        `queue full: ${pending} jobs already pending (scheduler.max_pending)`,
      );
    }
    const now = clock.now();
    const problem = checkAgainstFleet(
      spec,
      registry.nodes,
      now,
      config.offlineAfterMs,
    );
    if (problem) throw invalid(problem);
    const preview = resolveTarget(
      registry.nodes.values(),
      spec.target,
      now,
      config.offlineAfterMs,
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
    await store.create(rec);
    this.#pump();
    return rec;
  }

  async cancel(id: string): Promise<JobRecord> {
    const { store, clock } = this.#deps;
    for (let tries = 0; tries < 5; tries++) {
      const s = store.get(id);
      if (!s) throw notFound(`job "${id}" not found`);
      if (TERMINAL.has(s.rec.status)) {
        throw conflict(`job "${id}" is already ${s.rec.status}`);
      }
      if (s.rec.status === "pending" && !this.#heldByPeer.has(id)) {
        // Claimed like a start, so the job cannot start meanwhile; if a peer
        // has claimed it to start, it is cancelled running, through its log.
        const epoch = await this.#claim(s, "cancel");
        if (epoch !== undefined) {
          const now = iso(clock.now());
          const done = await this.#write(
            id,
            epoch,
            (rec) =>
              rec.status === "pending"
                ? {
                  ...rec,
                  status: "cancelled",
                  epoch,
                  error: "cancelled before it started",
                  updated_at: now,
                  finished_at: now,
                }
                : undefined,
          );
          if (done) return done.rec;
          continue;
        }
      }
      // Running (or about to): the owner applies the cancel from the job's log.
      const done = new Promise<void>((r) => this.#waitFor(id, r));
      const ev: CancelEvent = {
        type: "cancel",
        job: id,
        at: iso(clock.now()),
        reason: "cancelled by request",
      };
      await this.#js.publish(subjects.control(id), encodeJson(ev));
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      return store.get(id)!.rec;
    }
    throw conflict(`job "${id}" kept changing; try again`);
  }

  record(id: string): JobRecord | undefined {
    return this.#deps.store.get(id)?.rec;
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
    const m = await this.#jsm.streams.getMessage(STREAM_RESULTS, { seq });
    return m ? (m.json<ResultEvent>().output ?? "") : "";
  }

  /** Newest first, `before` an id (exclusive), optionally one status. */
  list(opts: { limit: number; before?: string; status?: string }): {
    jobs: JobRecord[];
    next?: string;
  } {
    const out: JobRecord[] = [];
    for (const { rec } of this.#deps.store.newestFirst()) {
      if (opts.before !== undefined && rec.id >= opts.before) continue;
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
    const s = this.#deps.store;
    return {
      byStatus: s.counts(),
      running: s.count("running"),
      pending: s.count("pending"),
    };
  }

  /** Running jobs per owner. */
  owners(): Map<string, number> {
    const m = new Map<string, number>();
    for (const { rec } of this.#deps.store.values()) {
      if (rec.status === "running" && rec.owner) {
        m.set(rec.owner, (m.get(rec.owner) ?? 0) + 1);
      }
    }
    return m;
  }

  // ---- events ----

  async #consumeLive(): Promise<void> {
    this.#lastSeen =
      (await this.#jsm.streams.info(STREAM_RESULTS)).state.last_seq;
    this.#followLive();
    // A reader can go quiet without failing (see watchStall): read again.
    this.#stopWatchdog = watchStall(
      async () => (await this.#jsm.streams.info(STREAM_RESULTS)).state.last_seq,
      () => this.#lastSeen,
      (at, last) => {
        log.warn("reading results stalled; reading again", {
          at,
          stream: last,
        });
        this.#stopConsumer?.(); // the reader's loop ends and restarts
      },
    );
  }

  /** Reads every event after the last one seen; if reading stops, starts again from there. */
  #followLive(): void {
    (async () => {
      const c = await openOrdered(this.#js, STREAM_RESULTS, {
        filter_subjects: subjects.allResults,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: this.#lastSeen + 1,
      });
      const msgs = await c.consume(QUICK_RECOVERY);
      this.#stopConsumer = () => msgs.stop();
      for await (const m of msgs) {
        if (m.seq <= this.#lastSeen) continue;
        this.#lastSeen = m.seq;
        const job = m.subject.split(".")[2]!;
        const a = this.#active.get(job);
        // Kept for later: a job being claimed, or being adopted.
        const later = a ? a.buffer : this.#claiming.get(job);
        if (!a && !later) continue;
        const ev = JobEvent.safeParse(m.json());
        if (!ev.success) {
          log.warn("ignoring malformed event", { subject: m.subject });
        } else if (later) {
          later.push([ev.data, m.seq]);
        } else if (a) {
          a.lastSeq = m.seq;
          this.#handle(a, applyEvent(a.state, ev.data, m.seq));
        }
      }
    })().catch((e) => log.warn("reading results stopped", { error: String(e) }))
      .finally(() => {
        if (this.#stopping) return;
        setTimeout(() => this.#followLive(), 500);
      });
  }

  /**
   * Takes over running jobs: replays their logs up to now, then applies
   * what arrived live meanwhile and re-sends the attempts still open.
   */
  async #adopt(jobs: Stored[]): Promise<void> {
    if (jobs.length === 0) return;
    const adopting: Active[] = jobs.map((s) => {
      const { state } = startJob({
        ...initFor(s.rec, false),
        keepResults: false,
      });
      const a = this.#activate(s, state);
      a.buffer = [];
      return a;
    });
    const last = (await this.#jsm.streams.info(STREAM_RESULTS)).state.last_seq;
    const from = Math.min(...adopting.map((a) => a.lastSeq)) + 1;
    if (from <= last) {
      const c = await openOrdered(this.#js, STREAM_RESULTS, {
        filter_subjects: subjects.allResults,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from,
      });
      const msgs = await c.consume(QUICK_RECOVERY);
      // A consumer that goes quiet before `last` (placed on a lost or lagging
      // peer) would hang the adoption: give up and let the next round retry.
      let reached = 0;
      let quiet = setTimeout(() => msgs.stop(), 5000);
      for await (const m of msgs) {
        clearTimeout(quiet);
        quiet = setTimeout(() => msgs.stop(), 5000);
        reached = m.seq;
        const a = this.#active.get(m.subject.split(".")[2]!);
        if (a?.buffer && m.seq > a.lastSeq) {
          const ev = JobEvent.safeParse(m.json());
          if (ev.success) {
            applyEvent(a.state, ev.data, m.seq);
            a.lastSeq = m.seq;
          }
        }
        if (m.seq >= last) break;
      }
      clearTimeout(quiet);
      msgs.stop();
      if (reached < last) {
        throw new Error(`replay stalled at ${reached} of ${last}`);
      }
    }
    for (const a of adopting) {
      const buffered = (a.buffer ?? []).filter(([, seq]) => seq > a.lastSeq);
      a.buffer = undefined;
      const { state } = a;
      if (state.status !== "running") {
        this.#finish(a, state.status, state.error);
        continue;
      }
      const step = state.phases[state.phase]?.first;
      if (step !== undefined && step !== a.record.step) {
        a.record.step = step;
        this.#save(a);
      }
      // Sent before, perhaps, by the owner we took over from.
      this.#handle(a, pendingDispatches(state), true);
      for (const [ev, seq] of buffered) {
        a.lastSeq = seq;
        this.#handle(a, applyEvent(state, ev, seq));
      }
    }
    log.info("adopted running jobs", {
      jobs: adopting.map((a) => a.record.id).join(","),
    });
  }

  /**
   * Claims the running jobs of controllers that are gone, and adopts them
   * along with any of our own that are not running here (an adoption that
   * failed, e.g. while the JetStream cluster was electing a leader).
   */
  async #takeOver(): Promise<void> {
    if (this.#stopping || this.#takingOver) return;
    this.#takingOver = true;
    const { store, peers, clock } = this.#deps;
    const adopt: Stored[] = [];
    try {
      for (const s of [...store.values()]) {
        if (s.rec.status !== "running" || this.#active.has(s.rec.id)) continue;
        if (s.rec.owner === this.id) {
          adopt.push(s);
          continue;
        }
        if (peers.alive(s.rec.owner)) continue;
        const epoch = await this.#claim(s, "run");
        if (epoch === undefined) continue;
        const won = await this.#write(
          s.rec.id,
          epoch,
          (rec) =>
            rec.status === "running"
              ? { ...rec, owner: this.id, epoch, updated_at: iso(clock.now()) }
              : undefined,
        );
        if (!won) continue;
        adopt.push(won);
        log.info("taking over a job", {
          job: s.rec.id,
          from: s.rec.owner ?? "(released)",
          epoch,
        });
      }
      await this.#adopt(adopt);
    } catch (e) {
      // Leave them for the next round; they are ours in the store, not running here.
      for (const s of adopt) {
        if (this.#active.get(s.rec.id)?.buffer) this.#active.delete(s.rec.id);
      }
      log.warn("adopting jobs failed; will retry", { error: String(e) });
    } finally {
      this.#takingOver = false;
    }
  }

  #onRecord(s: Stored): void {
    if (TERMINAL.has(s.rec.status)) {
      const ws = this.#waiters.get(s.rec.id);
      this.#waiters.delete(s.rec.id);
      for (const w of ws ?? []) w();
    }
    this.#heldByPeer.delete(s.rec.id);
    const a = this.#active.get(s.rec.id);
    if (a && !this.#stopping && s.rev > a.rev) {
      if (this.#supersedes(s.rec, a)) this.#fence(a, s.rec.owner);
      // A late write from an earlier epoch: ours stands, and says so again.
      else if (s.rec.owner !== this.id) this.#saveSoon(a);
    }
    if (s.rec.status === "pending" || TERMINAL.has(s.rec.status)) this.#pump();
  }

  /** Whether a stored record shows the job is no longer ours to run. */
  #supersedes(rec: JobRecord, a: Active): boolean {
    const ours = a.record.epoch ?? 0;
    const theirs = rec.epoch ?? 0;
    return theirs > ours || TERMINAL.has(rec.status) ||
      (theirs === ours && rec.owner !== this.id);
  }

  #waitFor(id: string, fn: () => void): void {
    const list = this.#waiters.get(id) ?? [];
    list.push(fn);
    this.#waiters.set(id, list);
  }

  /** Another controller owns this job now: stop running it here. */
  #fence(a: Active, owner: string | undefined): void {
    log.warn("lost ownership of a job", {
      job: a.record.id,
      owner: owner ?? "(none)",
    });
    for (const node of [...a.sent.keys()]) this.#clearSent(a, node);
    clearTimeout(a.saveTimer);
    this.#active.delete(a.record.id);
  }

  // ---- the queue ----

  /** Starts pending jobs, oldest first, while the cluster has room. */
  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const { store, config } = this.#deps;
        for (const id of store.pendingIds()) {
          if (
            this.#stopping || store.count("running") >= config.maxConcurrent
          ) break;
          const next = store.get(id);
          if (next?.rec.status !== "pending" || this.#heldByPeer.has(id)) {
            continue;
          }
          const claimed = await this.#claimPending(next);
          if (claimed) this.#begin(claimed);
        }
      } while (this.#pumpAgain);
    } catch (e) {
      log.error("starting jobs failed", { error: String(e) });
    } finally {
      this.#pumping = false;
    }
  }

  async #claimPending(s: Stored): Promise<Stored | undefined> {
    const { registry, clock, config } = this.#deps;
    const id = s.rec.id;
    // Events of this job (a cancel from a peer) may come in while it is
    // claimed; they are kept from here until it runs. Everything before
    // this point came before any claim, so before the job could start.
    const resSeq = this.#lastSeen;
    this.#claiming.set(id, []);
    let won: Stored | undefined;
    try {
      const epoch = await this.#claim(s, "run");
      if (epoch === undefined) return undefined;
      const now = clock.now();
      const { online, offline } = resolveTarget(
        registry.nodes.values(),
        s.rec.target,
        now,
        config.offlineAfterMs,
      );
      won = await this.#write(id, epoch, (rec) =>
        rec.status === "pending"
          ? {
            ...rec,
            status: "running",
            owner: this.id,
            epoch,
            expected: online,
            offline,
            started_at: iso(now),
            updated_at: iso(now),
            res_seq: resSeq,
          }
          : undefined);
      return won;
    } finally {
      // When it was won, #begin takes the buffer.
      if (!won) this.#claiming.delete(id);
    }
  }

  /** Claims the next epoch of a job for us; undefined when a live peer holds it. */
  async #claim(
    s: Stored,
    purpose: Claim["purpose"],
  ): Promise<number | undefined> {
    const { claims, clock, peers } = this.#deps;
    const epoch = await claimNext(
      claims,
      s.rec.id,
      s.rec.epoch ?? 0,
      { controller: this.id, purpose, at: iso(clock.now()) },
      (c) => peers.alive(c),
    );
    // Until its record changes, leave the job to whoever holds it.
    if (epoch === undefined) this.#heldByPeer.add(s.rec.id);
    return epoch;
  }

  /**
   * Writes the record of a job whose `epoch` we hold. `change` builds it
   * from the stored record, or answers undefined when that no longer allows
   * the change. Only late writes from earlier epochs can be in the way; a
   * record from a later epoch means the job has moved on without us.
   */
  async #write(
    id: string,
    epoch: number,
    change: (rec: JobRecord) => JobRecord | undefined,
  ): Promise<Stored | undefined> {
    const { store } = this.#deps;
    for (let tries = 0; tries < 5; tries++) {
      const cur = store.get(id);
      if (!cur || (cur.rec.epoch ?? 0) > epoch) return undefined;
      // Only this epoch's holder writes it: an earlier try of ours landed.
      if (cur.rec.epoch === epoch) return cur;
      const next = change(cur.rec);
      if (!next) return undefined;
      try {
        return await store.update(next, cur.rev);
      } catch (e) {
        if (!(e instanceof StaleRecordError)) throw e;
      }
    }
    return undefined;
  }

  #begin(s: Stored): void {
    const { state, effects } = startJob({
      ...initFor(s.rec, false),
      keepResults: false,
    });
    const a = this.#activate(s, state);
    const early = this.#claiming.get(s.rec.id) ?? [];
    this.#claiming.delete(s.rec.id);
    this.#handle(a, effects);
    for (const [ev, seq] of early) {
      if (seq <= a.lastSeq || this.#active.get(s.rec.id) !== a) continue;
      a.lastSeq = seq;
      this.#handle(a, applyEvent(a.state, ev, seq));
    }
  }

  #activate(s: Stored, state: JobState): Active {
    const rec = structuredClone(s.rec);
    const a: Active = {
      record: rec,
      rev: s.rev,
      lastSeq: rec.res_seq ?? 0,
      state,
      sent: new Map(),
    };
    const timeoutMs = rec.timeout ? parseDuration(rec.timeout) : undefined;
    if (timeoutMs !== undefined && rec.started_at) {
      a.timeoutAt = Date.parse(rec.started_at) + timeoutMs;
    }
    this.#active.set(rec.id, a);
    return a;
  }

  // ---- effects ----

  #handle(a: Active, effects: Effect[], resend = false): void {
    for (const e of effects) {
      switch (e.kind) {
        case "dispatch":
          this.#dispatch(a, e, resend);
          break;
        case "abort":
          this.#clearSent(a, e.node);
          this.#abort(a, e);
          break;
        case "step":
          // The record's step is for listings; views take it from the log.
          // Writing it once a second at most keeps a record write (and a
          // copy of the job's tasks) off every step of a long job.
          if (a.record.step !== e.step) {
            a.record.step = e.step;
            a.record.updated_at = iso(this.#deps.clock.now());
            this.#saveSoon(a);
          }
          break;
        case "finish":
          this.#finish(a, e.status, e.error);
          break;
      }
    }
  }

  #dispatch(
    a: Active,
    e: Extract<Effect, { kind: "dispatch" }>,
    resend: boolean,
  ): void {
    this.#clearSent(a, e.node);
    const s: Sent = {
      step: e.leaf.index,
      attempt: e.attempt,
      leaf: e.leaf,
      seq: 0,
      sentAt: 0,
      resends: 0,
      resend,
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
    const stored = this.#deps.store.get(a.record.id);
    if (stored && stored.rev > a.rev && this.#supersedes(stored.rec, a)) {
      // The watch has not told us yet, but the job is no longer ours.
      this.#fence(a, stored.rec.owner);
      return;
    }
    if (!this.#holdsLease(now)) {
      // Peers may already count us gone and be taking our jobs: send
      // nothing until our own heartbeat gets through; the sweep retries.
      s.seq = -1;
      s.sentAt = now;
      return;
    }
    if (now >= this.#graceUntil && !this.#deps.registry.isOnline(node, now)) {
      s.settled = true;
      this.#decide(a, node, s, "node is offline", false);
      return;
    }
    const timeoutMs = s.leaf.timeoutMs ?? this.#deps.config.taskTimeoutMs;
    // Every node of a step gets the same command: build and encode it once
    // per batch (same job, step, attempt and timeout, within a second).
    const ck = `${a.record.id}.${s.step}.${s.attempt}.${timeoutMs}.${s.resend}`;
    let body = this.#cmd?.key === ck && now - this.#cmd.at < 1000
      ? this.#cmd.body
      : undefined;
    if (!body) {
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
        ...(s.resend ? { resend: true } : {}),
      };
      body = encodeJson(cmd);
      this.#cmd = { key: ck, at: now, body };
    }
    s.sentAt = now;
    const key = `${a.record.id}.${s.step}.${node}.${s.attempt}`;
    this.#pub.publish(
      subjects.command(node),
      body,
      // The first send is de-duplicated by the stream across a controller
      // restart, and so is a retry of a publish that got no ack (it may have
      // landed); a deliberate re-send needs a fresh id to get through.
      s.resends === 0 ? key : `${key}.r${s.resends}`,
      (seq, err) => {
        s.seq = seq;
        if (err) {
          log.warn("publishing a command failed; will retry", {
            node,
            error: err,
          });
        }
      },
    );
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
    clearTimeout(a.saveTimer);
    this.#active.delete(a.record.id);
    this.#save(a);
    log.info("job finished", {
      job: a.record.id,
      status,
      ...(error ? { error } : {}),
    });
  }

  // ---- the clock ----

  /**
   * Our claim on our jobs holds while our heartbeat reaches the store well
   * inside the time after which peers take our jobs over.
   */
  #holdsLease(now: number): boolean {
    const { peers } = this.#deps;
    return now - peers.lastBeatOk < peers.staleMs / 2;
  }

  #sweep(): void {
    const now = this.#deps.clock.now();
    const { registry, config } = this.#deps;
    const redeliverAfter = Math.max(2000, config.offlineAfterMs / 2);
    // Node heartbeats go through JetStream. When neither they nor our own
    // heartbeat are getting through, the store is down, not the fleet: judge
    // no node lost now, nor until they have had time to report again.
    const storeUp = now - registry.lastUpdate < config.offlineAfterMs / 2 ||
      now - this.#deps.peers.lastBeatOk < config.offlineAfterMs / 2;
    if (!storeUp) {
      this.#graceUntil = Math.max(
        this.#graceUntil,
        now + config.offlineAfterMs,
      );
    }
    // Without our lease, a peer may be deciding for these jobs already.
    if (!this.#holdsLease(now)) return;
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
        const rec = registry.nodes.get(node);
        if (s.seq === -1 && now - s.sentAt >= RETRY_PUBLISH_MS) {
          this.#send(a, node, s);
          continue;
        }
        if (s.seq <= 0 || now - s.sentAt <= redeliverAfter) continue;
        // Not taken: the node missed it. Or taken and done with (every
        // command up to resume_seq has an outcome, by the node's account),
        // yet no outcome reached us: it was dropped on the way.
        const missed = (rec?.cmd_seq ?? 0) < s.seq;
        if (missed || (rec?.resume_seq ?? 0) >= s.seq) {
          log.info(
            missed
              ? "re-sending a command the node has not taken"
              : "re-sending a command the node passed without an outcome",
            { node, job: a.record.id, step: s.step },
          );
          s.resends++;
          s.resend = true;
          this.#send(a, node, s);
        }
      }
    }
  }

  // ---- records ----

  #saveSoon(a: Active): void {
    if (a.saveTimer !== undefined) return;
    a.saveTimer = setTimeout(() => {
      a.saveTimer = undefined;
      if (this.#active.get(a.record.id) === a) this.#save(a);
    }, 1000);
  }

  /** Writes a job's record; writes to one job are chained so each builds on the last revision. */
  #save(a: Active): Promise<unknown> {
    const id = a.record.id;
    // Only top-level fields of a running job's record change (its lists are
    // replaced, never edited), so a shallow copy is a snapshot.
    const snapshot = { ...a.record };
    const prev = this.#saves.get(id) ?? Promise.resolve();
    const next = prev.then(async () => {
      let rev = a.rev;
      for (let tries = 1;; tries++) {
        try {
          a.rev = (await this.#deps.store.update(snapshot, rev)).rev;
          return;
        } catch (e) {
          if (!(e instanceof StaleRecordError)) {
            log.error("saving a job record failed", {
              job: id,
              error: String(e),
            });
            return;
          }
          const cur = this.#deps.store.get(id);
          // A late write from an earlier epoch is overwritten; anything else
          // means the job has moved on without us. (A final record matters
          // most: dropped, the job would look running forever.)
          if (cur && tries < 5 && !this.#supersedes(cur.rec, a)) {
            rev = cur.rev;
            continue;
          }
          if (this.#active.get(id) === a) this.#fence(a, cur?.rec.owner);
          else if (
            TERMINAL.has(snapshot.status) &&
            !TERMINAL.has(cur?.rec.status ?? "pending")
          ) {
            log.warn("a finished job's record could not be written", {
              job: id,
              stored: cur?.rec.status ?? "(none)",
            });
          }
          return;
        }
      }
    });
    this.#saves.set(id, next);
    next.then(() => {
      if (this.#saves.get(id) === next) this.#saves.delete(id);
    });
    return next;
  }

  /** Ids sort by creation time: 11 hex digits of milliseconds, 5 of sequence. */
  #newId(now: number): string {
    if (now <= this.#lastId.ms) this.#lastId.n++;
    else this.#lastId = { ms: now, n: Math.floor(Math.random() * 0x4000) };
    const id = this.#lastId.ms.toString(16).padStart(11, "0") +
      this.#lastId.n.toString(16).padStart(5, "0");
    if (this.#deps.store.get(id)) return this.#newId(now + 1);
    return id;
  }
}
