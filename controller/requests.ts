/**
 * What operators ask of jobs: submit, cancel and resume. Each answers with
 * the job's record or throws a RefusedError saying why not.
 */
import { type JobRecord, type JobSpec, TERMINAL } from "../models/job.ts";
import type { CancelEvent, ResumeEvent } from "../models/messages.ts";
import type { Clock } from "../lib/clock.ts";
import { iso, sleep } from "../lib/clock.ts";
import {
  conflict,
  invalid,
  notFound,
  queueFull,
  unavailable,
} from "./errors.ts";
import { fleetCurrent } from "./sweep.ts";
import { JobIds } from "./ids.ts";
import type { JobStore } from "./job_store.ts";
import type { EventLog } from "./logs.ts";
import type { Ownership } from "./ownership.ts";
import { checkAgainstFleet, type Fleet, resolveTarget } from "./targets.ts";

export interface RequestDeps {
  store: JobStore;
  ownership: Ownership;
  fleet: Fleet;
  events: EventLog;
  clock: Clock;
  maxPending: number;
  offlineAfterMs: number;
  /** Starts pending jobs if there is room. */
  pump(): void;
}

interface Waiter {
  ready: (rec: JobRecord) => boolean;
  done: () => void;
}

/** How long a cancel (or resume) waits for a running job's owner to act on it. */
const CANCEL_WAIT_MS = 5000;

/**
 * How long a submit (or plan) waits for a registry that is not current to
 * turn current before it is refused: a slow moment of the store, or the
 * half offline_after after one (registry.ts), passes without an error.
 */
export const CURRENT_WAIT_MS = 5000;

/** Whether the registry is current now, or turns current within `maxMs`. */
export async function untilFleetCurrent(
  fleet: Pick<Fleet, "freshAt">,
  clock: Clock,
  offlineAfterMs: number,
  maxMs = CURRENT_WAIT_MS,
): Promise<boolean> {
  const until = clock.now() + maxMs;
  for (;;) {
    const now = clock.now();
    if (fleetCurrent(now, fleet.freshAt, offlineAfterMs)) return true;
    if (now >= until) return false;
    await sleep(clock, Math.min(100, until - now));
  }
}

export class Requests {
  #d: RequestDeps;
  #ids = new JobIds();
  #waiters = new Map<string, Waiter[]>();

  constructor(deps: RequestDeps) {
    this.#d = deps;
    deps.store.onChange((s) => {
      for (const w of this.#waiters.get(s.rec.id) ?? []) {
        if (w.ready(s.rec)) w.done();
      }
    });
  }

  /** `by`: the API token's name, kept on the record as `submitted_by`. */
  async submit(spec: JobSpec, by?: string): Promise<JobRecord> {
    const { store, fleet, clock, maxPending, offlineAfterMs } = this.#d;
    // Judged against a stale registry, a healthy node looks offline and a
    // target may match nothing: wait a little, then refuse rather than
    // misjudge.
    if (!(await untilFleetCurrent(fleet, clock, offlineAfterMs))) {
      throw unavailable(
        "the node registry is not current (NATS JetStream is not answering): try again shortly",
      );
    }
    const pending = store.count("pending");
    if (pending >= maxPending) {
      throw queueFull(
        `queue full: ${pending} jobs already pending (scheduler.max_pending)`,
      );
    }
    const now = clock.now();
    const problem = checkAgainstFleet(
      spec,
      fleet.nodes,
      now,
      offlineAfterMs,
      (id) => fleet.paramsOf?.(id),
    );
    if (problem) throw invalid(problem);
    const preview = resolveTarget(
      fleet.nodes.values(),
      spec.target,
      now,
      offlineAfterMs,
    );
    const rec: JobRecord = {
      ...spec,
      id: this.#ids.next(now, (id) => store.get(id) !== undefined),
      ...(by === undefined ? {} : { submitted_by: by }),
      status: "pending",
      step: 0,
      expected: preview.online,
      offline: preview.offline,
      created_at: iso(now),
      updated_at: iso(now),
    };
    await store.create(rec);
    this.#d.pump();
    return rec;
  }

  async cancel(id: string): Promise<JobRecord> {
    const { store, ownership, clock } = this.#d;
    for (let tries = 0; tries < 5; tries++) {
      // A finished job's record may be in the bucket only.
      const s = store.get(id) ?? await store.load(id);
      if (!s) throw notFound(`job "${id}" not found`);
      if (TERMINAL.has(s.rec.status)) {
        throw conflict(`job "${id}" is already ${s.rec.status}`);
      }
      if (s.rec.status === "pending" && !ownership.heldByPeer.has(id)) {
        // Claimed like a start, so the job cannot start meanwhile; if a peer
        // has claimed it to start, it is cancelled running, through its log.
        const epoch = await ownership.claim(s, "cancel");
        if (epoch !== undefined) {
          const now = iso(clock.now());
          const done = await ownership.write(
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
      const finished = this.#until(id, (rec) => TERMINAL.has(rec.status));
      const ev: CancelEvent = {
        type: "cancel",
        job: id,
        at: iso(clock.now()),
        reason: "cancelled by request",
      };
      await this.#d.events.append(ev);
      await finished;
      return (store.get(id) ?? await store.load(id) ?? s).rec;
    }
    throw conflict(`job "${id}" kept changing; try again`);
  }

  /**
   * Starts the next batch of a rollout paused for approval. Like a cancel
   * it goes through the job's log, so whichever controller owns the job
   * applies it, and a replay after a failover applies it again the same.
   */
  /**
   * `st`: the rollout as the job's log says now (the record is written a
   * moment after the log); without it, as the record says.
   */
  async resume(rec: JobRecord, st = rec.rollout_status): Promise<JobRecord> {
    const { store, clock } = this.#d;
    const id = rec.id;
    if (rec.status !== "running" || !st?.paused) {
      throw conflict(
        `job "${id}" is not paused for approval (it is ${rec.status}${
          st && rec.status === "running"
            ? `, batch ${st.batch} of ${st.batches}`
            : ""
        })`,
      );
    }
    const batch = st.batch + 1;
    const started = this.#until(
      id,
      (rec) =>
        TERMINAL.has(rec.status) || !rec.rollout_status?.paused ||
        rec.rollout_status.batch >= batch,
    );
    const ev: ResumeEvent = {
      type: "resume",
      job: id,
      at: iso(clock.now()),
      batch,
      reason: "resumed by request",
    };
    await this.#d.events.append(ev);
    await started;
    return (store.get(id) ?? await store.load(id))?.rec ?? rec;
  }

  /** Resolves when the job's record is `ready`, or after CANCEL_WAIT_MS. */
  #until(id: string, ready: (rec: JobRecord) => boolean): Promise<void> {
    return new Promise((resolve) => {
      const w: Waiter = {
        ready,
        done: () => {
          stop();
          const left = (this.#waiters.get(id) ?? []).filter((o) => o !== w);
          if (left.length > 0) this.#waiters.set(id, left);
          else this.#waiters.delete(id);
          resolve();
        },
      };
      const stop = this.#d.clock.after(CANCEL_WAIT_MS, w.done);
      this.#waiters.set(id, [...(this.#waiters.get(id) ?? []), w]);
    });
  }
}
