/**
 * `deno task bench`: GRID against raw NATS baselines, in one invocation, on
 * one nats-server (the controller's own). Prints a table; a full run also
 * writes docs/BENCHMARKS.md.
 *
 *   deno task bench                       the full run (about 5 minutes on 2 cores)
 *   deno task bench --sizes=100,1000      other barrier sizes (simulated workers)
 *   deno task bench --only=step,barrier   some parts: step,overhead,throughput,barrier,history
 *   deno task bench:smoke                 50 workers, 50 jobs, 20 steps, history 200 (CI)
 *   deno task bench --profile=DIR         + CPU profiles of the controller (skews timings)
 *   deno task bench --hold                keep the cluster up at the end until Ctrl-C
 *
 * Also: --steps=N --overhead-jobs=N --jobs=N --barrier-steps=N --history=N
 * --sim-procs=N --out=FILE, and --raw-ack=inbox: the raw workers take their
 * JetStream acks on one inbox subscription instead of one request each. Only a full run (no --smoke, no --only) writes
 * docs/BENCHMARKS.md unless --out names a file.
 *
 * A benchmark, not a test: it prints figures and ratios and asserts no
 * timing. It fails only when something does not work (a job fails, workers
 * do not register). Every process and temp dir it starts is removed on exit,
 * error, Ctrl-C or SIGTERM; simulated workers also exit if the bench dies.
 */
import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Cluster, freePort, Proc, waitFor } from "../scenarios/cluster.ts";
import {
  BUCKET_JOBS,
  STREAM_COMMANDS,
  STREAM_RESULTS,
} from "../lib/topology.ts";
import {
  childrenOf,
  cleanupAll,
  commOf,
  CpuMeter,
  cpuMs,
  EventProc,
  exitOnSignals,
  memMiB,
  ms,
  onCleanup,
  ourPids,
  pidAlive,
  ROOT,
  RssSampler,
  simId,
  sleep,
  stats,
} from "./lib.ts";
import { RawBench } from "./raw.ts";
import { connectNats } from "../lib/nats.ts";
import { Inspector, summarize } from "./profile.ts";
import {
  type BarrierResult,
  type BenchResults,
  checkTargets,
  type Machine,
  renderMarkdown,
  renderTable,
} from "./report.ts";

// ---- options ----

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    smoke: { type: "boolean", default: false },
    sizes: { type: "string" },
    steps: { type: "string" },
    jobs: { type: "string" },
    "overhead-jobs": { type: "string" },
    "barrier-steps": { type: "string" },
    history: { type: "string" },
    "sim-procs": { type: "string", default: "2" },
    out: { type: "string" },
    profile: { type: "string" },
    hold: { type: "boolean", default: false },
    "raw-ack": { type: "string", default: "request" },
    only: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(
    (await Deno.readTextFile(new URL(import.meta.url))).split("*/")[0],
  );
  Deno.exit(0);
}
const smoke = flags.smoke!;
const num = (v: string | undefined, full: number, small: number) =>
  v === undefined ? (smoke ? small : full) : Number(v);
const opts = {
  smoke,
  sizes: (flags.sizes ?? (smoke ? "50" : "100,1000,5000")).split(",").map(
    Number,
  ),
  steps: num(flags.steps, 500, 20),
  stepWarmup: smoke ? 5 : 50,
  overheadJobs: num(flags["overhead-jobs"], 500, 20),
  jobs: num(flags.jobs, 1000, 50),
  tputWorkers: 10,
  barrierSteps: num(flags["barrier-steps"], 30, 20),
  barrierWarmup: 3,
  history: num(flags.history, 10_000, 200),
  httpSamples: smoke ? 20 : 200,
  simProcs: Number(flags["sim-procs"]),
  // Only a full run rewrites docs/BENCHMARKS.md unless --out says otherwise.
  out: flags.out ?? (smoke || flags.only ? undefined : "docs/BENCHMARKS.md"),
  profile: flags.profile,
  only: new Set(
    (flags.only ?? "step,overhead,throughput,barrier,history").split(","),
  ),
};
for (const [k, v] of Object.entries(opts)) {
  if (typeof v === "number" && !(v >= 0)) {
    console.error(`bad value for ${k}: ${v}`);
    Deno.exit(2);
  }
}
if (!["request", "inbox"].includes(flags["raw-ack"]!)) {
  console.error("--raw-ack is request or inbox");
  Deno.exit(2);
}
if (opts.sizes.some((n) => !(n >= 1)) || !(opts.simProcs >= 1)) {
  console.error("--sizes and --sim-procs take whole numbers ≥ 1");
  Deno.exit(2);
}

