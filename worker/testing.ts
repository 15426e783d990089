/**
 * In-memory logs and a task whose end the test decides, for unit tests of
 * the worker without NATS. Kept out of *_test.ts so every worker test (and
 * later ones elsewhere) can share them.
 */
import { z } from "zod";
import type {
  Command,
  OutputChunk,
  ResultEvent,
  RunCommand,
} from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";
import { type Clock, iso, ManualClock } from "../lib/clock.ts";
import { abortReason } from "../backends/abort.ts";
import { recordingExec } from "../backends/testing.ts";
import { testBackend } from "../backends/test_actions.ts";
import {
  ActionError,
  type BackendDef,
  defineAction,
} from "../backends/types.ts";
import { Agent } from "./agent.ts";
import {
  type CommandFollower,
  type CommandLog,
  LogClosedError,
  type NodeBucket,
  type ResultLog,
} from "./logs.ts";

const encoder = new TextEncoder();

/** One node's command log; positions skipped stand for other nodes' commands. */
export class FakeCommandLog implements CommandLog {
  #entries: { seq: number; data: Uint8Array }[] = [];
  #last = 0;
  #follower?: CommandFollower;
  /** Every read, as asked. */
  reads: { from: number; to: number }[] = [];
  /** newest() fails while set. */
  failNewest = false;

  get following(): boolean {
    return this.#follower !== undefined;
  }

  /** Stores a command after `others` commands of other nodes; its position. */
  append(cmd: Command | string, others = 0): number {
    this.#last += others + 1;
    const body = typeof cmd === "string" ? cmd : JSON.stringify(cmd);
    this.#entries.push({ seq: this.#last, data: encoder.encode(body) });
    return this.#last;
  }

