/**
 * Feeds running jobs their events in log order: live as they come, kept
 * aside for jobs being claimed or adopted, and replayed from the log when a
 * job is adopted.
 */
import type { JobEvent } from "../models/messages.ts";
import type { Cancel } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { Active } from "./active.ts";
import type { EventLog, LogEntry } from "./logs.ts";
import { applyEvent } from "./scheduler.ts";

const log = logger("runner");

export class EventFeed {
  #log: EventLog;
  #active: ReadonlyMap<string, Active>;
  #apply: (a: Active, ev: JobEvent, seq: number) => void;
  #stop?: Cancel;
  /** Events of jobs being claimed, seen before the job is running here. */
  #claiming = new Map<string, [JobEvent, number][]>();
  /** Sequence of the last entry read live. */
  seen = 0;

  constructor(
    eventLog: EventLog,
    active: ReadonlyMap<string, Active>,
    apply: (a: Active, ev: JobEvent, seq: number) => void,
  ) {
    this.#log = eventLog;
    this.#active = active;
    this.#apply = apply;
  }

  /** Follows the log from its current end. */
  async start(): Promise<void> {
    this.seen = await this.#log.last();
    this.#stop = this.#log.follow(this.seen, (e) => this.#onEntry(e));
  }

  stop(): void {
    this.#stop?.();
  }

  /**
   * Keeps the job's events from here on, until `release`: a job being
   * claimed may get events (a peer's cancel) before it runs here.
   */
  hold(job: string): void {
    this.#claiming.set(job, []);
  }

  /** Whether the job is held: being claimed here, not running yet. */
  holds(job: string): boolean {
    return this.#claiming.has(job);
  }

  /** What arrived for a held job, in order; it is no longer held. */
  release(job: string): [JobEvent, number][] {
    const kept = this.#claiming.get(job) ?? [];
    this.#claiming.delete(job);
    return kept;
  }

  /**
   * Replays the log up to its current end into jobs being adopted (those
   * with a `buffer`), state only: their effects are worked out afterwards.
   * Throws when the read stops short, so the adoption is tried again.
   */
  async replay(adopting: readonly Active[]): Promise<void> {
    if (adopting.length === 0) return;
    const last = await this.#log.last();
    const from = Math.min(...adopting.map((a) => a.lastSeq)) + 1;
    if (from > last) return;
    const reached = await this.#log.read(from, last, (e) => {
      const a = this.#active.get(e.job);
      if (!a?.buffer || e.seq <= a.lastSeq || !e.event) return;
      applyEvent(a.state, e.event, e.seq);
      a.lastSeq = e.seq;
    });
    if (reached < last) {
      throw new Error(`replay stalled at ${reached} of ${last}`);
    }
  }

  #onEntry(e: LogEntry): void {
    this.seen = e.seq;
    const a = this.#active.get(e.job);
    // Kept for later: a job being adopted, or being claimed.
    const later = a ? a.buffer : this.#claiming.get(e.job);
    if (!a && !later) return;
    if (!e.event) {
      log.warn("ignoring malformed event", { job: e.job, seq: e.seq });
    } else if (later) {
      later.push([e.event, e.seq]);
    } else if (a) {
      this.#apply(a, e.event, e.seq);
    }
  }
}
