/**
 * The runner's logs in memory: the event log (GRID_RES), the command log
 * (GRID_CMD) and streamed output (GRID_OUT), for unit tests. They deliver
 * asynchronously, as NATS does, within a microtask.
 */
import {
  Command,
  type JobEvent,
  type OutputChunk,
  type RunCommand,
} from "../models/messages.ts";
import { decoder } from "../lib/nats.ts";
import type {
  CommandLog,
  EventLog,
  LogEntry,
  Sent,
  StoredResult,
} from "./logs.ts";
import type {
  OutputFilter,
  OutputFollower,
  OutputWatch,
} from "./output_follow.ts";

export class MemoryEventLog implements EventLog {
  readonly entries: LogEntry[] = [];
  #followers = new Set<(e: LogEntry) => void>();
  /** While set, appends fail as JetStream would when it does not answer. */
  failing = false;

  last(): Promise<number> {
    return Promise.resolve(this.entries.length);
  }

  follow(after: number, fn: (e: LogEntry) => void): () => void {
    const backlog = this.entries.slice(after);
    queueMicrotask(() => backlog.forEach(fn));
    this.#followers.add(fn);
    return () => this.#followers.delete(fn);
  }

  read(from: number, to: number, fn: (e: LogEntry) => void): Promise<number> {
    const end = Math.min(to, this.entries.length);
    for (let seq = from; seq <= end; seq++) fn(this.entries[seq - 1]!);
    return Promise.resolve(Math.max(end, from - 1));
  }

  append(ev: JobEvent): Promise<void> {
    if (this.failing) return Promise.reject(new Error("no stream answered"));
    const e = { seq: this.entries.length + 1, job: ev.job, event: ev };
    this.entries.push(e);
    for (const f of this.#followers) queueMicrotask(() => f(e));
    return Promise.resolve();
  }

  output(seq: number): Promise<string> {
    const ev = this.entries[seq - 1]?.event;
    return Promise.resolve(ev?.type === "result" ? ev.output : "");
  }

  stored(seq: number): Promise<StoredResult> {
    const ev = this.entries[seq - 1]?.event;
    if (ev?.type !== "result") return Promise.resolve({ output: "" });
    return Promise.resolve(
      ev.data === undefined
        ? { output: ev.output }
        : { output: ev.output, data: ev.data },
    );
  }

  /** Events of one job, in order. */
  of(job: string): JobEvent[] {
    return this.entries.filter((e) => e.job === job).map((e) => e.event!);
  }
}

export interface StoredCommand {
  seq: number;
  node: string;
  msgId?: string;
  cmd: Command;
}

/** The command stream: sequences, and de-duplication by message id. */
export class MemoryCommandLog implements CommandLog {
  readonly stored: StoredCommand[] = [];
  #byId = new Map<string, number>();
  /** While set, publishes fail (no stream answered). */
  failing = false;

  send(
    node: string,
    body: Uint8Array,
    msgId: string | undefined,
    done: Sent,
  ): void {
    queueMicrotask(() => {
      if (this.failing) return done(-1, "no stream answered");
      const dup = msgId ? this.#byId.get(msgId) : undefined;
      if (dup !== undefined) return done(dup);
      const seq = this.stored.length + 1;
      const cmd = Command.parse(JSON.parse(decoder.decode(body)));
      this.stored.push({ seq, node, ...(msgId ? { msgId } : {}), cmd });
      if (msgId) this.#byId.set(msgId, seq);
      done(seq);
    });
  }

  stop(): void {}

  /** Run commands stored for `node`, oldest first. */
  runs(node: string): (StoredCommand & { cmd: RunCommand })[] {
    const out: (StoredCommand & { cmd: RunCommand })[] = [];
    for (const c of this.stored) {
      if (c.node === node && c.cmd.type === "run") {
        out.push({ ...c, cmd: c.cmd });
      }
    }
    return out;
  }
}

/** GRID_OUT in memory: chunks as workers stream them. */
export class MemoryOutputLog implements OutputFollower {
  readonly chunks: { seq: number; chunk: OutputChunk }[] = [];
  #followers = new Set<
    { f: OutputFilter; fn: (c: OutputChunk, seq: number) => void }
  >();

  append(chunk: OutputChunk): number {
    const seq = this.chunks.length + 1;
    this.chunks.push({ seq, chunk });
    for (const w of this.#followers) {
      if (matches(w.f, chunk)) queueMicrotask(() => w.fn(chunk, seq));
    }
    return seq;
  }

  follow(
    f: OutputFilter,
    after: number,
    fn: (c: OutputChunk, seq: number) => void,
  ): OutputWatch {
    const backlog = this.chunks.filter((x) =>
      x.seq > after && matches(f, x.chunk)
    );
    queueMicrotask(() => backlog.forEach((x) => fn(x.chunk, x.seq)));
    const w = { f, fn };
    this.#followers.add(w);
    // Delivered within a microtask: nothing stays pending for long.
    return {
      stop: () => void this.#followers.delete(w),
      pending: () => Promise.resolve(0),
    };
  }
}

function matches(f: OutputFilter, c: OutputChunk): boolean {
  return c.job === f.job && (f.step === undefined || c.step === f.step) &&
    (f.node === undefined || c.node === f.node);
}
