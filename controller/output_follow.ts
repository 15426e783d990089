/**
 * Running tasks' output, as workers stream it into GRID_OUT: followed
 * from a sequence on, for one job (optionally one step and one node).
 * Any controller can follow any job's output: the stream is shared.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { OutputChunk } from "../models/messages.ts";
import type { Cancel } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { StreamFollower } from "../lib/ordered.ts";
import { STREAM_OUTPUT, subjects } from "../lib/topology.ts";
import { badRecords, readRecord } from "./bad_records.ts";

const log = logger("api");

/** Which output: a job's, or one step's or one node's of it. */
export interface OutputFilter {
  job: string;
  step?: number;
  node?: string;
}

/** A reader of output started by `follow`. */
export interface OutputWatch {
  stop: Cancel;
  /** Chunks that match and are stored but not read yet (0: caught up). */
  pending(): Promise<number>;
}

export interface OutputFollower {
  /** Calls `fn` for each chunk that matches, after `after`, as they come, until stopped. */
  follow(
    f: OutputFilter,
    after: number,
    fn: (c: OutputChunk, seq: number) => void,
  ): OutputWatch;
}

/** The subject filter that selects what `f` asks for. */
export function outputFilter(f: OutputFilter): string {
  if (f.step !== undefined && f.node !== undefined) {
    return subjects.output(f.job, f.step, f.node);
  }
  const step = f.step === undefined ? "*" : String(f.step);
  return f.node === undefined
    ? `grid.out.${f.job}.${step === "*" ? ">" : `${step}.>`}`
    : `grid.out.${f.job}.${step}.${f.node}`;
}

/** A chunk as read, checked: the schema, and the subject it names. */
export function readChunk(
  m: { subject: string; seq: number; json(): unknown },
): OutputChunk | undefined {
  const r = readRecord(() => m.json(), OutputChunk);
  if (!r.ok) {
    badRecords.report("output", m.subject, m.seq, r.why);
    return undefined;
  }
  const c = r.value;
  // A worker may write only its own output subjects: a chunk naming
  // another node or job there is forged.
  if (m.subject !== subjects.output(c.job, c.step, c.node)) {
    badRecords.report(
      "output",
      m.subject,
      m.seq,
      "a chunk for another subject",
    );
    return undefined;
  }
  return c;
}

export class NatsOutputFollower implements OutputFollower {
  constructor(readonly js: JetStreamClient) {}

  follow(
    f: OutputFilter,
    after: number,
    fn: (c: OutputChunk, seq: number) => void,
  ): OutputWatch {
    const reader = new StreamFollower(
      this.js,
      STREAM_OUTPUT,
      outputFilter(f),
      after,
      (m) => {
        const c = readChunk(m);
        if (c) fn(c, m.seq);
      },
      (e) =>
        log.warn("following output stopped", { job: f.job, error: String(e) }),
    );
    return {
      stop: () => reader.stop(),
      pending: async () => (await reader.pending()) ?? 1,
    };
  }
}