  /** Delivers a stored command live (again, if asked), as the server would. */
  deliver(seq: number): void {
    const i = this.#entries.findIndex((e) => e.seq === seq);
    if (i < 0) throw new Error(`no command at ${seq}`);
    this.#follower?.delivered({
      seq,
      prev: this.#entries[i - 1]?.seq ?? 0,
      data: this.#entries[i]!.data,
    });
  }

  /** Stores and delivers a command; its position. */
  send(cmd: Command | string, others = 0): number {
    const seq = this.append(cmd, others);
    this.deliver(seq);
    return seq;
  }

  /** Tells the follower it may have missed commands (a reconnect). */
  resync(): void {
    this.#follower?.resync();
  }

  follow(f: CommandFollower): () => void {
    this.#follower = f;
    return () => {
      if (this.#follower === f) this.#follower = undefined;
    };
  }

  newest(): Promise<number> {
    if (this.failNewest) return Promise.reject(new Error("no answer"));
    return Promise.resolve(this.#entries.at(-1)?.seq ?? 0);
  }

  async read(
    from: number,
    to: number,
    fn: (seq: number, data: Uint8Array) => Promise<void>,
  ): Promise<number> {
    this.reads.push({ from, to });
    for (const e of this.#entries) {
      if (e.seq >= from && e.seq <= to) await fn(e.seq, e.data);
    }
    return Math.max(from - 1, Math.min(to, this.#last));
  }
}

export class FakeResultLog implements ResultLog {
  /** Events held, in the order they were reported. */
  events: ResultEvent[] = [];
  /** Reports that fail before the next is held. */
  failReports = 0;
  /** Look-ups that fail before the next answers. */
  failLookUps = 0;
  /** Every report fails for good. */
  closed = false;
  reportCalls = 0;
  lookUps = 0;
  /** Output chunks streamed, in order. */
  chunks: OutputChunk[] = [];

  stream(chunk: OutputChunk): void {
    this.chunks.push(structuredClone(chunk));
  }

  report(ev: ResultEvent): Promise<void> {
    this.reportCalls++;
    if (this.closed) return Promise.reject(new LogClosedError("closed"));
    if (this.failReports > 0) {
      this.failReports--;
      return Promise.reject(new Error("no ack"));
    }
    // Held once per attempt, as the stream's de-duplication does.
    if (!this.events.some((e) => sameAttempt(e, ev))) {
      this.events.push(structuredClone(ev));
    }
    return Promise.resolve();
  }

  lastAttempt(
    job: string,
    step: number,
    node: string,
  ): Promise<number | undefined> {
    this.lookUps++;
    if (this.failLookUps > 0) {
      this.failLookUps--;
      return Promise.reject(new Error("JetStream is recovering"));
    }
    const last = this.events.findLast((e) =>
      e.job === job && e.step === step && e.node === node
    );
    return Promise.resolve(last?.attempt);
  }

  /** What was reported for `job`'s step 0 attempt 1 (or those given). */
  of(job: string, attempt = 1, step = 0): ResultEvent | undefined {
    return this.events.find((e) =>
      e.job === job && e.attempt === attempt && e.step === step
    );
  }
}

function sameAttempt(a: ResultEvent, b: ResultEvent): boolean {
  return a.job === b.job && a.step === b.step && a.node === b.node &&
    a.attempt === b.attempt;
}

export class FakeNodeBucket implements NodeBucket {
  record?: NodeRecord;
  /** Every record written, in order. */
  puts: NodeRecord[] = [];

  get(): Promise<NodeRecord | undefined> {
    return Promise.resolve(this.record && structuredClone(this.record));
  }

  put(rec: NodeRecord): Promise<void> {
    this.record = structuredClone(rec);
    this.puts.push(this.record);
    return Promise.resolve();
  }
}

/**
 * The `gate` backend: its `hold` task runs until the test opens its gate,
 * or until aborted (as a real task stops on its signal).
 */
export class Gates {
  /** Names of the tasks started, in order. */
  started: string[] = [];
  #open = new Map<string, () => void>();

  readonly backend: BackendDef = {
    name: "gate",
    actions: {
      hold: defineAction({
        params: z.strictObject({ name: z.string() }),
        run: (p, ctx) => {
          this.started.push(p.name);
          return new Promise((resolve, reject) => {
            const onAbort = () => {
              this.#open.delete(p.name);
              reject(new ActionError(abortReason(ctx.signal)));
            };
            this.#open.set(p.name, () => {
              ctx.signal.removeEventListener("abort", onAbort);
              resolve({ output: `${p.name} done` });
            });
            ctx.signal.addEventListener("abort", onAbort, { once: true });
          });
        },
      }),
    },
  };

  /** Names of the tasks running and not yet let through. */
  get holding(): string[] {
    return [...this.#open.keys()];
  }

  /** Lets a held task finish with success. */
  open(name: string): void {
    const done = this.#open.get(name);
    if (!done) throw new Error(`${name} is not being held`);
    this.#open.delete(name);
    done();
  }
}

export const NODE = "node-1";
/** The agent tests' catch-up window. */
export const WINDOW_MS = 600_000;
/** The agent tests' heartbeat interval. */
export const HEARTBEAT_MS = 5000;

/** A run command for this node, issued now by `clock`. */
export function runCmd(
  clock: Clock,
  job: string,
  over: Partial<RunCommand> = {},
): RunCommand {
  return {
    type: "run",
    job,
    step: 0,
    attempt: 1,
    backend: "test",
    action: "succeed",
    params: { message: `${job} ran` },
    timeout_ms: 60_000,
    issued_at: iso(clock.now()),
    ...over,
  };
}

/** A run command whose task holds until `gates.open(job)`. */
export function heldCmd(
  clock: Clock,
  job: string,
  over: Partial<RunCommand> = {},
): RunCommand {
  return runCmd(clock, job, {
    backend: "gate",
    action: "hold",
    params: { name: job },
    ...over,
  });
}

/** An agent on in-memory logs and a manual clock, not yet started. */
export function testAgent() {
  const clock = new ManualClock();
  const commands = new FakeCommandLog();
  const results = new FakeResultLog();
  const nodes = new FakeNodeBucket();
  const gates = new Gates();
  const agent = new Agent({
    logs: { commands, results, nodes },
    clock,
    id: NODE,
    hostname: `${NODE}.example`,
    groups: ["web"],
    heartbeatMs: HEARTBEAT_MS,
    catchUpWindowMs: WINDOW_MS,
    backends: new Map([
      ["test", testBackend()],
      ["gate", gates.backend],
    ]),
    exec: recordingExec(),
  });
  return { agent, clock, commands, results, nodes, gates };
}