const CONTROLLER = {
  maxConcurrent: 50,
  maxPending: 20_000,
  offlineAfter: "120s",
  taskTimeout: "60s",
  heartbeat: "30000", // simulated workers, ms
};

const log = (msg: string) =>
  console.error(`${new Date().toISOString().slice(11, 23)} ${msg}`);
const dec = new TextDecoder();

// ---- the cluster ----

interface Env {
  cluster: Cluster;
  ctlPid: number;
  natsPid: number;
  workerPid: number;
  nc: NatsConnection;
  js: JetStreamClient;
  watch: JobWatch;
  inspector?: Inspector;
}

async function startCluster(): Promise<Env> {
  const cluster = new Cluster({
    maxConcurrent: CONTROLLER.maxConcurrent,
    maxPending: CONTROLLER.maxPending,
    offlineAfter: CONTROLLER.offlineAfter,
    taskTimeout: CONTROLLER.taskTimeout,
    logLevel: "info",
  });
  onCleanup(async () => {
    // The controller removes its nats-server's temp dir when it stops in
    // time; if it has to be killed, the dir would stay behind.
    const dirs = cluster.controller
      ? childrenOf(cluster.controller.pid).map(natsTempDir)
      : [];
    const t0 = performance.now();
    await cluster.stop();
    for (const d of dirs) {
      if (d) await Deno.remove(d, { recursive: true }).catch(() => {});
    }
    log(`controller stopped in ${ms(performance.now() - t0)} ms`);
  });
  // Started here rather than by cluster.startController(): run as
  // `deno task controller` runs it, plus --inspect when profiling.
  const file = `${cluster.dir}/controller.yaml`;
  await Deno.writeTextFile(file, cluster.controllerConfig());
  const inspect = opts.profile ? [`--inspect=127.0.0.1:${freePort()}`] : [];
  const p = new Proc(
    "controller",
    [...controllerArgs(inspect), "-c", file],
    { GRID_LOG: "info" },
  );
  cluster.controller = p;
  await waitFor("the controller API", async () => {
    if (!pidAlive(p.pid)) {
      throw new Error(`the controller exited\n${p.dump()}`);
    }
    const r = await fetch(`${cluster.api}/status`).catch(() => undefined);
    if (!r) return false;
    await r.body?.cancel();
    return r.ok;
  }, 30_000).catch((e) => {
    throw new Error(`${e.message}\n${p.dump()}`);
  });
  const natsPid = childrenOf(p.pid).find((c) => commOf(c) === "nats-server");
  if (!natsPid) throw new Error("cannot find the controller's nats-server");
  await cluster.startWorker({ id: "bench-w1", heartbeat: "5s" });
  await cluster.waitOnline(["bench-w1"]);
  const workerPid = cluster.workers.get("bench-w1")!.pid;
  for (const pid of [p.pid, natsPid, workerPid]) ourPids.add(pid);
  const nc = await connect({ servers: [cluster.natsUrl], name: "bench" });
  onCleanup(() => nc.close().catch(() => {}));
  let inspector: Inspector | undefined;
  if (opts.profile) {
    const line = p.log.find((l) => l.includes("ws://"));
    const url = line?.match(/ws:\/\/\S+/)?.[0];
    if (!url) throw new Error("no inspector URL in the controller's output");
    inspector = await Inspector.connect(url);
    onCleanup(() => inspector?.close());
  }
  return {
    cluster,
    ctlPid: p.pid,
    workerPid,
    natsPid,
    nc,
    js: jetstream(nc),
    watch: new JobWatch(nc),
    inspector,
  };
}

/**
 * The controller is run the way `deno task controller` runs it (deno.json),
 * so a runtime flag added there (a V8 heap setting…) is benchmarked too.
 */
function controllerArgs(extra: string[]): string[] {
  let words: string[] = [];
  try {
    const cfg = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
    const task = cfg.tasks?.controller;
    const cmd = typeof task === "string" ? task : task?.command;
    words = String(cmd).trim().split(/\s+/);
  } catch { /* the default below */ }
  const main = words.indexOf("controller/main.ts");
  if (words[0] !== "deno" || words[1] !== "run" || main < 0) {
    words = ["deno", "run", "-P=controller", "controller/main.ts"];
  }
  const end = words.indexOf("controller/main.ts");
  return ["run", ...extra, ...words.slice(2, end + 1)];
}

