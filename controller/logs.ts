/**
 * The two logs the runner works on, as narrow interfaces: the event log
 * (task results, cancels, job timeouts, in one order) and the command log
 * (what is sent to each node). NATS implements them in nats_logs.ts; unit
 * tests use the memory ones in testing.ts.
 */
import { JobEvent } from "../models/messages.ts";
import { onItsSubject } from "../lib/topology.ts";
import { type BadRecords, badRecords, readRecord } from "./bad_records.ts";
import type { Cancel } from "../lib/clock.ts";

/** One entry of the event log. */
export interface LogEntry {
  seq: number;
  /** The job the entry's subject names. */
  job: string;
  /** Undefined when the entry is not a readable event: it is skipped. */
  event?: JobEvent;
}

export interface EventLog {
  /** Sequence of the newest entry. */
  last(): Promise<number>;
  /**
   * Calls `fn` for every entry after `after`, in order, as they come, until
   * cancelled. Reading that fails or stalls starts again where it stopped.
   */
  follow(after: number, fn: (e: LogEntry) => void): Cancel;
  /** Reads entries `from`..`to` in order; answers the sequence reached. */
  read(from: number, to: number, fn: (e: LogEntry) => void): Promise<number>;
  /** Appends an event decided by a controller; resolves once it is stored. */
  append(ev: JobEvent): Promise<void>;
  /** The output of the result stored at `seq` ("" when gone). */
  output(seq: number): Promise<string>;
  /** Its output and data; a log without it has output alone. */
  stored?(seq: number): Promise<StoredResult>;
}

/** What a result keeps beside its status: the text, and the action's data. */
export interface StoredResult {
  output: string;
  data?: unknown;
}

/** How a command publish ended: its stream sequence, or -1 and why. */
export type Sent = (seq: number, err?: string) => void;

export interface CommandLog {
  /**
   * Publishes a command for `node`. `msgId` de-duplicates within the
   * stream's window: the same id twice is stored once (none: no check).
   */
  send(
    node: string,
    body: Uint8Array,
    msgId: string | undefined,
    done: Sent,
  ): void;
  stop(): void;
}

/**
 * The job event a message of the event log holds, checked: its bytes are
 * an event, and the event sits on the subject it names (a worker can write
 * only its own result subjects, so a cancel there, or a result naming
 * another node, is forged). Anything else is reported once and skipped.
 */
export function readEvent(
  m: { subject: string; seq: number; json(): unknown; time?: Date },
  bad: BadRecords = badRecords,
): JobEvent | undefined {
  const ev = readRecord(() => m.json(), JobEvent);
  if (!ev.ok) {
    bad.report("results", m.subject, m.seq, ev.why);
    return undefined;
  }
  if (!onItsSubject(m.subject, ev.value)) {
    bad.report(
      "results",
      m.subject,
      m.seq,
      `a ${ev.value.type} event for another subject`,
    );
    return undefined;
  }
  const stored = m.time?.getTime();
  return stored === undefined ? ev.value : onServerClock(ev.value, stored);
}

/** How far a worker's clock may run ahead of the server's before it is corrected. */
export const CLOCK_AHEAD_MS = 1000;

/**
 * A result cannot finish after the server stored it: when its times say
 * so, the worker's clock runs fast, and they are moved back by that much
 * (durations kept). The scheduler times retries and rollout pauses from a
 * result's `finished_at`; a worker 10 minutes fast would otherwise delay
 * its retries by 10 minutes. The stored time is the message's, so a replay
 * corrects it the same way.
 */
export function onServerClock(ev: JobEvent, storedMs: number): JobEvent {
  if (ev.type !== "result") return ev;
  const ahead = Date.parse(ev.finished_at) - storedMs;
  if (!(ahead > CLOCK_AHEAD_MS)) return ev;
  const back = (iso: string) => new Date(Date.parse(iso) - ahead).toISOString();
  return {
    ...ev,
    finished_at: back(ev.finished_at),
    ...(ev.started_at ? { started_at: back(ev.started_at) } : {}),
  };
}
