/**
 * Command intake: takes this node's commands in log order, live or read
 * back after a gap or a restart, drops copies of attempts already taken or
 * already done, applies aborts, and hands the rest to the executor.
 *
 * A live command carries the position of this node's previous one, so a
 * gap (a message lost while disconnected) is noticed and read back. A
 * worker that (re)connects reads back from the last position it took in.
 */
import { Command, type RunCommand } from "../models/messages.ts";
import { type Clock, sleep } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { Executor } from "./executor.ts";
import { Ledger } from "./ledger.ts";
import type { CommandLog, Delivery, ResultLog } from "./logs.ts";
import type { WorkObserver } from "./metrics.ts";

const dec = new TextDecoder();

const log = logger("gridw");

/**
 * How a command reached the worker:
 * - `live`: delivered as it was stored, next in sequence;
 * - `late`: delivered live, but at or below the last sequence taken in;
 * - `stream`: read back from the command stream (catch-up).
 */
export type Arrival = "live" | "late" | "stream";

export interface OutcomeLookupFacts {
  arrival: Arrival;
  /** The controller marked the command as possibly sent before. */
  resend: boolean;
  /** The command's `issued_at`, in ms (NaN if unreadable). */
  issuedAt: number;
  /** When this worker process started, in ms. */
  startedAt: number;
  now: number;
  catchUpWindowMs: number;
}

/**
 * Whether to ask the results stream for an outcome of an attempt before
 * running it. The ledger only knows what this process took: anything that
 * may have reached an earlier run of this worker needs the look-up. In
 * sequence and fresh, a command cannot have, and the common path costs no
 * request.
 */
export function mustLookUpOutcome(f: OutcomeLookupFacts): boolean {
  // Out of order or read back: taken before this process started, maybe.
  if (f.arrival !== "live") return true;
  if (f.resend) return true;
  // A command built before this process started may have reached the one
  // before it, and the controller may not say so (an older controller, or a
  // publish retried with its first body). Past one catch-up window such a
  // command is no longer run on catch-up either, so the check stops there.
  // An unreadable issued_at counts as before the start.
  return f.now - f.startedAt < f.catchUpWindowMs &&
    !(f.issuedAt >= f.startedAt);
}

/**
 * Whether a command is too old to run: read back from the stream after a
 * long absence, it is history, since its job has long been told this node
 * was lost. What arrives live was just sent (late only by our own count):
 * the controller wants it run now.
 */
export function isHistory(
  arrival: Arrival,
  issuedAt: number,
  now: number,
  catchUpWindowMs: number,
): boolean {
  return arrival === "stream" && now - issuedAt > catchUpWindowMs;
}

/** Tries at asking for an outcome before running the task anyway. */
export const LOOKUP_TRIES = 8;

export interface IntakeOptions {
  node: string;
  commands: CommandLog;
  results: ResultLog;
  executor: Pick<Executor, "enqueue" | "holds" | "abort">;
  clock: Clock;
  /** Commands older than this are not run when read back from the log. */
  catchUpWindowMs: number;
  /** When this worker process started, in ms. */
  startedAt: number;
  /** Told of commands and dropped copies (the worker's metrics). */
  observer?: Pick<WorkObserver, "received" | "duplicate">;
}

export class Intake {
  #o: IntakeOptions;
  #lastSeq = 0;
  #ledger = new Ledger();
  #chain: Promise<void> = Promise.resolve();
  #stopping = false;

  constructor(o: IntakeOptions) {
    this.#o = o;
  }

  /** The highest log position taken in. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Where a restart resumes: what lies after `seq` is read back. */
  resumeAfter(seq: number): void {
    this.#lastSeq = seq;
  }

  /** Marks an attempt as taken, so no copy of it runs. */
  remember(a: { job: string; step: number; attempt: number }): void {
    this.#ledger.add(Ledger.keyOf(a));
  }

  live(d: Delivery): void {
    this.#serial(() => this.#onLive(d));
  }

  /** Reads back what was stored after the last command taken in. */
  catchUp(): Promise<void> {
    return this.#serial(() => this.#catchUp());
  }