/** The temp dir of a nats-server started with `-c <dir>/nats.conf`. */
function natsTempDir(pid: number): string | undefined {
  try {
    const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    const conf = args[args.indexOf("-c") + 1];
    return conf?.endsWith("/nats.conf") && conf.includes("/grid-nats-")
      ? conf.slice(0, -"/nats.conf".length)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Job records as the controller writes them, seen on the KV bucket's subject. */
class JobWatch {
  done = new Map<string, { status: string; at: number }>();
  #waiters = new Map<string, () => void>();
  constructor(nc: NatsConnection) {
    const prefix = `$KV.${BUCKET_JOBS}.`;
    nc.subscribe(`${prefix}>`, {
      callback: (_e, m) => {
        if (m.data.length === 0) return;
        const at = performance.now();
        const id = m.subject.slice(prefix.length);
        // Records put `status` before the (possibly long) task list and node lists.
        const status = /"status":"(\w+)"/.exec(dec.decode(m.data))?.[1] ?? "";
        if (!["completed", "failed", "cancelled"].includes(status)) return;
        if (this.done.has(id)) return;
        this.done.set(id, { status, at });
        this.#waiters.get(id)?.();
      },
    });
  }

  async wait(
    id: string,
    timeoutMs: number,
  ): Promise<{ status: string; at: number }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.done.has(id)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`job ${id} did not finish in ${timeoutMs} ms`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        this.#waiters.set(id, () => {
          clearTimeout(t);
          r();
        });
      });
      this.#waiters.delete(id);
    }
    return this.done.get(id)!;
  }
}

// ---- API ----

// deno-lint-ignore no-explicit-any
type Json = any;

