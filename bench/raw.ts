/**
 * The raw baselines, run against GRID's own nats-server in the same
 * invocation: the floor GRID's figures are divided by.
 *
 * The floor of the same secured topology, with nothing of GRID's engine:
 *
 * - Raw workers are users of the WORKERS account with a worker's
 *   permissions for their own ids (`raw-<sim id>`, minted by
 *   NatsTrust.worker as enrollment mints them; sims.ts), each on a
 *   connection of its own made as gridw makes it. They cannot ride on the
 *   simulated GRID workers' connections: a worker may receive only on its
 *   own `grid.run.<id>`, and there the agent would take raw commands as
 *   its own (a genuine republish) or log each as forged. The raw ids are
 *   no nodes: never enrolled, never registered, so the controller holds
 *   nothing for them and no job targets them.
 * - Commands take GRID's path: an acknowledged publish per worker into
 *   GRID_CMD (`grid.cmd.raw-<id>`, acks on one inbox as the controller
 *   takes them), which the server republishes to `grid.run.raw-<id>` in
 *   GRID and the `grid.run.>` stream export carries into WORKERS. A
 *   worker's permissions admit no shared subject, so there is no broadcast
 *   in this topology: fan-out to N workers is N commands, as for GRID.
 * - Results take GRID's path: the worker's acknowledged JetStream publish
 *   to `grid.res.bench-raw.<step>.raw-<id>` goes through WORKERS' service
 *   import of `grid.res.>` into GRID_RES, and the ack comes back through
 *   the import's reply mapping. `bench-raw` is no job id (those are 16 hex
 *   digits): the controller, which reads every GRID_RES entry, parses
 *   these and drops them. That reading is CPU the floor did not pay when
 *   it had a stream of its own; the barrier benchmark reports it.
 * - This side learns that a step is done from a core subscription to
 *   `grid.res.bench-raw.>` in GRID, which sees each result as the stream
 *   does, and reads the results' store times back from GRID_RES after the
 *   run. The controller's consumer already reads every result; a second
 *   consumer here would have the server deliver each raw result twice
 *   from the stream, which GRID's results are not.
 *
 * (a) `step`: one command to one worker, one result back, sequentially.
 * (b) `fanout`: one command to each of N workers, wait for all N results,
 *     then the next.
 *
 * Each step's time is taken two ways: here (first publish → last result
 * seen) and from the server's store timestamps of the results (last result
 * of step k − last result of step k−1), which is how GRID's steps are
 * timed too.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  jetstream,
  type JetStreamClient,
  jetstreamManager,
} from "@nats-io/jetstream";
import { AckedPublisher } from "../lib/acked.ts";
import { STREAM_RESULTS, subjects } from "../lib/topology.ts";
import { CpuMeter } from "./lib.ts";
import { readStream } from "./streams.ts";

/** How long a step's results (and its commands' acks) may take. */
const RESULTS_WAIT_MS = 120_000;

/** The job token of raw commands and results: never a GRID job id. */
export const RAW_JOB = "bench-raw";

export interface RawRun {
  /** First publish → last result received by this side's consumer, ms. */
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
  done: () => void;
}

const enc = new TextEncoder();

export class RawBench {
  #js: JetStreamClient;
  #pub: AckedPublisher;
  #sub?: Subscription;
  #waiting?: Waiting;
  #step = 0;

  private constructor(readonly nc: NatsConnection) {
    this.#js = jetstream(nc);
    // A slow ack is no failure here: the results say whether it landed.
    this.#pub = new AckedPublisher(nc, RESULTS_WAIT_MS);
  }

