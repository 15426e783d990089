/**
 * A job as Server-Sent Events (`GET /job/:id/events`; the payloads are in
 * models/live.ts). Its status comes from the record, its results from
 * folding its log as it grows, with the same scheduler the runner uses, so
 * the stream shows exactly what the job view will. Any controller can serve
 * it: the record and the log are shared.
 *
 * Running tasks' output (`output` events) comes from GRID_OUT, a stream of
 * its own, so an event id is a position in both: `R.O`, the last result
 * (results-stream sequence) and the last output chunk (output-stream
 * sequence) sent. `Last-Event-ID: R.O` resumes each where it stopped; the
 * log is folded from its start as always and only later results are sent.
 * A reader too slow for the output loses chunks, not results: the lines it
 * missed are counted in an `output` event with `skipped`.
 */
import { type JobRecord, TERMINAL } from "../models/job.ts";
import type {
  LiveEventType,
  LiveOutput,
  LiveResult,
  LiveStatus,
} from "../models/live.ts";
import type { OutputChunk } from "../models/messages.ts";
import type { Cancel, Clock } from "../lib/clock.ts";
import type { JobLogFollower } from "./job_follow.ts";
import type { OutputFollower, OutputWatch } from "./output_follow.ts";
import type { JobState } from "./job_state.ts";
import { initFor } from "./plan.ts";
import { rolloutStatus } from "./rollout_run.ts";
import { applyEvent, startJob } from "./scheduler.ts";
import { nodeResult } from "./views.ts";

export interface StreamDeps {
  /** The job's record as it is now. */
  record(id: string): JobRecord | undefined;
  follower: JobLogFollower;
  /** Where output is followed from; without it no output is sent. */
  output?: OutputFollower;
  clock: Clock;
  /** How often the record is looked at for status changes. */
  pollMs?: number;
  /** A comment this often keeps proxies from closing an idle stream. */
  pingMs?: number;
  /** How long a finished job's stream waits for the rest of its log (aged out?). */
  settleMs?: number;
  /**
   * Aborted when the controller shuts down: streams end without `end`, so
   * clients resume elsewhere, and the server's graceful shutdown is not
   * held up by streams that would never finish.
   */
  closing?: AbortSignal;
  /** Bytes a reader may fall behind before output is skipped. */
  slackBytes?: number;
}

/** Where a client stands: the last result and output chunk it got. */
export interface Position {
  res: number;
  out: number;
}

/** What a stream carries: results, output (of one step or node), or both. */
export interface StreamOptions {
  results?: boolean;
  output?: false | { step?: number; node?: string };
  /**
   * false: `end` (with the job's status then) once the output stored
   * before the request was sent, finished or not (`gridc job logs`).
   */
  follow?: boolean;
}

/** The stream of `first`'s job, resuming after `from` (0.0: from the start). */
export function jobStream(
  deps: StreamDeps,
  first: JobRecord,
  from: Position,
  opts: StreamOptions = {},
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let session: Session | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(ctl) {
        session = new Session(
          deps,
          first.id,
          from,
          opts,
          (text) => ctl.enqueue(enc.encode(text)),
          () => ctl.desiredSize ?? 0,
          () => ctl.close(),
        );
        session.start(first);
      },
      cancel() {
        session?.stop();
      },
    },
    new ByteLengthQueuingStrategy({
      highWaterMark: deps.slackBytes ?? 1 << 20,
    }),
  );
}

/** One SSE event as text; `id` only where a client may resume after it. */
export function sseEvent(
  type: LiveEventType,
  data: unknown,
  id?: string,
): string {
  return `event: ${type}\n${id === undefined ? "" : `id: ${id}\n`}data: ${
    JSON.stringify(data)
  }\n\n`;
}

class Session {
  #state?: JobState;
  /** Results decided by the log event being applied. */
  #batch?: LiveResult[];
  #lastStatus = "";
  /** The newest log event read. */
  #seen = 0;
  #finishedAt?: number;
  #timers: Cancel[] = [];
  #done = false;
  /** Positions sent so far (what the next event's id says). */
  #sent: Position;
  /** The newest output chunk read (sent or skipped). */
  #outSeen = 0;
  #skipped = new Map<string, { c: OutputChunk; lines: number }>();
  #watch?: OutputWatch;
  /** When a question to the output reader, answered "nothing pending", was asked. */
  #caughtUpAt = -1;
  #asking = false;
  #startedAt = 0;

