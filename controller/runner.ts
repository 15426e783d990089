/**
 * The runner carries out the scheduler's decisions for the jobs this
 * controller owns. It wires the parts together and owns the set of jobs
 * running here:
 * - queue.ts starts pending jobs; requests.ts submits and cancels;
 * - ownership.ts claims epochs, writes records under them, finds jobs to adopt;
 * - event_feed.ts feeds each job its events in log order, live or replayed;
 * - dispatch.ts sends commands, aborts and the controller's own decisions;
 * - sweep.ts decides, from state and the time, what is late or lost;
 * - record_writer.ts writes the records of jobs running here.
 *
 * Crash safety: a job's state is never stored, only its record and its
 * event log. Adopting a job replays its log, then re-sends the attempts
 * still open; the command stream's de-duplication and the worker's ledger
 * keep them from running twice.
 */
import { type JobRecord, type JobSpec, TERMINAL } from "../models/job.ts";
import type { JobEvent } from "../models/messages.ts";
import { type Cancel, type Clock, iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { activate, type Active, supersedes } from "./active.ts";
import type { ClaimStore } from "./claims.ts";
import { Dispatcher } from "./dispatch.ts";
import { EventFeed } from "./event_feed.ts";
import type { JobStore, Stored } from "./job_store.ts";
import type { CommandLog, EventLog } from "./logs.ts";
import { Ownership, type PeerView } from "./ownership.ts";
import { initFor } from "./plan.ts";
import { Queue } from "./queue.ts";
import { RecordWriter } from "./record_writer.ts";
import { Requests } from "./requests.ts";
import { applyEvent, pendingDispatches, startJob } from "./scheduler.ts";
import type { Effect } from "./job_state.ts";
import { rolloutStatus } from "./rollout_run.ts";
import { controlEvent, graceAfterOutage, sweep, sweepConfig } from "./sweep.ts";
import type { Fleet } from "./targets.ts";
import type { RunnerObserver } from "./metrics.ts";

const log = logger("runner");

export interface RunnerConfig {
  maxConcurrent: number;
  maxPending: number;
  taskTimeoutMs: number;
  offlineAfterMs: number;
  tickMs?: number; // how often deadlines are checked
}

export interface RunnerDeps {
  store: JobStore;
  claims: ClaimStore;
  peers: PeerView;
  fleet: Fleet;
  events: EventLog;
  commands: CommandLog;
  clock: Clock;
  config: RunnerConfig;
  /** Told of steps and re-sends (metrics). */
  observer?: RunnerObserver;
}

export class Runner {
  /** The jobs running here, by id. */
  readonly active = new Map<string, Active>();
  readonly requests: Requests;
  #d: RunnerDeps;
  #ownership: Ownership;
  #feed: EventFeed;
  #dispatch: Dispatcher;
  #writer: RecordWriter;
  #queue: Queue;
  #timers: Cancel[] = [];
  #stopping = false;
  #takingOver = false;
  /** Until then, node records may be stale from before a restart: no node is judged lost. */
  #graceUntil = 0;

  constructor(deps: RunnerDeps) {
    this.#d = deps;
    const { store, clock, config, fleet } = deps;
    this.#ownership = new Ownership(deps);
    this.#feed = new EventFeed(
      deps.events,
      this.active,
      (a, ev, seq) => this.#apply(a, ev, seq),
    );
    this.#dispatch = new Dispatcher({
      commands: deps.commands,
      events: deps.events,
      clock,
      taskTimeoutMs: config.taskTimeoutMs,
      mayAct: (a) => this.#mayAct(a),
      isOffline: (node) => {
        const now = clock.now();
        return now >= this.#graceUntil && !fleet.isOnline(node, now);
      },
    });
    this.#writer = new RecordWriter({
      store,
      clock,
      isRunning: (a) => this.active.get(a.record.id) === a,
      superseded: (a, rec) => supersedes(rec, a, this.id),
      fence: (a, owner) => this.#fence(a, owner),
    });
    this.#queue = new Queue({
      ...deps,
      ownership: this.#ownership,
      feed: this.#feed,
      maxConcurrent: config.maxConcurrent,
      offlineAfterMs: config.offlineAfterMs,
      begin: (s) => this.#begin(s),
      stopping: () => this.#stopping,
    });
    this.requests = new Requests({
      ...deps,
      ownership: this.#ownership,
      maxPending: config.maxPending,
      offlineAfterMs: config.offlineAfterMs,
      pump: () => this.#queue.pump(),
    });
  }

  get id(): string {
    return this.#d.peers.id;
  }

  async start(): Promise<void> {
    const { store, config, clock, peers } = this.#d;
    this.#graceUntil = clock.now() + config.offlineAfterMs;
    await this.#feed.start(); // first: a start retried after it failed registers once
    store.onChange((s) => this.#onRecord(s));
    // Our own running jobs (a restart) and those of controllers that are gone.
    await this.#takeOver();
    this.#timers.push(clock.every(config.tickMs ?? 250, () => this.#tick()));
    this.#timers.push(clock.every(peers.heartbeatMs, () => {
      this.#takeOver();
      // A peer that claimed a pending job may have died before starting it;
      // a fresh look finds its claim dead and takes the next epoch.
      this.#ownership.heldByPeer.clear();
      this.#queue.pump(); // also retries claims that failed while JetStream was unavailable
    }));
    this.#queue.pump();
  }

  /** Stops; with `release`, hands running jobs back so a peer (or our next start) adopts them. */
  async stop(release = true): Promise<void> {
    this.#stopping = true;
    for (const stop of this.#timers) stop();
    this.#d.commands.stop();
    this.#feed.stop();
    for (const a of this.active.values()) {
      for (const s of a.sent.values()) s.retryTimer?.();
      a.saveTimer?.();
    }
    await this.#writer.flush();
    if (!release) return;
    const { store, clock } = this.#d;
    await Promise.allSettled([...this.active.values()].map(async (a) => {
      const { owner: _, ...rest } = a.record;
      await store.update({ ...rest, updated_at: iso(clock.now()) }, a.rev);
    }));
  }

  submit(spec: JobSpec): Promise<JobRecord> {
    return this.requests.submit(spec);
  }

  cancel(id: string): Promise<JobRecord> {
    return this.requests.cancel(id);
  }

  /** Sequence of the last event applied to a job running here. */
  appliedSeq(id: string): number | undefined {
    return this.active.get(id)?.lastSeq;
  }

  // ---- starting and adopting ----

  #begin(s: Stored): void {
    const { state, effects } = startJob(initFor(s.rec, false));
    const a = activate(s, state);
    this.active.set(s.rec.id, a);
    const early = this.#feed.release(s.rec.id);
    this.#handle(a, effects);
    for (const [ev, seq] of early) {
      if (seq <= a.lastSeq || this.active.get(s.rec.id) !== a) continue;
      this.#apply(a, ev, seq);
    }
  }

  /**
   * Claims the running jobs of controllers that are gone, and adopts them
   * along with any of our own that are not running here (an adoption that
   * failed, e.g. while the JetStream cluster was electing a leader).
   */
  async #takeOver(): Promise<void> {
    if (this.#stopping || this.#takingOver) return;
    this.#takingOver = true;
    let adopting: Active[] = [];
    try {
      // Nor one starting (claimed) or ending (final record unsaved) here.
      const jobs = await this.#ownership.toAdopt((id) =>
        this.active.has(id) || this.#feed.holds(id) || this.#writer.writing(id)
      );
      if (jobs.length === 0) return;
      adopting = jobs.map((s) => {
        const a = activate(s, startJob(initFor(s.rec, false)).state);
        a.buffer = []; // live events wait while the log is replayed
        this.active.set(s.rec.id, a);
        return a;
      });
      await this.#feed.replay(adopting);
      for (const a of adopting) this.#resume(a);
      const ids = adopting.map((a) => a.record.id).join(",");
      log.info("adopted running jobs", { jobs: ids });
    } catch (e) {
      // Left for the next round: ours in the store, not running here.
      for (const a of adopting) {
        if (this.active.get(a.record.id) === a && a.buffer) {
          this.active.delete(a.record.id);
        }
      }
      log.warn("adopting jobs failed; will retry", { error: String(e) });
    } finally {
      this.#takingOver = false;
    }
  }

  /** Carries on with a replayed job: re-sends what is open, then what came live. */
  #resume(a: Active): void {
    const buffered = (a.buffer ?? []).filter(([, seq]) => seq > a.lastSeq);
    a.buffer = undefined;
    const { state } = a;
    if (state.status !== "running") {
      this.#finish(a, state.status, state.error);
      return;
    }
    const step = state.phases[state.phase]?.first;
    // The batch and any pause as the log says, not as the last owner wrote.
    const rollout = state.rollout && rolloutStatus(state, state.rollout);
    if ((step !== undefined && step !== a.record.step) || rollout) {
      a.record.step = step ?? a.record.step;
      if (rollout) a.record.rollout_status = rollout;
      this.#writer.save(a);
    }
    // Sent before, perhaps, by the owner we took over from.
    this.#handle(a, pendingDispatches(state), true);
    for (const [ev, seq] of buffered) this.#apply(a, ev, seq);
  }

  // ---- events and effects ----

  #apply(a: Active, ev: JobEvent, seq: number): void {
    a.lastSeq = seq;
    if (ev.type === "result") this.#dispatch.answered(a, ev);
    this.#handle(a, applyEvent(a.state, ev, seq));
  }

  #handle(a: Active, effects: Effect[], resend = false): void {
    for (const e of effects) {
      switch (e.kind) {
        case "dispatch":
          this.#dispatch.dispatch(a, e, resend);
          break;
        case "abort":
          this.#dispatch.abort(a, e);
          break;
        case "step":
          this.#d.observer?.step(a.record.id);
          // The record's step is for listings; views take it from the log.
          // Writing it once a second at most keeps a record write (and a
          // copy of the job's tasks) off every step of a long job.
          if (a.record.step !== e.step) {
            a.record.step = e.step;
            a.record.updated_at = iso(this.#d.clock.now());
            this.#writer.soon(a);
          }
          break;
        case "rollout":
          a.record.rollout_status = e.status;
          // `job resume` reads a pause from the record: write it now.
          this.#writer[e.status.paused ? "save" : "soon"](a);
          break;
        case "finish":
          this.#finish(a, e.status, e.error);
          break;
      }
    }
  }

  #finish(a: Active, status: JobRecord["status"], error?: string): void {
    const now = iso(this.#d.clock.now());
    Object.assign(a.record, {
      status,
      updated_at: now,
      finished_at: now,
      res_last: a.lastSeq,
    });
    if (error) a.record.error = error;
    this.#dispatch.clearAll(a);
    a.saveTimer?.();
    this.active.delete(a.record.id);
    this.#writer.save(a);
    log.info("job finished", {
      job: a.record.id,
      status,
      ...(error ? { error } : {}),
    });
  }

  // ---- ownership ----

  #onRecord(s: Stored): void {
    this.#ownership.heldByPeer.delete(s.rec.id);
    const a = this.active.get(s.rec.id);
    if (a && !this.#stopping && s.rev > a.rev) {
      if (supersedes(s.rec, a, this.id)) this.#fence(a, s.rec.owner);
      // A late write from an earlier epoch: ours stands, and says so again.
      else if (s.rec.owner !== this.id) this.#writer.soon(a);
    }
    if (s.rec.status === "pending" || TERMINAL.has(s.rec.status)) {
      this.#queue.pump();
    }
  }

  /** Whether we may send for a job now; fences it when it is no longer ours. */
  #mayAct(a: Active): "yes" | "wait" | "fenced" {
    const stored = this.#d.store.get(a.record.id);
    if (stored && stored.rev > a.rev && supersedes(stored.rec, a, this.id)) {
      // The watch has not told us yet, but the job is no longer ours.
      this.#fence(a, stored.rec.owner);
      return "fenced";
    }
    return this.#ownership.holdsLease() ? "yes" : "wait";
  }

  /** Another controller owns this job now: stop running it here. */
  #fence(a: Active, owner: string | undefined): void {
    log.warn("lost ownership of a job", {
      job: a.record.id,
      owner: owner ?? "(none)",
    });
    this.#dispatch.clearAll(a);
    a.saveTimer?.();
    this.active.delete(a.record.id);
  }

  // ---- the clock ----

  #tick(): void {
    const { clock, fleet, config, events } = this.#d;
    const now = clock.now();
    this.#graceUntil = graceAfterOutage(
      now,
      this.#graceUntil,
      fleet.freshAt,
      config.offlineAfterMs,
    );
    // Without our lease, a peer may be deciding for these jobs already.
    if (!this.#ownership.holdsLease(now)) return;
    const effects = sweep(
      this.active.values(),
      { now, graceUntil: this.#graceUntil, nodes: fleet.nodes },
      sweepConfig(config.offlineAfterMs),
    );
    for (const e of effects) {
      const a = this.active.get(e.job);
      if (!a) continue;
      if (e.kind === "job_timeout" || e.kind === "next_batch") {
        // Asked once; asked again if the append fails.
        const timeout = e.kind === "job_timeout";
        if (timeout) a.timeoutSent = true;
        else a.resumeSent = e.batch;
        events.append(controlEvent(e, now)).catch(() => {
          if (timeout) a.timeoutSent = false;
          else a.resumeSent = undefined;
        });
        continue;
      }
      const s = a.sent.get(e.node);
      if (!s) continue;
      if (e.kind === "node_lost") {
        s.settled = true;
        this.#dispatch.decide(a, e.node, s, e.error, false);
      } else if (e.kind === "republish") {
        this.#dispatch.send(a, e.node, s);
      } else {
        log.info(
          e.why === "missed"
            ? "re-sending a command the node has not taken"
            : "re-sending a command the node passed without an outcome",
          { node: e.node, job: e.job, step: e.step },
        );
        this.#dispatch.resend(a, e.node);
        this.#d.observer?.resent();
      }
    }
  }
}