  /** Reads nothing more back; what is under way still finishes. */
  stop(): void {
    this.#stopping = true;
  }

  /** Runs intake steps one after another, so positions are taken in order. */
  #serial(fn: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(fn).catch((e) =>
      log.error("command intake failed", { error: String(e) })
    );
    return this.#chain;
  }

  async #onLive({ seq, prev, data }: Delivery): Promise<void> {
    if (seq <= this.#lastSeq) {
      // Mostly the live copy of a command catch-up has taken, which the
      // ledger drops. One the ledger does not know was passed over without
      // being taken (the resume point moved past it somehow): dropping it
      // would leave its job waiting for a re-send, if one ever comes.
      await this.#take(seq, data, "late");
      return;
    }
    if (prev > this.#lastSeq) await this.#catchUp(prev);
    await this.#take(seq, data, "live");
  }

  /**
   * Reads this node's commands after the last one taken, up to `upTo`
   * (default: the newest). The stopping rule is a position, not a count of
   * what is pending, which can lag a command just stored.
   */
  async #catchUp(upTo?: number): Promise<void> {
    if (this.#stopping) return;
    const end = upTo ?? await this.#o.commands.newest().catch(() => 0);
    if (end <= this.#lastSeq) return;
    const reached = await this.#o.commands.read(
      this.#lastSeq + 1,
      end,
      async (seq, data) => {
        if (seq > this.#lastSeq && seq <= end) {
          await this.#take(seq, data, "stream");
        }
      },
    );
    if (reached < end) {
      // What is left is taken when it comes live; a command lost here is
      // one the controller re-sends (our resume point is past it).
      log.warn("catching up on commands stopped short", {
        at: this.#lastSeq,
        newest: end,
      });
    }
  }

  async #take(seq: number, data: Uint8Array, arrival: Arrival): Promise<void> {
    this.#lastSeq = Math.max(this.#lastSeq, seq);
    let cmd: Command;
    try {
      const parsed = Command.safeParse(
        JSON.parse(dec.decode(data)),
      );
      if (!parsed.success) throw new Error(parsed.error.message);
      cmd = parsed.data;
    } catch (e) {
      log.warn("ignoring a malformed command", { seq, error: String(e) });
      return;
    }
    this.#o.observer?.received();
    const key = Ledger.keyOf(cmd);
    // An abort is applied however it arrives, late too: applying one twice
    // changes nothing.
    if (cmd.type === "abort") {
      this.#ledger.add(key);
      this.#o.executor.abort(key, cmd.reason);
      return;
    }
    // The ledger is bounded: what is queued or running is checked as well,
    // so a late or re-sent copy can never run beside the original.
    if (this.#ledger.has(key) || this.#o.executor.holds(key)) {
      this.#o.observer?.duplicate();
      return;
    }
    this.#ledger.add(key);
    const now = this.#o.clock.now();
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
      startedAt: this.#o.startedAt,
      now,
      catchUpWindowMs: window,
    });
    if (lookUp && await this.#hasOutcome(cmd)) {
      this.#o.observer?.duplicate();
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
    this.#o.executor.enqueue(cmd, seq);
  }

  /**
   * Whether the results log already holds an outcome of this attempt.
   * Right after a restart JetStream may still be recovering; a failed look-up
   * is retried for a while before the task is run anyway, since running it
   * twice is the lesser evil only next to never running it.
   */
  async #hasOutcome(cmd: RunCommand): Promise<boolean> {
    for (let attempt = 1;; attempt++) {
      try {
        const last = await this.#o.results.lastAttempt(
          cmd.job,
          cmd.step,
          this.#o.node,
        );
        return last !== undefined && last >= cmd.attempt;
      } catch (e) {
        if (attempt >= LOOKUP_TRIES || this.#stopping) {
          log.warn("cannot tell whether a task already ran; running it", {
            job: cmd.job,
            step: cmd.step,
            error: String(e),
          });
          return false;
        }
        await sleep(this.#o.clock, 250 * attempt);
      }
    }
  }
}
