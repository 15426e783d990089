/**
 * Rows of `GET /jobs`: each record with per-step counts of its results,
 * what a list needs to show progress. A running job's results are folded
 * from its log once, then kept current from the events this controller
 * reads anyway (its runner's feed, tapped), so polling a list opens no
 * reader per job; a finished job's counts, which never change, are kept
 * (bounded).
 */
import {
  type JobRecord,
  type JobSummary,
  type StepCounts,
  TERMINAL,
} from "../models/job.ts";
import type { JobEvent } from "../models/messages.ts";
import { logger } from "../lib/log.ts";
import type { JobState } from "./job_state.ts";
import type { EventLog, LogEntry } from "./logs.ts";
import { applyEvent } from "./scheduler.ts";
import { jobSummary } from "./views.ts";

const log = logger("api");

/** A job's state folded from its log, results kept, outputs not. */
export type FoldJob = (rec: JobRecord) => Promise<JobState>;

export function countsOf(results: JobState["results"]): StepCounts {
  const out: StepCounts = {};
  for (const step of [...results.keys()].sort((a, b) => a - b)) {
    const counts: StepCounts[string] = {};
    for (const o of results.get(step)!.values()) {
      counts[o.status] = (counts[o.status] ?? 0) + 1;
    }
    out[String(step)] = counts;
  }
  return out;
}

/** A running job followed here: its state once folded, events meanwhile. */
interface Live {
  state?: JobState;
  early: [JobEvent, number][];
  folding?: Promise<JobState>;
}

export class JobRows {
  /** Finished jobs' counts, least recently used first. */
  #done = new Map<string, { updated: string; counts: StepCounts }>();
  #live = new Map<string, Live>();

  constructor(
    readonly fold: FoldJob,
    readonly keep = 5000,
    readonly parallel = 8,
  ) {}

  /** An event from the log, as this controller reads it. */
  observe(e: LogEntry): void {
    const live = this.#live.get(e.job);
    if (!live || !e.event) return;
    // Applying an event twice changes nothing (the scheduler ignores
    // repeats), so events read while the fold runs are applied after it.
    if (live.state) applyEvent(live.state, e.event, e.seq);
    else live.early.push([e.event, e.seq]);
  }

  /** The job ended (or went away): stop following it. */
  forget(id: string): void {
    this.#live.delete(id);
  }

  async rows(recs: readonly JobRecord[]): Promise<JobSummary[]> {
    const out: JobSummary[] = new Array(recs.length);
    let next = 0;
    const worker = async () => {
      while (next < recs.length) {
        const i = next++;
        out[i] = jobSummary(recs[i]!, await this.#counts(recs[i]!));
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.parallel, recs.length) }, worker),
    );
    return out;
  }

  async #counts(rec: JobRecord): Promise<StepCounts> {
    if (rec.status === "pending") return {};
    try {
      if (!TERMINAL.has(rec.status)) return countsOf(await this.#running(rec));
      this.forget(rec.id);
      const hit = this.#done.get(rec.id);
      if (hit && hit.updated === rec.updated_at) {
        this.#done.delete(rec.id);
        this.#done.set(rec.id, hit);
        return hit.counts;
      }
      const counts = countsOf((await this.fold(rec)).results);
      this.#done.set(rec.id, { updated: rec.updated_at, counts });
      if (this.#done.size > this.keep) {
        this.#done.delete(this.#done.keys().next().value!);
      }
      return counts;
    } catch (e) {
      // One unreadable log must not take the whole list down: this row
      // shows no progress, and the next request tries again.
      log.warn("job progress unavailable", { job: rec.id, error: String(e) });
      return {};
    }
  }

  async #running(rec: JobRecord): Promise<JobState["results"]> {
    let live = this.#live.get(rec.id);
    if (live?.state) return live.state.results;
    if (!live) this.#live.set(rec.id, live = { early: [] });
    const entry = live;
    entry.folding ??= this.fold(rec).then((state) => {
      for (const [ev, seq] of entry.early) applyEvent(state, ev, seq);
      entry.early = [];
      entry.state = state;
      return state;
    }).catch((e) => {
      this.#live.delete(rec.id);
      throw e;
    });
    return (await entry.folding).results;
  }
}

/** `events` with every entry it delivers live also shown to `tap`. */
export function tapEvents(
  events: EventLog,
  tap: (e: LogEntry) => void,
): EventLog {
  return {
    last: () => events.last(),
    follow: (after, fn) =>
      events.follow(after, (e) => {
        tap(e);
        fn(e);
      }),
    read: (from, to, fn) => events.read(from, to, fn),
    append: (ev) => events.append(ev),
    output: (seq) => events.output(seq),
    ...(events.stored ? { stored: (seq: number) => events.stored!(seq) } : {}),
  };
}
