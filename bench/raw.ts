/**
 * The raw baselines, run against GRID's own nats-server in the same
 * invocation: the floor GRID's figures are divided by.
 *
 * Same transport shape as GRID (DESIGN.md "Dispatch: why republish"), with
 * nothing else: a file-backed command stream `BENCH_CMD` whose republish rule
 * copies `bench.cmd.<x>` to the core subject `bench.run.<x>`; workers answer
 * with an acknowledged JetStream publish to `bench.res.<step>.<id>` in the
 * file-backed `BENCH_RES`; this side reads results with one ordered consumer.
 *
 * (a) `step`: one command to one worker, one result back, sequentially.
 * (b) `fanout`: one broadcast command (`bench.cmd.all`) to N workers, wait
 *     for all N results, then the next.
 *
 * Each step's time is taken two ways: here (publish → last result in) and
 * from the server's store timestamps of the results (last result of step k
 * − last result of step k−1), which is how GRID's steps are timed too.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  type JetStreamClient,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { CpuMeter } from "./lib.ts";

export const RAW_CMD = "BENCH_CMD";
export const RAW_RES = "BENCH_RES";

export interface RawRun {
  /** Publish → last result received by this side's consumer, ms. */
  direct: number[];
  /** Store time of the last result of step k − that of step k−1, ms. */
  cycle: number[];
  /** Wall time of the measured steps, ms. */
  wall: number;
  /** CPU used by other people's processes meanwhile, % of all cores. */
  foreignPct: number;
}

interface Waiting {
  step: number;
  want: number;
  got: number;
  lastNs: bigint;
  done: () => void;
}

const enc = new TextEncoder();

export class RawBench {
  #js: JetStreamClient;
  #stop?: () => void;
  #waiting?: Waiting;
  #step = 0;

  private constructor(readonly nc: NatsConnection) {
    this.#js = jetstream(nc);
  }

  static async open(nc: NatsConnection): Promise<RawBench> {
    const jsm = await jetstreamManager(nc);
    for (const name of [RAW_CMD, RAW_RES]) {
      await jsm.streams.delete(name).catch(() => {});
    }
    const day = 86_400_000 * 1_000_000;
    await jsm.streams.add({
      name: RAW_CMD,
      subjects: ["bench.cmd.>"],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: day,
      duplicate_window: 120_000 * 1_000_000,
      republish: { src: "bench.cmd.>", dest: "bench.run.>" },
    });
    await jsm.streams.add({
      name: RAW_RES,
      subjects: ["bench.res.>"],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: day,
      duplicate_window: 120_000 * 1_000_000,
    });
    const b = new RawBench(nc);
    await b.#consume();
    return b;
  }

  async #consume(): Promise<void> {
    const c = await this.#js.consumers.get(RAW_RES, {
      filter_subjects: "bench.res.>",
      deliver_policy: DeliverPolicy.New,
    });
    const msgs = await c.consume();
    this.#stop = () => msgs.stop();
    (async () => {
      for await (const m of msgs) {
        const w = this.#waiting;
        if (!w) continue;
        // bench.res.<step>.<id>
        const step = Number(m.subject.split(".")[2]);
        if (step !== w.step) continue;
        w.got++;
        if (m.timestampNanos > w.lastNs) w.lastNs = m.timestampNanos;
        if (w.got === w.want) w.done();
      }
    })().catch((e) => console.error(`raw consumer ended: ${e}`));
  }

  /** One command, `want` results; returns [direct ms, last result store time ns]. */
  async #once(subject: string, want: number): Promise<[number, bigint]> {
    const step = ++this.#step;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const w: Waiting = { step, want, got: 0, lastNs: 0n, done };
    this.#waiting = w;
    const cmd = {
      type: "run",
      job: "bench",
      step,
      attempt: 1,
      backend: "ping",
      action: "echo",
      params: {},
      timeout_ms: 60_000,
      issued_at: new Date().toISOString(),
    };
    const t0 = performance.now();
    const ack = this.#js.publish(subject, enc.encode(JSON.stringify(cmd)), {
      msgID: `bench.${step}`,
    });
    const timer = setTimeout(() => done(), 120_000);
    await finished;
    clearTimeout(timer);
    const t = performance.now() - t0;
    await ack;
    this.#waiting = undefined;
    if (w.got < want) {
      throw new Error(`raw step ${step}: ${w.got}/${want} results in 120 s`);
    }
    return [t, w.lastNs];
  }

  async #run(
    subject: string,
    want: number,
    warmup: number,
    steps: number,
  ): Promise<RawRun> {
    let prev = 0n;
    for (let i = 0; i < warmup; i++) [, prev] = await this.#once(subject, want);
    const direct: number[] = [];
    const cycle: number[] = [];
    const t0 = performance.now();
    const meter = new CpuMeter([]);
    for (let i = 0; i < steps; i++) {
      const [t, ns] = await this.#once(subject, want);
      direct.push(t);
      if (prev > 0n) cycle.push(Number(ns - prev) / 1e6);
      prev = ns;
    }
    return {
      direct,
      cycle,
      wall: performance.now() - t0,
      foreignPct: meter.since().foreignPct,
    };
  }

  /** (a) one command → one worker → one result. */
  step(worker: string, warmup: number, steps: number): Promise<RawRun> {
    return this.#run(`bench.cmd.${worker}`, 1, warmup, steps);
  }

  /** (b) one broadcast → N workers → N results. */
  fanout(n: number, warmup: number, steps: number): Promise<RawRun> {
    return this.#run("bench.cmd.all", n, warmup, steps);
  }

  async close(): Promise<void> {
    this.#stop?.();
    const jsm = await jetstreamManager(this.nc);
    for (const name of [RAW_CMD, RAW_RES]) {
      await jsm.streams.delete(name).catch(() => {});
    }
  }
}
