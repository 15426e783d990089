/**
 * What the worker needs from the command log, the results log and the node
 * registry, and no more. The agent's parts are written against these;
 * nats_logs.ts implements them on NATS, testing.ts in memory for unit
 * tests. How they reach the server (subjects, consumers, credentials) stays
 * behind them.
 */
import type { Cancel } from "../lib/clock.ts";
import type { OutputChunk, ResultEvent } from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";

/** One command of this node, delivered as it was stored. */
export interface Delivery {
  /** Its position in the command log: a positive integer. */
  seq: number;
  /** The position of this node's command before it: 0 if none, NaN if unknown. */
  prev: number;
  data: Uint8Array;
}

export interface CommandFollower {
  delivered(d: Delivery): void;
  /** Live delivery may have missed commands (after a reconnect): look again. */
  resync(): void;
}

/** This node's commands, in the order they were stored. */
export interface CommandLog {
  /** Delivers commands as they are stored, until cancelled. */
  follow(f: CommandFollower): Cancel;
  /** The position of this node's newest command; 0 if none. */
  newest(): Promise<number>;
  /**
   * Reads this node's commands from `from` up to `to`, in order, awaiting
   * `fn` for each. Answers the position read up to: short of `to` when the
   * log went quiet first.
   */
  read(
    from: number,
    to: number,
    fn: (seq: number, data: Uint8Array) => Promise<void>,
  ): Promise<number>;
}

/** Where outcomes of attempts are kept: the jobs' logs. */
export interface ResultLog {
  /**
   * Resolves once the log holds `ev`; a copy of an event already held is
   * not stored twice. Throws when that is not known, and LogClosedError
   * when it never will be.
   */
  report(ev: ResultEvent): Promise<void>;
  /**
   * Sends a piece of a running task's output, for live views. Not
   * acknowledged: a chunk lost is a gap in a live view, never in a result.
   */
  stream(chunk: OutputChunk): void;
  /** The attempt of the newest outcome of this step on this node, if any. */
  lastAttempt(
    job: string,
    step: number,
    node: string,
  ): Promise<number | undefined>;
}

/** This node's record in the fleet's registry. */
export interface NodeBucket {
  get(): Promise<NodeRecord | undefined>;
  put(rec: NodeRecord): Promise<void>;
}

export interface WorkerLogs {
  commands: CommandLog;
  results: ResultLog;
  nodes: NodeBucket;
}

/** The connection is closed for good: retrying cannot help. */
export class LogClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LogClosedError";
  }
}
