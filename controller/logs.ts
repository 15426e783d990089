/**
 * The two logs the runner works on, as narrow interfaces: the event log
 * (task results, cancels, job timeouts, in one order) and the command log
 * (what is sent to each node). NATS implements them in nats_logs.ts; unit
 * tests use the memory ones in testing.ts.
 */
import type { JobEvent } from "../models/messages.ts";
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