  /** On a connection of a GRID-account user (a controller's identity). */
  static async open(nc: NatsConnection): Promise<RawBench> {
    const b = new RawBench(nc);
    b.#sub = nc.subscribe(subjects.jobEvents(RAW_JOB), {
      callback: (_e, m) => {
        const w = b.#waiting;
        // grid.res.bench-raw.<step>.<id>
        if (!w || Number(m.subject.split(".")[3]) !== w.step) return;
        if (++w.got === w.want) w.done();
      },
    });
    await nc.flush();
    return b;
  }

  /** One command to each of `workers`; returns [step, direct ms]. */
  async #once(workers: readonly string[]): Promise<[number, number]> {
    const step = ++this.#step;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const w: Waiting = { step, want: workers.length, got: 0, done };
    this.#waiting = w;
    // Shaped like GRID's run command, so payloads are the same size.
    const body = enc.encode(JSON.stringify({
      type: "run",
      job: RAW_JOB,
      step,
      attempt: 1,
      backend: "ping",
      action: "echo",
      params: {},
      timeout_ms: 60_000,
      issued_at: new Date().toISOString(),
    }));
    let acked = 0;
    let failed: string | undefined;
    let allAcked!: () => void;
    const acks = new Promise<void>((r) => (allAcked = r));
    const t0 = performance.now();
    for (const id of workers) {
      this.#pub.publish(
        subjects.command(id),
        body,
        `${RAW_JOB}.${step}.${id}`,
        (_seq, err) => {
          if (err) failed ??= `${id}: ${err}`;
          if (++acked === workers.length) allAcked();
        },
      );
    }
    const timer = setTimeout(() => done(), RESULTS_WAIT_MS);
    await finished;
    clearTimeout(timer);
    const t = performance.now() - t0;
    // The publisher times out each ack by itself: this settles.
    await acks;
    this.#waiting = undefined;
    if (failed) {
      throw new Error(`raw step ${step}: a command failed: ${failed}`);
    }
    if (w.got < w.want) {
      throw new Error(`raw step ${step}: ${w.got}/${w.want} results in 120 s`);
    }
    return [step, t];
  }

  async #run(
    workers: readonly string[],
    warmup: number,
    steps: number,
  ): Promise<RawRun> {
    const jsm = await jetstreamManager(this.nc);
    const from = (await jsm.streams.info(STREAM_RESULTS)).state.last_seq + 1;
    let first = 0;
    for (let i = 0; i < warmup; i++) {
      [first] = await this.#once(workers);
    }
    const direct: number[] = [];
    const t0 = performance.now();
    const meter = new CpuMeter([]);
    let last = first;
    for (let i = 0; i < steps; i++) {
      const [step, t] = await this.#once(workers);
      direct.push(t);
      first ||= step;
      last = step;
    }
    const wall = performance.now() - t0;
    const foreignPct = meter.since().foreignPct;
    // Store time of each step's last result, read back now the run is over.
    const lastNs = new Map<number, bigint>();
    await readStream(
      this.#js,
      STREAM_RESULTS,
      subjects.jobEvents(RAW_JOB),
      from,
      (subject, ts) => {
        const step = Number(subject.split(".")[3]);
        if (!((lastNs.get(step) ?? 0n) >= ts)) lastNs.set(step, ts);
      },
    );
    const cycle: number[] = [];
    for (let k = first + 1; k <= last; k++) {
      const a = lastNs.get(k - 1);
      const b = lastNs.get(k);
      if (a === undefined || b === undefined) {
        throw new Error(`raw step ${k}: its results are not in GRID_RES`);
      }
      cycle.push(Number(b - a) / 1e6);
    }
    return { direct, cycle, wall, foreignPct };
  }

  /** (a) one command → one worker → one result. */
  step(worker: string, warmup: number, steps: number): Promise<RawRun> {
    return this.#run([worker], warmup, steps);
  }

  /** (b) one command to each of N workers → N results. */
  fanout(
    workers: readonly string[],
    warmup: number,
    steps: number,
  ): Promise<RawRun> {
    return this.#run(workers, warmup, steps);
  }

  /**
   * Stops reading. The raw commands and results stay in GRID_CMD and
   * GRID_RES, under subjects no job or node has, until the cluster goes.
   */
  close(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#pub.stop();
    return Promise.resolve();
  }
}
