/**
 * Whether a job's results can still be in GRID_RES. Job records are kept
 * for `history.max_age` after they finish, but the stream they point into
 * can be deleted and created again (its sequences start over), and it
 * drops results older than its retention (history.max_age and a week:
 * lib/topology.ts), or someone may purge it: a job whose events are gone
 * must say so, not show `{}`.
 *
 * The record says where the job's events lie (`res_seq`, `res_last`) and
 * when it started; the stream says when it was created and which
 * sequences it still holds.
 */
import type { JobRecord } from "../models/job.ts";
import { iso } from "../lib/clock.ts";
import { STREAM_RESULTS } from "../lib/topology.ts";
import type { Stored } from "./job_store.ts";

export interface ResultsStreamFacts {
  /** When the stream was created (ms since the epoch). */
  created: number;
  first_seq: number;
  last_seq: number;
}

/**
 * How far a job's start (a controller's clock) may seem to precede the
 * stream's creation (a server's clock) without that alone meaning the
 * stream was recreated under the job.
 */
export const CLOCK_SKEW_MS = 60_000;

/**
 * Sequences never go back: a job whose range lies past the stream's end
 * (or ends before it begins: its events went on in a new stream) was
 * logged to a stream that has since started over.
 */
function pastEnd(rec: JobRecord, s: ResultsStreamFacts): boolean {
  const from = rec.res_seq ?? 0;
  const last = rec.res_last;
  return from > s.last_seq ||
    (last !== undefined && (last > s.last_seq || last < from));
}

/** Why the job's results are gone from the stream; undefined when they can be there. */
export function resultsLost(
  rec: JobRecord,
  s: ResultsStreamFacts,
): string | undefined {
  const from = rec.res_seq;
  // Never started, started on no node, or finished having logged nothing:
  // there is nothing to lose.
  if (
    from === undefined || !rec.started_at || rec.expected.length === 0 ||
    rec.res_last === from
  ) {
    return undefined;
  }
  const startedAt = Date.parse(rec.started_at);
  // The clocks alone may be off by a little; sequences confirm them.
  if (
    s.created > startedAt &&
    (pastEnd(rec, s) || s.created - startedAt > CLOCK_SKEW_MS)
  ) {
    return `${STREAM_RESULTS} was recreated at ${
      iso(s.created)
    }, after this job started: its results went with the stream before`;
  }
  const end = rec.res_last ?? s.last_seq;
  if (end < from) return undefined;
  if (s.first_seq > end) {
    return `its results are no longer in ${STREAM_RESULTS} (aged out or purged): ` +
      `the stream starts at sequence ${s.first_seq}, after this job's last, ${end}`;
  }
  if (s.first_seq > from + 1) {
    return `some of its results are no longer in ${STREAM_RESULTS} (aged out or purged): ` +
      `the stream starts at sequence ${s.first_seq}, after this job's first, ${
        from + 1
      }`;
  }
  return undefined;
}

/**
 * Whether the record's range cannot be in the current stream although the
 * job's results are not lost: it started on this stream while its
 * controller still read the one before, so its `res_seq` points past it.
 */
export function misplaced(rec: JobRecord, s: ResultsStreamFacts): boolean {
  if (rec.res_seq === undefined || rec.res_last === rec.res_seq) return false;
  return pastEnd(rec, s) && resultsLost(rec, s) === undefined;
}

/** The stream's facts from its info. */
export function factsOf(
  info: { created: string; state: { first_seq: number; last_seq: number } },
): ResultsStreamFacts {
  return {
    created: Date.parse(info.created),
    first_seq: info.state.first_seq,
    last_seq: info.state.last_seq,
  };
}

/** The `results_lost` fields of a job's view. */
export function lostFields(
  why: string | undefined,
): { results_lost?: true; results_lost_reason?: string } {
  return why === undefined
    ? {}
    : { results_lost: true, results_lost_reason: why };
}