async function api(
  env: Env,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 120_000,
): Promise<{ status: number; json: Json; ms: number; bytes: number }> {
  const t0 = performance.now();
  const r = await fetch(`${env.cluster.api}${path}`, {
    method,
    signal: AbortSignal.timeout(timeoutMs),
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  const t = performance.now() - t0;
  let json: Json = text;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: r.status, json, ms: t, bytes: text.length };
}

async function submit(
  env: Env,
  job: unknown,
): Promise<{ id: string; ms: number; retries: number }> {
  for (let retries = 0;; retries++) {
    const r = await api(env, "POST", "/job", job);
    if (r.status === 202) return { id: r.json.id, ms: r.ms, retries };
    if (r.status === 429 && retries < 1000) {
      await sleep(20);
      continue;
    }
    throw new Error(`POST /job: ${r.status} ${JSON.stringify(r.json)}`);
  }
}

async function onlineNodes(env: Env): Promise<number> {
  return (await api(env, "GET", "/status")).json.nodes.online;
}

const echoJob = (target: unknown, steps: number) => ({
  target,
  tasks: Array.from(
    { length: steps },
    () => ({ backend: "ping", action: "echo" }),
  ),
});

async function pool<T>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

// ---- simulated workers ----

interface SimGroup {
  procs: EventProc[];
  spawnedAt: number;
  ids: string[];
}

function spawnSims(
  env: Env,
  mode: "agent" | "raw",
  n: number,
  prefix: string,
  procs: number,
): SimGroup {
  const per = Math.ceil(n / procs);
  const out: EventProc[] = [];
  const spawnedAt = performance.now();
  for (let i = 0, offset = 0; offset < n; i++, offset += per) {
    out.push(
      new EventProc(`sim ${prefix}#${i}`, [
        "run",
        "-A",
        "bench/sim_workers.ts",
        `--mode=${mode}`,
        `--n=${Math.min(per, n - offset)}`,
        `--offset=${offset}`,
        `--prefix=${prefix}`,
        `--group=${prefix}`,
        `--heartbeat=${CONTROLLER.heartbeat}`,
        `--raw-ack=${flags["raw-ack"]}`,
        `--url=${env.cluster.natsUrl}`,
      ], { GRID_LOG: "warn" }),
    );
  }
  return {
    procs: out,
    spawnedAt,
    ids: Array.from({ length: n }, (_, i) => simId(prefix, i)),
  };
}

/** Waits for `event` ("connected" or "ready") from every sim process; ms since spawn. */
async function simsReady(
  g: SimGroup,
  timeoutMs: number,
  event = "ready",
): Promise<number> {
  let last = 0;
  await Promise.all(g.procs.map(async (p) => {
    await p.waitEvent((e) => e.event === event, timeoutMs);
    last = Math.max(last, performance.now() - g.spawnedAt);
  }));
  return last;
}

async function stopSims(g: SimGroup): Promise<void> {
  await Promise.all(g.procs.map((p) => p.stop()));
}

// ---- reading the streams back ----

/** Calls `fn` for each message of `stream` matching `filter` from `fromSeq` on. */
async function readStream(
  js: JetStreamClient,
  stream: string,
  filter: string,
  fromSeq: number,
  fn: (subject: string, tsNs: bigint, data: Uint8Array) => void,
): Promise<number> {
  const c = await js.consumers.get(stream, {
    filter_subjects: filter,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSeq,
  });
  let pending = (await c.info(true)).num_pending;
  let n = 0;
  while (pending > 0) {
    const batch = await c.fetch({
      max_messages: Math.min(pending, 2000),
      expires: 5000,
    });
    let got = 0;
    for await (const m of batch) {
      got++;
      n++;
      pending = m.info.pending;
      fn(m.subject, m.timestampNanos, m.data);
    }
    if (got === 0) break;
  }
  return n;
}

async function lastSeq(env: Env, stream: string): Promise<number> {
  const jsm = await jetstreamManager(env.nc);
  return (await jsm.streams.info(stream)).state.last_seq;
}

interface StepTimes {
  /** Per step index: store time (ns) of its last result, first and last command. */
  lastRes: Map<number, bigint>;
  firstCmd: Map<number, bigint>;
  lastCmd: Map<number, bigint>;
  results: number;
  commands: number;
}

/** Store timestamps of a job's results and commands, per step. */
async function jobTimes(
  env: Env,
  job: string,
  cmdFrom: number,
  cmdFilter: string,
): Promise<StepTimes> {
  const t: StepTimes = {
    lastRes: new Map(),
    firstCmd: new Map(),
    lastCmd: new Map(),
    results: 0,
    commands: 0,
  };
  t.results = await readStream(
    env.js,
    STREAM_RESULTS,
    `grid.res.${job}.>`,
    1,
    (subject, ts) => {
      const step = Number(subject.split(".")[3]);
      if (!((t.lastRes.get(step) ?? 0n) >= ts)) t.lastRes.set(step, ts);
    },
  );
  t.commands = await readStream(
    env.js,
    STREAM_COMMANDS,
    cmdFilter,
    cmdFrom,
    (_s, ts, data) => {
      const c = JSON.parse(dec.decode(data)) as {
        job: string;
        step: number;
        type: string;
      };
      if (c.job !== job || c.type !== "run") return;
      if (
        !((t.firstCmd.get(c.step) ?? BigInt(Number.MAX_SAFE_INTEGER) * 1000n) <=
          ts)
      ) {
        t.firstCmd.set(c.step, ts);
      }
      if (!((t.lastCmd.get(c.step) ?? 0n) >= ts)) t.lastCmd.set(c.step, ts);
    },
  );
  return t;
}

const nsMs = (a: bigint | undefined, b: bigint | undefined) =>
  a === undefined || b === undefined ? NaN : Number(a - b) / 1e6;

/** Cycle, controller-reaction, dispatch-spread and tail times of steps [from, to). */
function stepSeries(t: StepTimes, from: number, to: number) {
  const cycle: number[] = [];
  const react: number[] = [];
  const spread: number[] = [];
  const tail: number[] = [];
  for (let k = Math.max(1, from); k < to; k++) {
    cycle.push(nsMs(t.lastRes.get(k), t.lastRes.get(k - 1)));
    react.push(nsMs(t.firstCmd.get(k), t.lastRes.get(k - 1)));
    spread.push(nsMs(t.lastCmd.get(k), t.firstCmd.get(k)));
    tail.push(nsMs(t.lastRes.get(k), t.lastCmd.get(k)));
  }
  return { cycle, react, spread, tail };
}

// ---- profiling ----

async function profiled<T>(
  env: Env,
  name: string,
  results: BenchResults,
  fn: () => Promise<T>,
): Promise<T> {
  if (!env.inspector) return await fn();
  await env.inspector.start();
  try {
    return await fn();
  } finally {
    const prof = await env.inspector.stop();
    const file = `${opts.profile}/controller-${name}.cpuprofile`;
    await Deno.mkdir(opts.profile!, { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(prof));
    // Is the resident memory live data or garbage not yet collected?
    const heap = async () => {
      const h = await env.inspector!.call("Runtime.getHeapUsage") as {
        usedSize: number;
        totalSize: number;
      };
      return {
        used: h.usedSize / 2 ** 20,
        total: h.totalSize / 2 ** 20,
        rss: memMiB(env.ctlPid).rss,
      };
    };
    const before = await heap();
    await env.inspector.call("HeapProfiler.collectGarbage");
    const afterGc = await heap();
    results.profiles.push({
      name,
      file,
      heap: { before, afterGc },
      ...summarize(prof, 15),
    });
    log(`profile ${name} written to ${file}`);
  }
}

// ---- the benchmarks ----

async function benchStep(
  env: Env,
  raw: RawBench,
  R: BenchResults,
): Promise<void> {
  const { steps, stepWarmup: warm } = opts;
  const half = Math.ceil(steps / 2);
  // Raw, GRID, raw again: drift in the machine's load hits both alike.
  log(`raw step (a): ${warm} + ${half} sequential commands to one raw worker`);
  const g = spawnSims(env, "raw", 1, "raw1", 1);
  await simsReady(g, 60_000, "connected");
  const rawId = simId("raw1", 0);
  const r1 = await raw.step(rawId, warm, half);

  log(
    `GRID step: one job of ${warm} + ${steps} ping echo steps on one real worker`,
  );
  const cmdFrom = (await lastSeq(env, STREAM_COMMANDS)) + 1;
  const cpu = new CpuMeter([env.ctlPid, env.natsPid, env.workerPid]);
  const t0 = performance.now();
  const id = await profiled(env, "step", R, async () => {
    const { id } = await submit(
      env,
      echoJob({ scope: "node", value: "bench-w1" }, warm + steps),
    );
    const done = await env.watch.wait(id, 600_000);
    if (done.status !== "completed") {
      throw new Error(`step job ${id} ${done.status}`);
    }
    return id;
  });
  const wall = performance.now() - t0;
  const c = cpu.since();

  log(`raw step (a): 1 + ${steps - half} more`);
  const r2 = await raw.step(rawId, 1, steps - half);
  await stopSims(g);
  R.rawStep = {
    cycle: stats([...r1.cycle, ...r2.cycle]),
    direct: stats([...r1.direct, ...r2.direct]),
    foreignPct: (r1.foreignPct + r2.foreignPct) / 2,
  };

  const t = await jobTimes(env, id, cmdFrom, "grid.cmd.bench-w1");
  const s = stepSeries(t, warm, warm + steps);
  const n = warm + steps;
  R.gridStep = {
    job: id,
    cycle: stats(s.cycle),
    react: stats(s.react),
    worker: stats(s.tail),
    wallMs: wall,
    perStepWallMs: wall / n,
    cpuPerStep: { ctl: c.cpu[0]! / n, srv: c.cpu[1]! / n, wrk: c.cpu[2]! / n },
    foreignPct: c.foreignPct,
  };
}

async function benchOverhead(env: Env, R: BenchResults): Promise<void> {
  const n = opts.overheadJobs;
  log(`GRID job overhead: ${n} sequential single-step jobs on one real worker`);
  const total: number[] = [];
  const post: number[] = [];
  for (let i = 0; i < n + 10; i++) {
    const t0 = performance.now();
    const { id, ms: p } = await submit(
      env,
      echoJob({ scope: "node", value: "bench-w1" }, 1),
    );
    const done = await env.watch.wait(id, 60_000);
    if (done.status !== "completed") {
      throw new Error(`job ${id} ${done.status}`);
    }
    if (i < 10) continue; // warm-up
    total.push(done.at - t0);
    post.push(p);
  }
  R.overhead = { total: stats(total), post: stats(post) };
}

async function benchThroughput(env: Env, R: BenchResults): Promise<void> {
  const { jobs, tputWorkers } = opts;
  log(
    `throughput: ${jobs} single-step jobs through the API to ${tputWorkers} workers`,
  );
  const base = await onlineNodes(env);
  const g = spawnSims(env, "agent", tputWorkers, "tput", 1);
  await simsReady(g, 120_000);
  await waitFor(
    "throughput workers",
    async () => (await onlineNodes(env)) >= base + tputWorkers,
    60_000,
    50,
  );
  const cpu = new CpuMeter([
    env.ctlPid,
    env.natsPid,
    ...g.procs.map((p) => p.pid),
  ]);
  const rss = new RssSampler([env.ctlPid, env.natsPid]);
  const ids: string[] = [];
  let retries = 0;
  const t0 = performance.now();
  let submitted = 0;
  await profiled(env, "throughput", R, async () => {
    await pool(Array.from({ length: jobs }, (_, i) => i), 32, async (i) => {
      const r = await submit(
        env,
        echoJob({ scope: "node", value: g.ids[i % tputWorkers] }, 1),
      );
      ids.push(r.id);
      retries += r.retries;
    });
    submitted = performance.now() - t0;
    for (const id of ids) await env.watch.wait(id, 300_000);
  });
  const end = Math.max(...ids.map((id) => env.watch.done.get(id)!.at));
  const failed =
    ids.filter((id) => env.watch.done.get(id)!.status !== "completed").length;
  const c = cpu.since();
  const peak = rss.stop();
  await stopSims(g);
  R.throughput = {
    jobs,
    workers: tputWorkers,
    seconds: (end - t0) / 1000,
    jobsPerSec: jobs / ((end - t0) / 1000),
    submitPerSec: jobs / (submitted / 1000),
    retries429: retries,
    failed,
    cpuMsPerJob: {
      ctl: c.cpu[0]! / jobs,
      srv: c.cpu[1]! / jobs,
      wrk: c.cpu[2]! / jobs,
    },
    ctlRssMax: peak.get(env.ctlPid) ?? NaN,
  };
}

async function benchBarrier(
  env: Env,
  raw: RawBench,
  n: number,
  R: BenchResults,
): Promise<void> {
  const { barrierSteps: K, barrierWarmup: W, simProcs } = opts;
  const half = Math.ceil(K / 2);

  // One set of simulated workers for both: each is one connection with the
  // raw responder and a real Agent on it.
  log(
    `barrier N=${n}: starting ${n} simulated workers in ${simProcs} processes`,
  );
  const base = await onlineNodes(env);
  const rss = new RssSampler([env.ctlPid, env.natsPid]);
  const g = spawnSims(env, "agent", n, `b${n}`, simProcs);
  const connectMs = await simsReady(g, 900_000, "connected");
  let online = 0;
  const regMs = await waitFor(
    `${n} nodes registered`,
    async () => {
      online = (await onlineNodes(env)) - base;
      return online >= n ? performance.now() - g.spawnedAt : false;
    },
    900_000,
    50,
  ).catch((e) => {
    throw new Error(
      `${e.message} (${online}/${n} online)\n${
        g.procs.map((p) => p.tail()).join("\n")
      }`,
    );
  });
  const agentsMs = await simsReady(g, 600_000);
  const regPeak = rss.stop();
  const jobRss = new RssSampler([env.ctlPid, env.natsPid]);
  log(
    `  connected in ${ms(connectMs)} ms, all registered in ${
      ms(regMs)
    } ms; measuring idle CPU`,
  );
  await sleep(1000);
  const idle = new CpuMeter([env.ctlPid, env.natsPid]);
  await sleep(smoke ? 1000 : 5000);
  const ic = idle.since();
  const sims = g.procs.map((p) => p.pid);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

  // Raw, GRID, raw again: drift in the machine's load hits both alike.
  log(`  raw fan-out (b): ${W} + ${half} broadcasts`);
  const rc1 = new CpuMeter([env.natsPid, Deno.pid, ...sims]);
  const r1 = await raw.fanout(n, W, half);
  const c1 = rc1.since();

  log(`  GRID job: ${W} + ${K} steps on all ${n}`);
  const cmdFrom = (await lastSeq(env, STREAM_COMMANDS)) + 1;
  const cpu = new CpuMeter([env.natsPid, env.ctlPid, ...sims]);
  const t0 = performance.now();
  const done = await profiled(env, `barrier-${n}`, R, async () => {
    const { id } = await submit(
      env,
      echoJob({ scope: "group", value: `b${n}` }, W + K),
    );
    return { id, ...(await env.watch.wait(id, 1_800_000)) };
  });
  const wall = performance.now() - t0;
  const c = cpu.since();
  if (done.status !== "completed") {
    throw new Error(`barrier job ${done.id} ${done.status}`);
  }

  log(`  raw fan-out (b): 1 + ${K - half} broadcasts`);
  const rc2 = new CpuMeter([env.natsPid, Deno.pid, ...sims]);
  const r2 = await raw.fanout(n, 1, K - half);
  const c2 = rc2.since();
  const peak = jobRss.stop();
  const ctlAfter = memMiB(env.ctlPid);
  const wrkRss = g.procs.map((p) => memMiB(p.pid).rss);

  const rawSteps = W + half + 1 + (K - half);
  const rawCpu = (i: number) => (c1.cpu[i]! + c2.cpu[i]!) / rawSteps;
  const res: BarrierResult = {
    n,
    raw: {
      setupMs: connectMs,
      cycle: stats([...r1.cycle, ...r2.cycle]),
      direct: stats([...r1.direct, ...r2.direct]),
      cpu: {
        srv: rawCpu(0),
        ctl: rawCpu(1),
        wrk: (sum(c1.cpu.slice(2)) + sum(c2.cpu.slice(2))) / rawSteps,
      },
      foreignPct: (c1.foreignPct + c2.foreignPct) / 2,
    },
  } as BarrierResult;
  R.barrier.push(res);

  log(
    `  job done in ${ms(wall)} ms; reading its ${
      n * (W + K)
    } results and commands back`,
  );
  const t = await jobTimes(env, done.id, cmdFrom, "grid.cmd.>");
  const s = stepSeries(t, W, W + K);
  const per = (x: number) => x / (W + K);
  res.grid = {
    job: done.id,
    regMs,
    agentsReadyMs: agentsMs,
    cycle: stats(s.cycle),
    react: stats(s.react),
    spread: stats(s.spread),
    tail: stats(s.tail),
    wallMs: wall,
    cpu: {
      srv: per(c.cpu[0]!),
      ctl: per(c.cpu[1]!),
      wrk: per(sum(c.cpu.slice(2))),
    },
    foreignPct: c.foreignPct,
    idlePct: {
      ctl: (100 * ic.cpu[0]!) / ic.wall,
      srv: (100 * ic.cpu[1]!) / ic.wall,
    },
    ctlRssMax: Math.max(
      regPeak.get(env.ctlPid) ?? NaN,
      peak.get(env.ctlPid) ?? NaN,
    ),
    ctlRssReg: regPeak.get(env.ctlPid) ?? NaN,
    ctlRssJob: peak.get(env.ctlPid) ?? NaN,
    ctlRssAfter: ctlAfter.rss,
    natsRssMax: Math.max(
      regPeak.get(env.natsPid) ?? NaN,
      peak.get(env.natsPid) ?? NaN,
    ),
    wrkRss,
    results: t.results,
    commands: t.commands,
  };
  log(`  stopping ${n} simulated workers`);
  const t1 = performance.now();
  await stopSims(g);
  res.grid.stopMs = performance.now() - t1;
}

async function benchHistory(env: Env, R: BenchResults): Promise<void> {
  const target = opts.history;
  const finished = () =>
    api(env, "GET", "/status").then((r) => {
      const j = r.json.jobs as Record<string, number>;
      return (j.completed ?? 0) + (j.failed ?? 0) + (j.cancelled ?? 0);
    });
  const have = await finished();
  const need = Math.max(0, target - have);
  log(
    `history: ${have} finished jobs stored; seeding ${need} more single-step jobs`,
  );
  const base = await onlineNodes(env);
  const g = spawnSims(env, "agent", 4, "hist", 1);
  await simsReady(g, 120_000);
  await waitFor(
    "history workers",
    async () => (await onlineNodes(env)) >= base + 4,
    60_000,
    50,
  );
  const ids: string[] = [];
  const t0 = performance.now();
  await pool(Array.from({ length: need }, (_, i) => i), 64, async (i) => {
    const r = await submit(
      env,
      echoJob({ scope: "node", value: g.ids[i % 4] }, 1),
    );
    ids.push(r.id);
  });
  for (const id of ids) await env.watch.wait(id, 600_000);
  const seedSec = (performance.now() - t0) / 1000;
  await stopSims(g);
  const stored = await finished();

  const sample = async (paths: () => string, count: number) => {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < count + 20; i++) {
      const r = await api(env, "GET", paths());
      if (r.status !== 200) throw new Error(`GET ${paths()}: ${r.status}`);
      if (i >= 20) times.push(r.ms);
      bytes = r.bytes;
    }
    return { ...stats(times), bytes };
  };
  log(
    `history: timing GET /jobs and GET /job/:id with ${stored} finished jobs`,
  );
  const sampleIds = ids.length ? ids : [...env.watch.done.keys()];
  const list = await sample(() => "/jobs", opts.httpSamples);
  const one = await profiled(
    env,
    "get-job",
    R,
    () =>
      sample(
        () => `/job/${sampleIds[Math.floor(Math.random() * sampleIds.length)]}`,
        opts.httpSamples,
      ),
  );
  // One read of the largest barrier job, for scale (not a target).
  const big = R.barrier.at(-1)?.grid;
  let bigJob: NonNullable<BenchResults["history"]>["bigJob"];
  if (big) {
    const r = await api(env, "GET", `/job/${big.job}`).catch((e) => {
      log(`GET /job/${big.job} of the big barrier job failed: ${e}`);
      return undefined;
    });
    if (r?.status === 200) {
      bigJob = {
        n: R.barrier.at(-1)!.n,
        results: big.results,
        ms: r.ms,
        bytes: r.bytes,
      };
    }
  }
  R.history = {
    stored,
    seeded: need,
    seedSec,
    seedJobsPerSec: need / seedSec,
    list,
    one,
    bigJob,
    ctlRss: memMiB(env.ctlPid).rss,
  };
}

// ---- machine ----

async function machine(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const run = async (cmd: string, args: string[]) => {
    try {
      const o = await new Deno.Command(cmd, {
        args,
        cwd: ROOT,
        stdout: "piped",
        stderr: "null",
      }).output();
      return dec.decode(o.stdout).trim();
    } catch {
      return "";
    }
  };
  const lock =
    JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).imports ?? {};
  return {
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "?",
    cores: navigator.hardwareConcurrency,
    memGiB: Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024 / 1024,
    kernel: Deno.osRelease(),
    deno:
      `${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`,
    natsServer: await run("/usr/sbin/nats-server", ["--version"]),
    natsClient: String(lock["@nats-io/transport-node"] ?? "?"),
    commit: await run("git", ["rev-parse", "--short", "HEAD"]),
    dirty:
      (await run("git", ["status", "--porcelain"])).split("\n").filter(Boolean)
        .length,
    date: new Date().toISOString(),
    load: (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ")
      .slice(0, 3).join(" "),
  };
}

// ---- main ----

async function main(): Promise<void> {
  exitOnSignals();
  const command = `deno task bench${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }`;
  const R: BenchResults = {
    command,
    options: {
      sizes: opts.sizes,
      steps: opts.steps,
      stepWarmup: opts.stepWarmup,
      overheadJobs: opts.overheadJobs,
      jobs: opts.jobs,
      tputWorkers: opts.tputWorkers,
      barrierSteps: opts.barrierSteps,
      barrierWarmup: opts.barrierWarmup,
      history: opts.history,
      simProcs: opts.simProcs,
      rawAck: flags["raw-ack"]!,
      smoke: opts.smoke,
      profile: opts.profile !== undefined,
      controller: CONTROLLER,
    },
    machine: await machine(),
    barrier: [],
    profiles: [],
  } as unknown as BenchResults;
  const started = performance.now();
  try {
    log(`starting a controller (with its nats-server) and one real worker`);
    const env = await startCluster();
    // The raw publisher gets its own connection, made like the controller's.
    const rawNc = await connectNats({
      servers: [env.cluster.natsUrl],
      name: "bench-raw",
    });
    onCleanup(() => rawNc.close().catch(() => {}));
    const raw = await RawBench.open(rawNc);
    onCleanup(() => raw.close().catch(() => {}));
    if (opts.only.has("step")) await benchStep(env, raw, R);
    if (opts.only.has("overhead")) await benchOverhead(env, R);
    if (opts.only.has("throughput")) await benchThroughput(env, R);
    if (opts.only.has("barrier")) {
      for (const n of opts.sizes) await benchBarrier(env, raw, n, R);
    }
    if (opts.only.has("history")) await benchHistory(env, R);
    R.final = {
      ctlRss: memMiB(env.ctlPid).rss,
      ctlHwm: memMiB(env.ctlPid).hwm,
      natsRss: memMiB(env.natsPid).rss,
      natsHwm: memMiB(env.natsPid).hwm,
      ctlCpuMs: cpuMs(env.ctlPid),
    };
    R.elapsedSec = (performance.now() - started) / 1000;
    if (flags.hold) {
      log(
        `holding (Ctrl-C to stop): API ${env.cluster.api}, NATS ${env.cluster.natsUrl}`,
      );
      // The signal handler cleans up and exits.
      await new Promise(() => setInterval(() => {}, 60_000));
    }
    R.targets = checkTargets(R);
    console.log(renderTable(R));
    if (opts.out) {
      const file = opts.out.startsWith("/") ? opts.out : `${ROOT}/${opts.out}`;
      await Deno.writeTextFile(file, renderMarkdown(R));
      // The repo's `deno fmt --check` covers docs/: write it formatted.
      await new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", file],
        cwd: ROOT,
      }).output();
      log(`wrote ${opts.out}`);
    } else {
      renderMarkdown(R); // keep the report code exercised in smoke runs
    }
  } finally {
    log("stopping every process the bench started");
    await cleanupAll();
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    await cleanupAll();
    Deno.exit(1);
  }
}
