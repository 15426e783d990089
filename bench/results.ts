/**
 * What the bench measured, as the benchmarks fill it in and the report
 * reads it: figures, ratios against the raw baselines of the same
 * invocation, and the targets they are judged by.
 */
import type { Stats } from "./lib.ts";
import type { ProfileLine } from "./profile.ts";

export interface Machine {
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  deno: string;
  natsServer: string;
  natsClient: string;
  commit: string;
  dirty: number;
  date: string;
  load: string;
}

export type Cpu = { srv: number; ctl: number; wrk: number };

/** A raw baseline's figures: step times, CPU per step, other load. */
export interface RawFloor {
  cycle: Stats;
  direct: Stats;
  /** nats-server, the raw publisher (the bench), the raw workers. */
  cpu: Cpu;
  /** The controller's CPU per raw step: it reads every GRID_RES entry. */
  gridCtlCpu: number;
  foreignPct: number;
}

export interface BarrierResult {
  n: number;
  /** Setup, not benchmarked, ms. */
  setup: {
    /** N simulated workers enrolled through POST /nodes/enroll. */
    enrollMs: number;
    /** N raw workers' users minted from the keys. */
    mintMs: number;
    /** N raw workers connected and subscribed. */
    rawConnectMs: number;
  };
  raw: RawFloor;
  grid: {
    job: string;
    /** Spawn → all N GRID workers' connections up. */
    connectMs: number;
    regMs: number;
    agentsReadyMs: number;
    cycle: Stats;
    react: Stats;
    spread: Stats;
    tail: Stats;
    wallMs: number;
    cpu: Cpu;
    foreignPct: number;
    idlePct: { ctl: number; srv: number };
    ctlRssMax: number;
    /** Peak while the N workers registered, while the job ran, and in the raw phases. */
    ctlRssReg: number;
    ctlRssJob: number;
    ctlRssRaw: number;
    ctlRssAfter: number;
    natsRssMax: number;
    wrkRss: number[];
    results: number;
    commands: number;
    stopMs?: number;
  };
}

/** One job of the streaming part (streaming.ts). */
export interface StreamRun {
  job: string;
  cycle: Stats;
  wallMs: number;
  /** CPU ms per step, warm-up included. */
  cpu: Cpu;
  /** The controller's CPU over the job, % of one core. */
  ctlCpuPct: number;
  ctlRssMax: number;
  natsRssMax: number;
  foreignPct: number;
}

/** One way of running the rollout part's ten batches (rollout.ts). */
export interface RolloutRun {
  /** Submit to the last job's record written final, ms, one per round. */
  wall: Stats;
  /** CPU ms per run: controller, nats-server, all sim processes. */
  cpu: Cpu;
}

export interface Target {
  what: string;
  target: string;
  measured: string;
  ok: boolean | undefined;
}

export interface BenchResults {
  command: string;
  options: {
    sizes: number[];
    steps: number;
    stepWarmup: number;
    overheadJobs: number;
    jobs: number;
    tputWorkers: number;
    barrierSteps: number;
    barrierWarmup: number;
    history: number;
    simProcs: number;
    /** How raw workers take their acks: "request" (js.publish) or "inbox". */
    rawAck: string;
    smoke: boolean;
    profile: boolean;
    controller: Record<string, string | number>;
  };
  machine: Machine;
  rawStep?: { cycle: Stats; direct: Stats; foreignPct: number };
  gridStep?: {
    job: string;
    cycle: Stats;
    react: Stats;
    worker: Stats;
    wallMs: number;
    perStepWallMs: number;
    cpuPerStep: { ctl: number; srv: number; wrk: number };
    foreignPct: number;
  };
  overhead?: { total: Stats; post: Stats };
  throughput?: {
    jobs: number;
    workers: number;
    seconds: number;
    jobsPerSec: number;
    submitPerSec: number;
    retries429: number;
    failed: number;
    cpuMsPerJob: Cpu;
    ctlRssMax: number;
  };
  barrier: BarrierResult[];
  /**
   * The raw floor with its workers in WORKERS (as everywhere else) and in
   * GRID allowed everything (no accounts crossed): N = 1 is step (a).
   */
  accounts?: { n: number; workers: RawFloor; grid: RawFloor }[];
  history?: {
    /** How the finished jobs were stored: through the API, or written straight into the store. */
    seedMode?: "api" | "direct";
    stored: number;
    seeded: number;
    seedSec: number;
    seedJobsPerSec: number;
    list: Stats & { bytes: number };
    one: Stats & { bytes: number };
    bigJob?: { n: number; results: number; ms: number; bytes: number };
    ctlRss: number;
    /** After a restart on the same store (not with --profile). */
    restart?: {
      /** Spawning the controller → its API answers `/status`. */
      startupMs: number;
      /** Controller RSS once it answers, and after the reads below. */
      rss: number;
      rssAfter: number;
      list: Stats & { bytes: number };
      one: Stats & { bytes: number };
    };
  };
  final?: {
    ctlRss: number;
    ctlHwm: number;
    natsRss: number;
    natsHwm: number;
    ctlCpuMs: number;
  };
  profiles: {
    name: string;
    file: string;
    totalMs: number;
    idleMs: number;
    byFunction: ProfileLine[];
    byModule: ProfileLine[];
    /** V8 heap (used / total) and RSS, MiB, before and after a forced GC. */
    heap: {
      before: { used: number; total: number; rss: number };
      afterGc: { used: number; total: number; rss: number };
    };
  }[];
  /** N workers streaming output during a step, against the same step quiet. */
  streaming?: {
    n: number;
    /** Lines a second per worker, each `lineBytes` long, for `stepMs` a step. */
    rate: number;
    stepMs: number;
    /** Timed steps per job (one more warms up). */
    steps: number;
    lineBytes: number;
    quiet: StreamRun;
    streaming: StreamRun;
    /** The client following the streaming job's output. */
    reader: {
      events: number;
      lines: number;
      skipped: number;
      bytes: number;
      ended: boolean;
      /** Lines the workers wrote. */
      sent: number;
    };
  };
  /** A rollout in batches of 10% against the same barrier steps without. */
  rollout?: {
    n: number;
    batches: number;
    rounds: number;
    rollout: RolloutRun;
    /** The target's baseline: ten barrier steps on N/10 nodes, one job. */
    steps: RolloutRun;
    /** Ten one-step jobs, one per tenth, back to back. */
    jobs: RolloutRun;
    foreignPct: number;
  };
  targets?: Target[];
  elapsedSec?: number;
}