/** `GET /status`'s word on the results stream. */
export interface ResultsStreamStatus {
  created?: string;
  first_seq?: number;
  last_seq?: number;
  /** Set when jobs' results are gone: the stream is missing, or was recreated after they ran. */
  problem?: string;
}

/**
 * The results stream as a cached view: its facts are read at most once a
 * second however many jobs are shown.
 */
export class ResultsStream {
  #cached?: { at: number; facts: Promise<ResultsStreamFacts> };
  /** What the last read that answered said, and whether the latest failed. */
  #known?: ResultsStreamFacts;
  #failed?: Error;
  /** Jobs that ran on a stream before the current one, per creation time. */
  #orphans?: { created: number; count: number };

  constructor(
    readonly read: () => Promise<ResultsStreamFacts>,
    readonly now: () => number = Date.now,
    readonly cacheMs = 1000,
    /** How long `/status` waits for a fresh answer. */
    readonly waitMs = 250,
  ) {}

  facts(): Promise<ResultsStreamFacts> {
    const now = this.now();
    if (!this.#cached || now - this.#cached.at >= this.cacheMs) {
      const facts = this.read();
      this.#cached = { at: now, facts };
      facts.then((f) => {
        this.#known = f;
        this.#failed = undefined;
      }, (e) => {
        this.#failed = e as Error;
        // A failed read is not kept: the next caller asks again.
        if (this.#cached?.facts === facts) this.#cached = undefined;
      });
    }
    return this.#cached.facts;
  }

  /** Why `rec`'s results are gone; undefined when they are not, or the stream cannot be read. */
  async lost(rec: JobRecord): Promise<string | undefined> {
    if (rec.status === "pending") return undefined;
    const facts = await this.facts().catch(() => undefined);
    return facts && resultsLost(rec, facts);
  }

  /** What `/status` says; `jobs` oldest first (read as it goes: only the oldest are). */
  async status(
    jobs: Iterable<Stored> | AsyncIterable<Stored>,
  ): Promise<ResultsStreamStatus> {
    // A stream slow to answer (a JetStream outage) is not waited out:
    // /status says what it said last, or that it has not answered.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => {
      timer = setTimeout(() => r("late"), this.waitMs);
    });
    const got = await Promise.race([
      this.facts().then(() => undefined, (e) => e as Error),
      late,
    ]);
    clearTimeout(timer);
    const failed = got === "late" ? this.#failed : got;
    const s = this.#known;
    if (failed || !s) {
      const why = failed?.message ?? "JetStream has not answered yet";
      return { problem: `${STREAM_RESULTS} cannot be read: ${why}` };
    }
    const view = {
      created: iso(s.created),
      first_seq: s.first_seq,
      last_seq: s.last_seq,
    };
    const n = await this.#ranBefore(s, jobs);
    return n === 0 ? view : {
      ...view,
      problem:
        `${STREAM_RESULTS} was recreated at ${view.created}, after ${n} ` +
        `job${n === 1 ? "" : "s"} had logged results to the one before: ` +
        `their results are gone (GET /job/:id says results_lost)`,
    };
  }

  /**
   * How many jobs ran on an earlier stream: those that started before this
   * one was created. Ids sort by creation time, so only jobs created
   * before it are looked at, and the answer for one stream never grows.
   */
  async #ranBefore(
    s: ResultsStreamFacts,
    jobs: Iterable<Stored> | AsyncIterable<Stored>,
  ): Promise<number> {
    if (this.#orphans?.created === s.created) return this.#orphans.count;
    let count = 0;
    for await (const { rec } of jobs) {
      if (Date.parse(rec.created_at) > s.created) break;
      // Only the recreation counts here: aged-out results are each job's own.
      if (resultsLost(rec, { ...s, first_seq: 0 })) count++;
    }
    this.#orphans = { created: s.created, count };
    return count;
  }
}