  constructor(
    readonly deps: StreamDeps,
    readonly id: string,
    readonly from: Position,
    readonly opts: StreamOptions,
    readonly write: (text: string) => void,
    /** Bytes the reader can take before it falls behind (negative: behind). */
    readonly room: () => number,
    readonly close: () => void,
  ) {
    this.#sent = { ...from };
    this.#outSeen = from.out;
  }

  get #withOutput(): boolean {
    return this.opts.output !== false && this.deps.output !== undefined;
  }

  start(rec: JobRecord): void {
    const { clock } = this.deps;
    this.#send("retry: 2000\n\n");
    this.#timers.push(
      clock.every(this.deps.pollMs ?? 250, () => this.#poll()),
      clock.every(this.deps.pingMs ?? 15_000, () => this.#send(": ping\n\n")),
    );
    const closing = this.deps.closing;
    if (closing?.aborted) return this.#end();
    const onClose = () => this.#end();
    closing?.addEventListener("abort", onClose, { once: true });
    this.#timers.push(() => closing?.removeEventListener("abort", onClose));
    this.#startedAt = clock.now();
    this.#update(rec);
    // Asked now, so the first look can already tell it has read enough.
    if (this.opts.follow === false) this.#endIfRead(rec);
  }

  stop(): void {
    this.#done = true;
    for (const cancel of this.#timers) cancel();
  }

  #send(text: string): void {
    if (!this.#done) this.write(text);
  }

  #poll(): void {
    this.#markSkipped();
    const rec = this.deps.record(this.id);
    // Gone from the store (expired): nothing more will come.
    if (!rec) return this.#end();
    this.#update(rec);
    if (this.opts.follow === false) this.#endIfRead(rec);
  }

  /**
   * `follow: false` ends once it has read what the output stream held
   * when the request came.
   */
  #endIfRead(rec: JobRecord): void {
    if (this.#done || !this.#outputRead(this.#startedAt)) return;
    this.#markSkipped(true);
    this.#status(rec);
    this.#end(rec);
  }

  #update(rec: JobRecord): void {
    if (this.#done) return;
    if (!this.#state && rec.status !== "pending" && rec.started_at) {
      this.#begin(rec);
    }
    if (TERMINAL.has(rec.status)) {
      // The final status comes after the last result: wait for the log.
      const now = this.deps.clock.now();
      this.#finishedAt ??= now;
      const settled = now - this.#finishedAt >= (this.deps.settleMs ?? 5000);
      const caughtUp = !this.#state || this.#state.status !== "running" ||
        (rec.res_last !== undefined && this.#seen >= rec.res_last) ||
        settled;
      if (!caughtUp || !(this.#outputRead(this.#finishedAt) || settled)) {
        return;
      }
      this.#status(rec);
      return this.#end(rec);
    }
    this.#status(rec);
  }

  /**
   * Whether the output reader has read everything stored by `since`: its
   * consumer said "nothing pending" to a question asked at or after then.
   * (Another job's chunks after this one's are passed over by the filter,
   * so a stream position alone cannot tell.) Asks when it does not know.
   */
  #outputRead(since: number): boolean {
    if (!this.#withOutput || !this.#watch) return true;
    if (this.#caughtUpAt >= since) return true;
    if (!this.#asking) {
      this.#asking = true;
      const askedAt = this.deps.clock.now();
      this.#watch.pending().then(
        (n) => {
          if (n === 0) this.#caughtUpAt = askedAt;
        },
        () => (this.#caughtUpAt = askedAt), // unreadable: do not wait for it
      ).finally(() => (this.#asking = false));
    }
    return false;
  }

  #followOutput(): void {
    if (!this.#withOutput || this.#watch) return;
    const only = this.opts.output || {};
    const watch = this.deps.output!.follow(
      { job: this.id, ...only },
      this.from.out,
      (c, seq) => this.#chunk(c, seq),
    );
    this.#watch = watch;
    this.#timers.push(() => watch.stop());
  }

  /** One output chunk: sent, or counted as skipped while the reader is behind. */
  #chunk(c: OutputChunk, seq: number): void {
    if (this.#done) return;
    this.#outSeen = seq;
    const key = `${c.step}/${c.node}/${c.attempt}`;
    if (this.room() < 0) {
      const lines = Math.max(1, c.text.split("\n").length - 1);
      const had = this.#skipped.get(key);
      this.#skipped.set(key, { c, lines: (had?.lines ?? 0) + lines });
      return;
    }
    this.#markSkipped();
    this.#sent.out = seq;
    const out: LiveOutput = {
      step: c.step,
      node: c.node,
      attempt: c.attempt,
      text: c.text,
    };
    this.#send(sseEvent("output", out, `${this.#sent.res}.${seq}`));
  }

  /** Tells a reader that caught up (or is let go) how many lines of whose output it missed. */
  #markSkipped(force = false): void {
    if (this.#skipped.size === 0 || (!force && this.room() < 0)) return;
    for (const [k, { c, lines }] of this.#skipped) {
      const marker: LiveOutput = {
        step: c.step,
        node: c.node,
        attempt: c.attempt,
        text: "",
        skipped: lines,
      };
      this.#send(sseEvent("output", marker));
      this.#skipped.delete(k);
    }
  }

  #begin(rec: JobRecord): void {
    this.#followOutput();
    this.#batch = [];
    // The result event being applied: its data goes out with its outcome,
    // which the fold below does not keep.
    let applying: { seq: number; data: unknown } | undefined;
    // Results without outputs: no output is kept (a budget of 0).
    const { state } = startJob({
      ...initFor(rec, true),
      outputBudget: 0,
      onOutcome: (step, node, o) => {
        const data = applying && o.seq === applying.seq
          ? applying.data
          : undefined;
        this.#batch?.push({ step, node, ...nodeResult(o, undefined, data) });
      },
    });
    this.#state = state;
    // Skips decided at the start belong to the moment it started.
    this.#flush(rec.res_seq ?? 0);
    const stopFollow = this.deps.follower.follow(
      this.id,
      rec.res_seq ?? 0,
      (ev, seq) => {
        if (this.#done) return;
        this.#seen = seq;
        this.#batch = [];
        applying = ev.type === "result" && ev.data !== undefined
          ? { seq, data: ev.data }
          : undefined;
        applyEvent(state, ev, seq);
        applying = undefined;
        this.#flush(seq);
        const now = this.deps.record(this.id);
        if (now && !TERMINAL.has(now.status)) this.#status(now);
      },
    );
    this.#timers.push(stopFollow);
  }

  #flush(seq: number): void {
    const results = this.#batch ?? [];
    this.#batch = undefined;
    if (this.opts.results === false) return;
    if (results.length > 0 && seq > this.from.res) {
      this.#sent.res = seq;
      this.#send(
        sseEvent("result", { seq, results }, `${seq}.${this.#sent.out}`),
      );
    }
  }

  /** Sends the status when it changed; the step of a running job is the log's. */
  #status(rec: JobRecord): void {
    const s = this.#state;
    const step = s?.status === "running"
      ? s.phases[s.phase]?.first ?? rec.step
      : rec.step;
    // The log's, as the step is: the record's is written at most once a second.
    const rollout = s?.rollout
      ? rolloutStatus(s, s.rollout)
      : rec.rollout_status;
    const view: LiveStatus = {
      id: rec.id,
      status: rec.status,
      step,
      ...(rec.error ? { error: rec.error } : {}),
      expected: rec.expected,
      offline: rec.offline,
      created_at: rec.created_at,
      updated_at: rec.updated_at,
      ...(rec.started_at ? { started_at: rec.started_at } : {}),
      ...(rec.finished_at ? { finished_at: rec.finished_at } : {}),
      ...(rollout ? { rollout_status: rollout } : {}),
    };
    const { updated_at: _, ...key } = view;
    const text = JSON.stringify(key);
    if (text === this.#lastStatus) return;
    this.#lastStatus = text;
    this.#send(sseEvent("status", view));
  }

  #end(rec?: JobRecord): void {
    if (this.#done) return;
    if (rec) this.#send(sseEvent("end", { status: rec.status }));
    this.stop();
    this.close();
  }
}
