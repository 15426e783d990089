/**
 * A job as Server-Sent Events (`GET /job/:id/events`; the payloads are in
 * models/live.ts). Its status comes from the record, its results from
 * folding its log as it grows, with the same scheduler the runner uses, so
 * the stream shows exactly what the job view will. Any controller can serve
 * it: the record and the log are shared. `Last-Event-ID` is a results-stream
 * sequence: the log is folded from its start as always, and only results
 * decided by later events are sent.
 */
import { type JobRecord, TERMINAL } from "../models/job.ts";
import type { LiveEventType, LiveResult, LiveStatus } from "../models/live.ts";
import type { Cancel, Clock } from "../lib/clock.ts";
import type { JobLogFollower } from "./job_follow.ts";
import type { JobState } from "./job_state.ts";
import { initFor } from "./plan.ts";
import { applyEvent, startJob } from "./scheduler.ts";
import { nodeResult } from "./views.ts";

export interface StreamDeps {
  /** The job's record as it is now. */
  record(id: string): JobRecord | undefined;
  follower: JobLogFollower;
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
}

/** The stream of `first`'s job, resuming after sequence `lastId` (0: from the start). */
export function jobStream(
  deps: StreamDeps,
  first: JobRecord,
  lastId: number,
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let session: Session | undefined;
  return new ReadableStream<Uint8Array>({
    start(ctl) {
      session = new Session(
        deps,
        first.id,
        lastId,
        (text) => ctl.enqueue(enc.encode(text)),
        () => ctl.close(),
      );
      session.start(first);
    },
    cancel() {
      session?.stop();
    },
  });
}

/** One SSE event as text; `id` only where a client may resume after it. */
export function sseEvent(
  type: LiveEventType,
  data: unknown,
  id?: number,
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

  constructor(
    readonly deps: StreamDeps,
    readonly id: string,
    readonly lastId: number,
    readonly write: (text: string) => void,
    readonly close: () => void,
  ) {}

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
    this.#update(rec);
  }

  stop(): void {
    this.#done = true;
    for (const cancel of this.#timers) cancel();
  }

  #send(text: string): void {
    if (!this.#done) this.write(text);
  }

  #poll(): void {
    const rec = this.deps.record(this.id);
    // Gone from the store (expired): nothing more will come.
    if (!rec) return this.#end();
    this.#update(rec);
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
      const caughtUp = !this.#state || this.#state.status !== "running" ||
        (rec.res_last !== undefined && this.#seen >= rec.res_last) ||
        now - this.#finishedAt >= (this.deps.settleMs ?? 5000);
      if (!caughtUp) return;
      this.#status(rec);
      return this.#end(rec);
    }
    this.#status(rec);
  }

  #begin(rec: JobRecord): void {
    this.#batch = [];
    // Results without outputs: no output is kept (a budget of 0).
    const { state } = startJob({
      ...initFor(rec, true),
      outputBudget: 0,
      onOutcome: (step, node, o) =>
        this.#batch?.push({ step, node, ...nodeResult(o) }),
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
        applyEvent(state, ev, seq);
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
    if (results.length > 0 && seq > this.lastId) {
      this.#send(sseEvent("result", { seq, results }, seq));
    }
  }

  /** Sends the status when it changed; the step of a running job is the log's. */
  #status(rec: JobRecord): void {
    const s = this.#state;
    const step = s?.status === "running"
      ? s.phases[s.phase]?.first ?? rec.step
      : rec.step;
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
