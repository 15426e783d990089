/**
 * Soak test (not in CI): three controllers whose nats-servers form one
 * JetStream cluster (replicas 3) and N workers take a steady stream of small
 * jobs while controllers, their nats-servers and workers are SIGKILLed at
 * random. At the end it stops the faults, lets the queue drain, and counts
 *
 * - jobs lost: accepted with 202 but unknown (404) to a controller's API;
 * - jobs stuck: still pending or running, on any controller, after the drain;
 * - node results duplicated: one attempt of one step on one node started
 *   more than once, across every worker log (all incarnations);
 *
 * each of which must be 0. It writes docs/SOAK.md and exits 1 if any is not.
 *
 *   deno task soak [--minutes=10] [--jobs-per-sec=5] [--workers=6] [--seed=S]
 *
 * Every process it starts, and its temp dir, is removed on exit and on Ctrl-C.
 */
import { join } from "node:path";
import { type Json, Proc, ROOT } from "../scenarios/cluster.ts";
import {
  clusterConfig,
  ControllerSet,
  type Member,
  preferring,
} from "../scenarios/controllers.ts";

const USAGE = `deno task soak [flags]

Three controllers (one JetStream cluster, replicas 3) and N workers run a
steady stream of small jobs while random SIGKILLs hit controllers, their
nats-servers and workers. Reports jobs lost, jobs stuck and node results
duplicated (each must be 0) to docs/SOAK.md; exits 1 if any is not 0.

  --minutes=M          how long to submit jobs and inject faults (default 10)
  --jobs-per-sec=N     submission rate (default 5)
  --workers=N          workers (default 6)
  --seed=S             seed for the job mix and the faults (default: random)
  --fault-every=A-B    seconds between faults, uniform in [A, B] (default 20-40)
  --drain-seconds=S    how long the queue may take to drain at the end (default 600)
  --drain-idle-seconds=S  stop draining sooner once no job has finished for S (default 180)
  --no-faults          run the same load without faults (a baseline)
  --report=FILE        where to write the report (default docs/SOAK.md)
  --keep-logs          keep the temp dir with every process log (path printed)`;

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

interface Options {
  minutes: number;
  jobsPerSec: number;
  workers: number;
  seed: number;
  faultEvery: [number, number];
  drainSeconds: number;
  drainIdleSeconds: number;
  faults: boolean;
  report: string;
  keepLogs: boolean;
}

function usageError(msg: string): never {
  console.error(`soak: ${msg}\n\n${USAGE}`);
  Deno.exit(3);
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    minutes: 10,
    jobsPerSec: 5,
    workers: 6,
    seed: (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0,
    faultEvery: [20, 40],
    drainSeconds: 600,
    drainIdleSeconds: 180,
    faults: true,
    report: join(ROOT, "docs", "SOAK.md"),
    keepLogs: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let value: string | undefined;
    const eq = flag.indexOf("=");
    if (eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const need = (): string => {
      if (value === undefined) value = argv[++i];
      if (value === undefined) usageError(`${flag} needs a value`);
      return value;
    };
    const num = (min: number, max: number, int = false): number => {
      const text = need();
      const n = Number(text);
      if (
        text.trim() === "" || !Number.isFinite(n) || n < min || n > max ||
        (int && !Number.isInteger(n))
      ) {
        usageError(
          `${flag}: want ${
            int ? "a whole number" : "a number"
          } from ${min} to ${max}, got "${text}"`,
        );
      }
      return n;
    };
    switch (flag) {
      case "-h":
      case "--help":
        console.log(USAGE);
        Deno.exit(0);
        break;
      case "--minutes":
        o.minutes = num(0.1, 24 * 60);
        break;
      case "--jobs-per-sec":
        o.jobsPerSec = num(0.05, 200);
        break;
      case "--workers":
        o.workers = num(1, 60, true);
        break;
      case "--seed":
        o.seed = num(0, 2 ** 32 - 1, true);
        break;
      case "--drain-seconds":
        o.drainSeconds = num(10, 3600);
        break;
      case "--drain-idle-seconds":
        o.drainIdleSeconds = num(10, 3600);
        break;
      case "--fault-every": {
        const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(need());
        if (!m || Number(m[1]) < 5 || Number(m[2]) < Number(m[1])) {
          usageError(`--fault-every: want A-B seconds with 5 <= A <= B`);
        }
        o.faultEvery = [Number(m[1]), Number(m[2])];
        break;
      }
      case "--no-faults":
        o.faults = false;
        break;
      case "--keep-logs":
        o.keepLogs = true;
        break;
      case "--report":
        o.report = need();
        break;
      default:
        usageError(`unknown flag "${flag}"`);
    }
  }
  return o;
}

// ---- small helpers ----

/** A seeded PRNG (mulberry32): same seed, same job mix and fault plan. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function between(rand: () => number, lo: number, hi: number): number {
  return lo + rand() * (hi - lo);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

const t0 = Date.now();
function since(at = Date.now()): string {
  return `+${((at - t0) / 1000).toFixed(1)}s`;
}
function say(msg: string): void {
  console.log(`[${since()}] ${msg}`);
}

function fmtSecs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60
    ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
    : `${s}s`;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

// ---- the code under test ----

const SOURCES = ["controller", "worker", "lib", "models", "backends"];

/** Copies what the controller and worker run (and deno.json/lock) to `to`. */
function snapshot(from: string, to: string): void {
  const copy = (a: string, b: string) => {
    Deno.mkdirSync(b, { recursive: true });
    for (const e of Deno.readDirSync(a)) {
      if (e.isDirectory) copy(join(a, e.name), join(b, e.name));
      else if (e.isFile) Deno.copyFileSync(join(a, e.name), join(b, e.name));
    }
  };
  for (const d of SOURCES) copy(join(from, d), join(to, d));
  for (const f of ["deno.json", "deno.lock"]) {
    Deno.copyFileSync(join(from, f), join(to, f));
  }
}

/** The commit the tree is at, and whether the code under test differs from it. */
function codeVersion(): string {
  const git = (...args: string[]) => {
    try {
      const out = new Deno.Command("git", {
        args: ["-C", ROOT, ...args],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
    } catch {
      return "";
    }
  };
  const head = git("rev-parse", "--short", "HEAD") || "unknown commit";
  const dirty = git(
    "status",
    "--porcelain",
    "--",
    ...SOURCES,
    "deno.json",
    "deno.lock",
  ).split("\n").filter(Boolean).length;
  return dirty ? `${head} with ${dirty} uncommitted changes` : head;
}

// ---- processes ----

/**
 * Starts a child `deno run` whose output goes to a log file, line by line
 * (none kept in memory), between lines that mark its start and its exit.
 */
function logged(
  name: string,
  incarnation: number,
  cwd: string,
  args: string[],
  env: Record<string, string>,
  log: Deno.FsFile,
  onLine?: (line: string) => void,
): Proc {
  const enc = new TextEncoder();
  const write = (line: string) => {
    try {
      log.writeSync(enc.encode(line + "\n"));
    } catch { /* log closed at shutdown */ }
  };
  const p = new Proc(name, args, env, (line) => {
    write(line);
    onLine?.(line);
  }, { cwd, keep: 0 });
  write(
    `==== soak: ${name} #${incarnation} pid ${p.pid} started ${
      new Date().toISOString()
    } ====`,
  );
  p.child.status.then((s) =>
    write(
      `==== soak: ${name} #${incarnation} exited code ${s.code}${
        s.signal ? ` signal ${s.signal}` : ""
      } ${new Date().toISOString()} ====`,
    )
  );
  return p;
}

interface Controller extends Member {
  log: Deno.FsFile;
  /** Up and answering: takes submissions, may be a fault's victim. */
  up: boolean;
}

interface Worker {
  id: string;
  groups: string[];
  log: Deno.FsFile;
  proc?: Proc;
  up: boolean;
}

interface FaultRecord {
  at: number;
  kind: string;
  target: string;
  detail: string;
  backAfterMs?: number;
  error?: string;
}

interface TaskStart {
  proc: string;
  at: string;
  line: string;
}

/** One accepted job. */
interface Sub {
  id: string;
  kind: string;
  expect: string;
  via: string;
  at: number;
  lastStatus?: string;
  terminalSeen: Set<string>;
}

// ---- the job mix ----

interface Kind {
  name: string;
  weight: number;
  /** The status it ends with when no fault touches it. */
  expect: string;
  make: (rand: () => number, n: number, w: Worker[]) => Json;
}

const GROUPS = ["g1", "g2", "g3"];

const KINDS: Kind[] = [
  {
    name: "echo",
    weight: 30,
    expect: "completed",
    make: (rand, n, w) => ({
      target: { scope: "node", value: pick(rand, w).id },
      tasks: [{
        backend: "ping",
        action: "echo",
        params: { message: `soak-${n}` },
      }],
    }),
  },
  {
    name: "barrier",
    weight: 20,
    expect: "completed",
    make: (rand, n) => ({
      target: { scope: "group", value: pick(rand, GROUPS) },
      tasks: [
        { backend: "ping", action: "echo", params: { message: `b-${n}` } },
        { backend: "test", action: "succeed", params: { delay: "100ms" } },
        { backend: "ping", action: "hostname" },
      ],
    }),
  },
  {
    name: "pipeline",
    weight: 15,
    expect: "completed",
    make: (rand, n) => ({
      target: { scope: "group", value: pick(rand, GROUPS) },
      tasks: [
        {
          tasks: [
            { backend: "test", action: "succeed", params: { delay: "50ms" } },
            { backend: "ping", action: "echo", params: { message: `p-${n}` } },
            { backend: "test", action: "succeed" },
          ],
        },
        { backend: "ping", action: "echo", params: { message: "after" } },
      ],
    }),
  },
  {
    name: "fail-continue",
    weight: 8,
    expect: "completed",
    make: (rand, n, w) => ({
      target: { scope: "group", value: "fleet" },
      strategy: "continue",
      tasks: [
        { backend: "ping", action: "echo", params: { message: `c-${n}` } },
        {
          backend: "test",
          action: "fail",
          params: { nodes: pick(rand, w).id, message: "planned failure" },
        },
        { backend: "ping", action: "echo", params: { message: "survivors" } },
        {
          condition: "on_failure",
          backend: "test",
          action: "succeed",
          params: { message: "cleanup" },
        },
      ],
    }),
  },
  {
    name: "fail-fast",
    weight: 5,
    expect: "failed",
    make: (rand) => ({
      target: { scope: "group", value: pick(rand, GROUPS) },
      tasks: [
        { backend: "test", action: "fail", params: { delay: "20ms" } },
        { backend: "ping", action: "echo", params: { message: "skipped" } },
        {
          condition: "always",
          backend: "ping",
          action: "echo",
          params: { message: "always" },
        },
      ],
    }),
  },
  {
    name: "sleep",
    weight: 15,
    expect: "completed",
    make: (rand, _n, w) => ({
      target: rand() < 0.5
        ? { scope: "node", value: pick(rand, w).id }
        : { scope: "group", value: pick(rand, GROUPS) },
      tasks: [{
        backend: "test",
        action: "sleep",
        params: { duration: `${Math.round(between(rand, 500, 3000))}ms` },
      }],
    }),
  },
  {
    name: "retry",
    weight: 7,
    expect: "failed",
    make: (rand, _n, w) => ({
      target: { scope: "node", value: pick(rand, w).id },
      tasks: [{
        backend: "test",
        action: "fail",
        params: { message: "fails twice" },
        max_retries: 1,
      }],
    }),
  },
];

function pickKind(rand: () => number): Kind {
  const total = KINDS.reduce((s, k) => s + k.weight, 0);
  let r = rand() * total;
  for (const k of KINDS) {
    r -= k.weight;
    if (r < 0) return k;
  }
  return KINDS[0]!;
}

// ---- the soak ----

class Soak {
  /** c1, c2, c3 and the workers: their processes, configs and temp dir. */
  readonly set: ControllerSet;
  readonly dir: string;
  /**
   * The code every process runs: a copy taken at start, so a process
   * restarted mid-run runs what the others run even if the tree changes.
   */
  readonly src: string;
  readonly controllers: Controller[];
  readonly workers: Worker[];
  readonly faults: FaultRecord[] = [];
  readonly anomalies: string[] = [];
  readonly subs = new Map<string, Sub>();
  /** `job step node attempt` → each "task started" line for it. */
  readonly starts = new Map<string, TaskStart[]>();
  readonly rejected = new Map<string, number>();
  /** Every poll: how far the work has got. */
  readonly timeline: {
    at: number;
    accepted: number;
    finished: number;
    running: number;
    waiting: number;
  }[] = [];
  /** Spells of 20 s or more in which no job finished while some waited. */
  readonly stalls: { from: number; to: number; waiting: number }[] = [];
  #progressAt = Date.now();
  #lastFinished = 0;
  #stallWaiting = 0;
  submitErrors = 0;
  skippedTicks = 0;
  attempted = 0;
  inFlight = 0;
  #rr = 0;
  #cleaned = false;
  readonly stopAll = new AbortController();

  constructor(readonly o: Options) {
    this.set = new ControllerSet(
      ["c1", "c2", "c3"],
      clusterConfig({
        staleThreshold: "5s",
        maxConcurrent: 20,
        maxPending: 500,
      }),
      {
        prefix: "grid-soak-",
        spawn: (name, args, env, n) => this.#spawn(name, args, env, n),
      },
    );
    this.dir = this.set.dir;
    this.src = join(this.dir, "src");
    snapshot(ROOT, this.src);
    Deno.mkdirSync(join(this.dir, "logs"));
    const open = (name: string) =>
      Deno.openSync(join(this.dir, "logs", `${name}.log`), {
        create: true,
        append: true,
      });
    this.controllers = this.set.members.map((m) =>
      Object.assign(m, { log: open(m.name), up: false })
    );
    this.workers = Array.from({ length: o.workers }, (_, i) => {
      const id = `w${String(i + 1).padStart(2, "0")}`;
      return {
        id,
        groups: [GROUPS[i % GROUPS.length]!, "fleet"],
        log: open(id),
        up: false,
      };
    });
  }

  /** How the set starts a process: logged to its file, running our copy of the code. */
  #spawn(
    name: string,
    args: string[],
    env: Record<string, string>,
    incarnation: number,
  ): Proc {
    const w = this.workers.find((w) => w.id === name);
    const log = w?.log ?? this.controllers.find((m) => m.name === name)!.log;
    const label = `${name}#${incarnation}`;
    return logged(
      name,
      incarnation,
      this.src,
      args,
      env,
      log,
      w ? (line) => this.#onWorkerLine(name, label, line) : undefined,
    );
  }

  // ---- controllers ----

  startController(m: Controller): void {
    const p = this.set.start(m);
    const n = this.set.starts.get(m.name);
    p.child.status.then((s) => {
      m.up = false;
      if (!p.stopping && !this.#cleaned) {
        this.anomaly(`${m.name} #${n} exited on its own (code ${s.code})`);
      }
    });
  }

  async readyController(m: Controller, timeoutMs = 120_000): Promise<void> {
    await this.set.ready(m, timeoutMs);
    m.up = true;
  }

  live(): Controller[] {
    return this.controllers.filter((m) => m.up && m.proc?.running);
  }

  nextLive(): Controller | undefined {
    const live = this.live();
    if (live.length === 0) return undefined;
    return live[this.#rr++ % live.length];
  }

  /** Every job a controller knows, id → status. */
  async listJobs(m: Controller): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let before: string | undefined;
    for (;;) {
      const r = await this.set.api(
        m,
        "GET",
        `/jobs?limit=1000${before ? `&before=${before}` : ""}`,
        undefined,
        30_000,
      );
      if (r.status !== 200) {
        throw new Error(`GET /jobs via ${m.name}: ${r.status} ${r.json.error}`);
      }
      for (const j of r.json.jobs as Json[]) out.set(j.id, j.status);
      if (!r.json.next) return out;
      before = r.json.next;
    }
  }

  // ---- workers ----

  startWorker(w: Worker, index: number): void {
    // Spread the workers: each prefers a different server.
    const p = this.set.startWorker(
      w.id,
      preferring(this.set.natsUrls(), index),
      { groups: w.groups },
    );
    const label = `${w.id}#${this.set.starts.get(w.id)}`;
    w.proc = p;
    w.up = true;
    p.child.status.then((s) => {
      w.up = false;
      if (!p.stopping && !this.#cleaned) {
        this.anomaly(`${label} exited on its own (code ${s.code})`);
      }
    });
  }

  #onWorkerLine(node: string, label: string, line: string): void {
    const m = /task started job=(\S+) step=(\d+) attempt=(\d+)/.exec(line);
    if (!m) return;
    const key = `job=${m[1]} step=${m[2]} node=${node} attempt=${m[3]}`;
    const list = this.starts.get(key) ?? [];
    list.push({ proc: label, at: line.slice(0, 24), line });
    this.starts.set(key, list);
    if (list.length === 2) {
      say(`DUPLICATE START ${key}: ${list.map((s) => s.proc).join(", ")}`);
    }
  }

  duplicates(): [string, TaskStart[]][] {
    return [...this.starts].filter(([, l]) => l.length > 1);
  }

  async waitWorkersOnline(ids: string[], timeoutMs = 60_000): Promise<void> {
    await this.set.waitOnline(ids, () => this.nextLive(), timeoutMs, 500);
  }

  anomaly(msg: string): void {
    this.anomalies.push(`${since()} ${msg}`);
    say(`ANOMALY ${msg}`);
  }

  // ---- start-up ----

  async start(): Promise<void> {
    say(`temp dir ${this.dir}`);
    for (const m of this.controllers) this.startController(m);
    await Promise.all(this.controllers.map((m) => this.readyController(m)));
    say("3 controllers up (one JetStream cluster, replicas 3)");
    this.workers.forEach((w, i) => this.startWorker(w, i));
    await this.waitWorkersOnline(this.workers.map((w) => w.id), 120_000);
    say(`${this.workers.length} workers online`);
  }

  // ---- load ----

  async submitLoop(until: number, signal: AbortSignal): Promise<void> {
    const rand = prng(this.o.seed);
    const interval = 1000 / this.o.jobsPerSec;
    let n = 0;
    let next = Date.now();
    const inflight = new Set<Promise<void>>();
    while (Date.now() < until && !signal.aborted) {
      next += interval;
      if (this.inFlight >= 32) this.skippedTicks++;
      else {
        const kind = pickKind(rand);
        const spec = kind.make(rand, ++n, this.workers);
        const p = this.#submit(kind, spec);
        inflight.add(p);
        p.finally(() => inflight.delete(p));
      }
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait, signal);
      else if (wait < -5000) next = Date.now(); // fell behind: do not burst
    }
    await Promise.allSettled([...inflight]);
  }

  async #submit(kind: Kind, spec: Json): Promise<void> {
    const m = this.nextLive();
    this.attempted++;
    if (!m) {
      this.rejected.set(
        "no controller up",
        (this.rejected.get("no controller up") ?? 0) + 1,
      );
      return;
    }
    this.inFlight++;
    try {
      const r = await this.set.api(m, "POST", "/job", spec);
      if (r.status === 202) {
        this.subs.set(r.json.id, {
          id: r.json.id,
          kind: kind.name,
          expect: kind.expect,
          via: m.name,
          at: Date.now(),
          terminalSeen: new Set(),
        });
      } else {
        const reason = `${r.status} ${
          String(r.json.error ?? "").replace(/\d+/g, "N").slice(0, 100)
        }`;
        this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
      }
    } catch {
      // Connection refused or timed out: the job may or may not exist.
      this.submitErrors++;
    } finally {
      this.inFlight--;
    }
  }

  /** Reads every job's status from one controller. */
  async poll(): Promise<Map<string, string> | undefined> {
    const m = this.nextLive();
    if (!m) return undefined;
    try {
      const seen = await this.listJobs(m);
      for (const [id, st] of seen) {
        const s = this.subs.get(id);
        if (!s) continue;
        s.lastStatus = st;
        if (TERMINAL.has(st)) {
          s.terminalSeen.add(st);
          if (s.terminalSeen.size === 2) {
            this.anomaly(
              `job ${id} seen with two final statuses: ${[
                ...s.terminalSeen,
              ]}`,
            );
          }
        }
      }
      this.#track();
      return seen;
    } catch {
      return undefined;
    }
  }

  counts(): { finished: number; running: number; waiting: number } {
    let finished = 0;
    let running = 0;
    let waiting = 0;
    for (const s of this.subs.values()) {
      if (s.lastStatus && TERMINAL.has(s.lastStatus)) finished++;
      else if (s.lastStatus === "running") running++;
      else waiting++;
    }
    return { finished, running, waiting };
  }

  #track(): void {
    const now = Date.now();
    const c = this.counts();
    this.timeline.push({ at: now, accepted: this.subs.size, ...c });
    const open = c.running + c.waiting;
    if (c.finished > this.#lastFinished || open === 0) {
      this.closeStall(now);
      this.#lastFinished = c.finished;
    } else this.#stallWaiting = Math.max(this.#stallWaiting, open);
  }

  /** Ends the current spell without progress; keeps it if it was long. */
  closeStall(now = Date.now()): void {
    if (this.#stallWaiting > 0 && now - this.#progressAt >= 20_000) {
      this.stalls.push({
        from: this.#progressAt,
        to: now,
        waiting: this.#stallWaiting,
      });
      say(
        `STALL: no job finished for ${
          fmtSecs(now - this.#progressAt)
        } with ${this.#stallWaiting} waiting`,
      );
    }
    this.#progressAt = now;
    this.#stallWaiting = 0;
  }

  progress(): string {
    const { finished: done, running, waiting: pending } = this.counts();
    const rej = [...this.rejected.values()].reduce((a, b) => a + b, 0);
    return `accepted ${this.subs.size} (rejected ${rej}, errors ${this.submitErrors}) ` +
      `finished ${done} running ${running} pending/unseen ${pending} | ` +
      `faults ${this.faults.length} | task starts ${this.starts.size} ` +
      `duplicated ${this.duplicates().length} | up ${
        this.live().map((m) => m.name).join(",")
      } workers ${
        this.workers.filter((w) => w.up).length
      }/${this.workers.length}`;
  }

  // ---- faults ----

  async faultLoop(signal: AbortSignal): Promise<void> {
    const rand = prng(this.o.seed ^ 0x5eed);
    let bag: string[] = [];
    for (;;) {
      await sleep(
        between(rand, this.o.faultEvery[0], this.o.faultEvery[1]) * 1000,
        signal,
      );
      if (signal.aborted) return;
      await this.heal();
      // Each kind once per round, in random order.
      if (bag.length === 0) {
        bag = ["controller", "nats-server", "worker"];
        for (let i = bag.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [bag[i], bag[j]] = [bag[j]!, bag[i]!];
        }
      }
      const kind = bag.pop()!;
      const f: FaultRecord = { at: Date.now(), kind, target: "", detail: "" };
      this.faults.push(f);
      try {
        if (kind === "controller") await this.crashController(f, rand);
        else if (kind === "nats-server") await this.killNatsServer(f, rand);
        else await this.killWorker(f, rand);
      } catch (e) {
        f.error = String(e);
        this.anomaly(`fault ${kind} ${f.target}: ${e}`);
        await this.heal();
      }
    }
  }

  /** Restarts whatever is down that we did not take down on purpose. */
  async heal(): Promise<void> {
    for (const m of this.controllers) {
      if (m.proc?.running) continue;
      say(`restarting ${m.name}, which is down`);
      await this.set.killChildren(m);
      this.startController(m);
      await this.readyController(m).catch((e) =>
        this.anomaly(`${m.name} did not come back: ${e}`)
      );
    }
    this.workers.forEach((w, i) => {
      if (w.proc?.running) return;
      say(`restarting ${w.id}, which is down`);
      this.startWorker(w, i);
    });
  }

  /** SIGKILL a controller and its nats-server (a host crash), restart it later. */
  async crashController(f: FaultRecord, rand: () => number): Promise<void> {
    const m = pick(rand, this.controllers);
    const down = between(rand, 3000, 12000);
    f.target = m.name;
    const kids = m.proc!.children();
    const owned = await this.owned(m);
    f.detail = `SIGKILL controller pid ${m.proc!.pid} and nats-server pid ${
      kids.join(",") || "-"
    } (owned ${owned} running jobs); restart after ${fmtSecs(down)}`;
    say(`FAULT ${f.kind} ${m.name}: ${f.detail}`);
    m.up = false;
    await this.set.crash(m);
    await sleep(down);
    this.startController(m);
    await this.readyController(m);
    f.backAfterMs = Date.now() - f.at;
    say(`${m.name} back after ${fmtSecs(f.backAfterMs)}`);
  }

  async owned(m: Controller): Promise<number | string> {
    const peer = this.live().find((p) => p !== m) ?? m;
    try {
      const r = await this.set.api(
        peer,
        "GET",
        "/controllers",
        undefined,
        3000,
      );
      return (r.json.controllers as Json[]).find((c) => c.id === m.name)
        ?.jobs ?? 0;
    } catch {
      return "?";
    }
  }

  /** SIGKILL only a controller's nats-server; the controller restarts it. */
  async killNatsServer(f: FaultRecord, rand: () => number): Promise<void> {
    const m = pick(rand, this.controllers);
    f.target = `${m.name}/nats-server`;
    const kids = m.proc!.children();
    if (kids.length === 0) {
      throw new Error(`${m.name} has no nats-server child`);
    }
    f.detail = `SIGKILL nats-server pid ${
      kids.join(",")
    }; ${m.name} restarts it`;
    say(`FAULT ${f.kind} ${m.name}: ${f.detail}`);
    await this.set.killNatsServer(m);
    f.backAfterMs = Date.now() - f.at;
    say(`${m.name}'s nats-server back after ${fmtSecs(f.backAfterMs)}`);
  }

  /** SIGKILL a worker (preferably one running a task), restart it later. */
  async killWorker(f: FaultRecord, rand: () => number): Promise<void> {
    let busy: string[] = [];
    const m = this.nextLive();
    if (m) {
      try {
        const r = await this.set.api(m, "GET", "/nodes", undefined, 3000);
        busy = (r.json.nodes as Json[]).filter((n) => n.running).map((n) =>
          n.id
        );
      } catch { /* pick any */ }
    }
    const candidates = this.workers.filter((w) => w.up);
    const preferred = candidates.filter((w) => busy.includes(w.id));
    const w = pick(
      rand,
      preferred.length > 0 && rand() < 0.7 ? preferred : candidates,
    );
    const idx = this.workers.indexOf(w);
    const down = between(rand, 2000, 15000);
    f.target = w.id;
    f.detail = `SIGKILL worker pid ${w.proc!.pid}${
      busy.includes(w.id) ? " (running a task)" : ""
    }; restart after ${fmtSecs(down)}`;
    say(`FAULT ${f.kind} ${w.id}: ${f.detail}`);
    await w.proc!.stop("SIGKILL");
    await sleep(down);
    this.startWorker(w, idx);
    await this.waitWorkersOnline([w.id]);
    f.backAfterMs = Date.now() - f.at;
    say(`${w.id} back after ${fmtSecs(f.backAfterMs)}`);
  }

  // ---- shutdown ----

  /** Stops everything we started and removes the temp dir. */
  async cleanup(): Promise<void> {
    await this.stopProcesses();
    if (this.o.keepLogs) say(`logs kept in ${this.dir}/logs`);
    else await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** Stops every process we started (their logs stay until cleanup). */
  async stopProcesses(): Promise<void> {
    if (this.#cleaned) return;
    this.#cleaned = true;
    this.stopAll.abort();
    // Workers, controllers, and any nats-server a crash orphaned.
    await this.set.stopProcesses(5000);
    for (const f of [...this.controllers, ...this.workers]) {
      try {
        f.log.close();
      } catch { /* closed */ }
    }
  }

  /** From the controllers' logs: how jobs changed hands. */
  ownership(): {
    takeovers: number;
    fenced: number;
    adoptions: number;
    finishedTwice: [string, string[]][];
  } {
    const finishedBy = new Map<string, Set<string>>();
    let takeovers = 0;
    let fenced = 0;
    let adoptions = 0;
    for (const m of this.controllers) {
      let text = "";
      try {
        text = Deno.readTextFileSync(join(this.dir, "logs", `${m.name}.log`));
      } catch {
        continue;
      }
      for (const l of text.split("\n")) {
        if (l.includes("taking over a job")) takeovers++;
        else if (l.includes("lost ownership of a job")) fenced++;
        else if (l.includes("adopted running jobs")) adoptions++;
        else {
          const f = /job finished job=(\S+)/.exec(l);
          if (!f) continue;
          const by = finishedBy.get(f[1]!) ?? new Set<string>();
          by.add(m.name);
          finishedBy.set(f[1]!, by);
        }
      }
    }
    return {
      takeovers,
      fenced,
      adoptions,
      finishedTwice: [...finishedBy].filter(([, by]) => by.size > 1).map((
        [id, by],
      ) => [id, [...by].sort()]),
    };
  }

  /** The last lines of one process's log. */
  tail(name: string, lines: number): string {
    try {
      const text = Deno.readTextFileSync(join(this.dir, "logs", `${name}.log`));
      return `--- ${name} ---\n${
        text.trimEnd().split("\n").slice(-lines).join("\n")
      }`;
    } catch {
      return `--- ${name}: no log ---`;
    }
  }

  /**
   * Lines of every log that mention `needle` (and pass `keep`), in time
   * order; past `max`, the first and last ones.
   */
  grepLogs(
    needle: string,
    max = 50,
    keep: (proc: string, line: string) => boolean = () => true,
  ): string[] {
    const out: string[] = [];
    for (
      const name of [
        ...this.controllers.map((m) => m.name),
        ...this.workers.map((w) => w.id),
      ]
    ) {
      let text = "";
      try {
        text = Deno.readTextFileSync(join(this.dir, "logs", `${name}.log`));
      } catch {
        continue;
      }
      for (const l of text.split("\n")) {
        if (!l.includes(needle) || !keep(name, l)) continue;
        out.push(`${name}: ${l.length > 240 ? `${l.slice(0, 240)}…` : l}`);
      }
    }
    // By timestamp only: lines of one process keep their order within a millisecond.
    const at = (l: string) => l.slice(l.indexOf(": ") + 2).slice(0, 24);
    out.sort((a, b) => at(a).localeCompare(at(b)));
    if (out.length <= max) return out;
    const head = Math.floor(max / 4);
    return [
      ...out.slice(0, head),
      `… ${out.length - max} lines left out …`,
      ...out.slice(out.length - (max - head)),
    ];
  }

  /** WARN/ERROR lines of every log, normalised and counted. */
  logWarnings(): { count: number; who: string; line: string }[] {
    const counts = new Map<string, { count: number; who: Set<string> }>();
    for (
      const name of [
        ...this.controllers.map((m) => m.name),
        ...this.workers.map((w) => w.id),
      ]
    ) {
      let text = "";
      try {
        text = Deno.readTextFileSync(join(this.dir, "logs", `${name}.log`));
      } catch {
        continue;
      }
      for (const l of text.split("\n")) {
        if (!/ (WARN|ERROR) /.test(l)) continue;
        const norm = l.replace(/^\S+ /, "")
          .replace(/\b[0-9a-f]{16}\b/g, "<job>")
          .replace(/\d+/g, "N")
          .slice(0, 170);
        const c = counts.get(norm) ?? { count: 0, who: new Set() };
        c.count++;
        c.who.add(name.startsWith("c") ? name : "workers");
        counts.set(norm, c);
      }
    }
    return [...counts].map(([line, c]) => ({
      line,
      count: c.count,
      who: [...c.who].sort().join(","),
    })).sort((a, b) => b.count - a.count);
  }
}

// ---- the report ----

async function machine(): Promise<Record<string, string>> {
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return "";
    }
  };
  const cpu = /model name\s*:\s*(.+)/.exec(read("/proc/cpuinfo"))?.[1] ?? "?";
  const mem = /MemTotal:\s*(\d+)/.exec(read("/proc/meminfo"))?.[1];
  let nats = "?";
  try {
    const out = await new Deno.Command("/usr/sbin/nats-server", {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    nats = new TextDecoder().decode(out.stdout).trim();
  } catch { /* not there */ }
  return {
    cpu: `${cpu.trim()}, ${navigator.hardwareConcurrency} cores`,
    memory: mem ? `${(Number(mem) / 1024 / 1024).toFixed(1)} GiB` : "?",
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    "nats-server": nats,
  };
}

function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(
      " ",
    );
  } catch {
    return "?";
  }
}

interface Final {
  lost: { id: string; sub: Sub; where: string }[];
  stuck: { id: string; sub: Sub; where: string }[];
  dups: [string, TaskStart[]][];
  /** Job ids found on a controller that no 202 answered (a submit whose answer was lost). */
  orphans: string[];
  /** Per controller, id → status. */
  views: Map<string, Map<string, string>>;
  byKind: Map<string, Map<string, number>>;
  statuses: Map<string, number>;
  unexpected: Map<string, number>;
  resultErrors: Map<string, number>;
  latencies: number[];
  details: number;
  drainMs: number;
  /** Why the drain ended, when it did not drain: "" if it did. */
  drainNote: string;
}

async function analyse(
  soak: Soak,
  drainMs: number,
  drainNote: string,
): Promise<Final> {
  const views = new Map<string, Map<string, string>>();
  for (const m of soak.controllers) {
    try {
      views.set(m.name, await soak.listJobs(m));
    } catch (e) {
      soak.anomaly(`could not list jobs on ${m.name}: ${e}`);
    }
  }
  const lost: Final["lost"] = [];
  const stuck: Final["stuck"] = [];
  for (const [id, sub] of soak.subs) {
    const missing: string[] = [];
    const open: string[] = [];
    for (const [name, view] of views) {
      const st = view.get(id);
      if (st === undefined) {
        // Not listed: ask for it directly before calling it lost.
        const m = soak.controllers.find((c) => c.name === name)!;
        const r = await soak.set.api(m, "GET", `/job/${id}`).catch(() =>
          undefined
        );
        if (r?.status === 404) missing.push(name);
        else if (r && !TERMINAL.has(r.json.status)) {
          open.push(`${name}:${r.json.status}`);
        }
      } else if (!TERMINAL.has(st)) open.push(`${name}:${st}`);
    }
    if (missing.length > 0) {
      lost.push({
        id,
        sub,
        where: `404 on ${missing.join(",")}${
          missing.length < views.size ? " (known to the others)" : ""
        }`,
      });
    } else if (open.length > 0) {
      stuck.push({ id, sub, where: open.join(" ") });
    }
  }
  const orphans = new Set<string>();
  for (const view of views.values()) {
    for (const id of view.keys()) if (!soak.subs.has(id)) orphans.add(id);
  }

  // Each job in full, for outcomes, errors and times.
  const byKind = new Map<string, Map<string, number>>();
  const statuses = new Map<string, number>();
  const unexpected = new Map<string, number>();
  const resultErrors = new Map<string, number>();
  const latencies: number[] = [];
  const bump = (m: Map<string, number>, k: string) =>
    m.set(k, (m.get(k) ?? 0) + 1);
  const ids = [...soak.subs.keys()];
  let details = 0;
  const deadline = Date.now() + 5 * 60_000;
  const next = async (): Promise<void> => {
    for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
      const sub = soak.subs.get(id)!;
      const m = soak.nextLive();
      if (!m || Date.now() > deadline) return;
      let j: Json;
      try {
        const r = await soak.set.api(m, "GET", `/job/${id}`, undefined, 30_000);
        if (r.status !== 200) continue;
        j = r.json;
      } catch {
        continue;
      }
      details++;
      const kind = byKind.get(sub.kind) ?? new Map<string, number>();
      byKind.set(sub.kind, kind);
      bump(kind, j.status);
      bump(statuses, j.status);
      if (TERMINAL.has(j.status) && j.status !== sub.expect) {
        bump(
          unexpected,
          `${sub.kind}: ${j.status}${j.error ? ` (${j.error})` : ""}`,
        );
      }
      if (j.finished_at) {
        latencies.push(Date.parse(j.finished_at) - Date.parse(j.created_at));
      }
      for (const byNode of Object.values(j.results ?? {}) as Json[]) {
        for (const r of Object.values(byNode) as Json[]) {
          if (!r.error) continue;
          const e = String(r.error).replace(/\d+(\.\d+)?/g, "N").slice(0, 90);
          bump(resultErrors, e);
        }
      }
    }
  };
  await Promise.all([next(), next(), next(), next()]);
  latencies.sort((a, b) => a - b);
  return {
    lost,
    stuck,
    dups: soak.duplicates(),
    orphans: [...orphans],
    views,
    byKind,
    statuses,
    unexpected,
    resultErrors,
    latencies,
    details,
    drainMs,
    drainNote,
  };
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => String(c).replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join(
    "\n",
  );
}

function report(
  soak: Soak,
  f: Final,
  info: {
    command: string;
    started: Date;
    submitMs: number;
    totalMs: number;
    machine: Record<string, string>;
    loadStart: string;
    loadEnd: string;
    codeStart: string;
    codeEnd: string;
  },
): string {
  const o = soak.o;
  const ok = f.lost.length + f.stuck.length + f.dups.length === 0;
  const rejected = [...soak.rejected].sort((a, b) => b[1] - a[1]);
  const taskStarts = [...soak.starts.values()].reduce(
    (s, l) => s + l.length,
    0,
  );
  const out: string[] = [];
  out.push(
    "# GRID soak report",
    "",
    "Written by `scripts/soak.ts` (`deno task soak`; not part of CI). Three",
    "controllers whose nats-servers form one JetStream cluster (replicas 3) and",
    `${o.workers} workers take a steady stream of small jobs (echo, barrier,`,
    "pipeline, planned failures under `continue` and `fail-fast`, retries, short",
    "sleeps), submitted round-robin to the controllers that are up, while one",
    "random fault at a time hits the cluster: SIGKILL of a controller and its",
    "nats-server (restarted a few seconds later), SIGKILL of a controller's",
    "nats-server alone (the controller restarts it), or SIGKILL of a worker",
    "(restarted later). Two servers are never down at once: each fault waits",
    "for the last to heal. Then the faults stop, the queue drains, and:",
    "",
    "- **jobs lost**: answered 202, but a controller's API does not know them",
    "  (404);",
    "- **jobs stuck**: still `pending` or `running` on any controller after the",
    "  drain;",
    "- **node results duplicated**: one attempt of one step on one node started",
    "  more than once, counted from the workers' `task started` log lines",
    "  (job, step, attempt) across every incarnation of each worker. A task",
    "  cut short by a SIGKILL may legitimately end `failed` (`node lost`,",
    "  `interrupted`) or be retried as a new attempt; that is not a duplicate.",
    "",
    "Each must be 0. Each run overwrites this file.",
    "",
    "## Result",
    "",
    table(["", "count"], [
      ["jobs lost", f.lost.length],
      ["jobs stuck", f.stuck.length],
      ["node results duplicated", f.dups.length],
    ]),
    "",
    ok ? "**PASS**" : "**FAIL**",
    "",
    "## Run",
    "",
    `- Command: \`${info.command}\``,
    `- Started: ${info.started.toISOString()}; faults and submissions for ${
      fmtSecs(info.submitMs)
    }, drain ${fmtSecs(f.drainMs)}${f.drainNote ? ` (${f.drainNote})` : ""}, ${
      fmtSecs(info.totalMs)
    } in all`,
    `- Seed: ${o.seed} (job mix and fault plan; timing still varies)`,
    `- Load: ${o.jobsPerSec} jobs/s; faults ${
      o.faults ? `every ${o.faultEvery[0]}-${o.faultEvery[1]} s` : "off"
    }`,
    `- Machine: ${info.machine.cpu}; ${info.machine.memory}; ${info.machine.kernel}; load average ${info.loadStart} at start, ${info.loadEnd} at end (the machine is shared)`,
    `- Software: deno ${info.machine.deno}; ${info.machine["nats-server"]}`,
    `- Code: ${info.codeStart}, copied at start so every process (and every restart) runs the same code${
      info.codeEnd !== info.codeStart
        ? `; the tree moved to ${info.codeEnd} during the run`
        : ""
    }`,
    "- Controllers: c1, c2, c3; `replicas: 3`, `heartbeat_interval: 500ms`,",
    "  `stale_threshold: 5s`, `offline_after: 10s`, `max_concurrent: 20`,",
    "  `max_pending: 500`, `task_timeout: 60s`",
    `- Workers: ${o.workers}, groups g1/g2/g3 round-robin plus \`fleet\`, heartbeat 500ms, each listing all three NATS URLs`,
    "",
    "## Jobs",
    "",
    `- Submissions: ${soak.attempted} tried, ${soak.subs.size} accepted (202), ${
      rejected.reduce((s, [, n]) => s + n, 0)
    } refused, ${soak.submitErrors} without an answer (connection lost or timed out)${
      soak.skippedTicks
        ? `, ${soak.skippedTicks} skipped (32 already in flight)`
        : ""
    }`,
  );
  if (rejected.length > 0) {
    out.push(`- Refused: ${rejected.map(([r, n]) => `${n}× ${r}`).join("; ")}`);
  }
  out.push(
    `- Jobs a controller knows that no 202 answered (their submit lost its answer): ${f.orphans.length}`,
    `- Final status (${f.details} jobs read in full): ${
      [...f.statuses].map(([s, n]) => `${s} ${n}`).join(", ") || "-"
    }`,
    `- Submit to finish: p50 ${
      (percentile(f.latencies, 0.5) / 1000).toFixed(1)
    } s, p95 ${(percentile(f.latencies, 0.95) / 1000).toFixed(1)} s, max ${
      ((f.latencies.at(-1) ?? 0) / 1000).toFixed(1)
    } s`,
    `- Tasks started (worker log lines): ${taskStarts}, distinct attempts ${soak.starts.size}`,
    "",
  );
  const statusCols = ["completed", "failed", "cancelled", "running", "pending"];
  out.push(
    table(
      ["kind", "expected without faults", ...statusCols],
      KINDS.map((k) => [
        k.name,
        k.expect,
        ...statusCols.map((s) => f.byKind.get(k.name)?.get(s) ?? 0),
      ]),
    ),
    "",
  );
  if (f.unexpected.size > 0) {
    out.push(
      "Jobs that ended otherwise than they would without faults (a fault hit them):",
      "",
      table(
        ["count", "kind: status (error)"],
        [...f.unexpected].sort((a, b) => b[1] - a[1]).slice(0, 20).map((
          [k, n],
        ) => [n, k]),
      ),
      "",
    );
  }
  if (f.resultErrors.size > 0) {
    out.push(
      "Node result errors (numbers replaced by N):",
      "",
      table(
        ["count", "error"],
        [...f.resultErrors].sort((a, b) => b[1] - a[1]).slice(0, 20).map((
          [k, n],
        ) => [n, k]),
      ),
      "",
    );
  }
  out.push("## Faults", "");
  if (soak.faults.length === 0) out.push("None.", "");
  else {
    out.push(
      table(
        ["at", "fault", "target", "what", "healed after"],
        soak.faults.map((x) => [
          since(x.at),
          x.kind,
          x.target,
          x.detail + (x.error ? ` — **error**: ${x.error}` : ""),
          x.backAfterMs === undefined ? "-" : fmtSecs(x.backAfterMs),
        ]),
      ),
      "",
    );
  }
  const own = soak.ownership();
  out.push(
    "## Progress and ownership",
    "",
    "Not among the three numbers, but where faults cost time:",
    "",
    `- Spells of 20 s or more in which no job finished while jobs waited: ${
      soak.stalls.length === 0
        ? "none"
        : soak.stalls.map((x) =>
          `${since(x.from)}–${since(x.to)} (${
            fmtSecs(x.to - x.from)
          }, ${x.waiting} waiting)`
        ).join("; ")
    }`,
    `- Controller logs: ${own.takeovers} \`taking over a job\`, ${own.fenced} \`lost ownership of a job\`, ${own.adoptions} \`adopted running jobs\``,
    `- Jobs whose \`job finished\` was logged by more than one controller (run by two owners at once): ${own.finishedTwice.length}${
      own.finishedTwice.length
        ? ` (e.g. ${
          own.finishedTwice.slice(0, 5).map(([id, by]) =>
            `${id} by ${by.join("+")}`
          ).join(", ")
        })`
        : ""
    }`,
    "",
  );
  const every = Math.max(1, Math.round(soak.timeline.length / 40));
  const rows = soak.timeline.filter((_, i, all) =>
    i % every === 0 || i === all.length - 1
  );
  if (rows.length > 0) {
    out.push(
      "<details><summary>Timeline (as polled)</summary>",
      "",
      table(
        ["at", "accepted", "finished", "running", "pending or unseen"],
        rows.map((
          r,
        ) => [since(r.at), r.accepted, r.finished, r.running, r.waiting]),
      ),
      "",
      "</details>",
      "",
    );
  }
  const problems: string[] = [];
  const evidence = (
    title: string,
    id: string,
    extra: string,
    keep?: (proc: string, line: string) => boolean,
  ) => {
    problems.push(
      `### ${title} ${id}`,
      "",
      extra,
      "",
      "```",
      ...soak.grepLogs(id.split(" ")[0]!.replace(/^job=/, ""), 50, keep),
      "```",
      "",
    );
  };
  for (const x of f.lost.slice(0, 5)) {
    evidence(
      "Lost",
      x.id,
      `${x.sub.kind}, submitted via ${x.sub.via} at ${
        since(x.sub.at)
      }; ${x.where}`,
    );
  }
  for (const x of f.stuck.slice(0, 5)) {
    evidence(
      "Stuck",
      x.id,
      `${x.sub.kind}, submitted via ${x.sub.via} at ${
        since(x.sub.at)
      }; ${x.where}`,
    );
  }
  for (const [key, list] of f.dups.slice(0, 5)) {
    evidence(
      "Duplicated",
      key,
      `started ${list.length} times: ${
        list.map((s) => `${s.proc} at ${s.at}`).join("; ")
      }. Log lines of the controllers, and of that node for that step:`,
      (proc, line) => {
        const [, step, node] = /step=(\d+) node=(\S+)/.exec(key) ?? [];
        return proc.startsWith("c") ||
          (proc === node && line.includes(`step=${step} `));
      },
    );
  }
  if (soak.anomalies.length > 0 || problems.length > 0) {
    out.push("## Problems", "");
    if (soak.anomalies.length > 0) {
      out.push(...soak.anomalies.map((a) => `- ${a}`), "");
    }
    const more = f.lost.length + f.stuck.length + f.dups.length;
    if (more > 15) {
      out.push(`(evidence for the first 5 of each; ${more} in all)`, "");
    }
    out.push(...problems);
  }
  const warnings = soak.logWarnings();
  out.push("## Warnings and errors in the logs", "");
  if (warnings.length === 0) out.push("None.", "");
  else {
    out.push(
      "Numbers replaced by N, job ids by `<job>`; the 25 most frequent.",
      "",
      table(
        ["count", "from", "line"],
        warnings.slice(0, 25).map((w) => [w.count, w.who, `\`${w.line}\``]),
      ),
      "",
    );
  }
  return out.join("\n");
}

// ---- main ----

async function main(): Promise<number> {
  const o = parseArgs(Deno.args);
  const command = `deno task soak${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }`;
  const started = new Date();
  const loadStart = loadavg();
  const codeStart = codeVersion();
  const soak = new Soak(o);
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say("interrupted: stopping everything");
    soak.cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    say(
      `soak: code ${codeStart}; ${o.minutes} min, ${o.jobsPerSec} jobs/s, ${o.workers} workers, seed ${o.seed}, faults ${
        o.faults ? `every ${o.faultEvery.join("-")} s` : "off"
      }`,
    );
    try {
      await soak.start();
    } catch (e) {
      console.error(`soak: start-up failed: ${e}`);
      for (const m of soak.controllers) console.error(soak.tail(m.name, 30));
      return 2;
    }
    const signal = soak.stopAll.signal;
    const submitStart = Date.now();
    const until = submitStart + o.minutes * 60_000;
    const faultStop = new AbortController();
    const faults = o.faults
      ? soak.faultLoop(faultStop.signal)
      : Promise.resolve();
    const submitting = soak.submitLoop(until, signal);
    const ticker = (async () => {
      let lastLine = 0;
      while (Date.now() < until && !signal.aborted) {
        await sleep(5000, signal);
        await soak.poll();
        if (Date.now() - lastLine >= 15_000) {
          lastLine = Date.now();
          say(soak.progress());
        }
      }
    })();
    await submitting;
    faultStop.abort();
    await faults;
    await ticker;
    const submitMs = Date.now() - submitStart;
    if (interrupted) return 130;
    say(`submissions and faults stopped; ${soak.progress()}`);

    // Bring back anything still down, then let the queue drain.
    await soak.heal();
    await soak.waitWorkersOnline(soak.workers.map((w) => w.id)).catch((e) =>
      soak.anomaly(`workers not all back before the drain: ${e}`)
    );
    const drainStart = Date.now();
    let drainNote = "deadline reached";
    let finished = -1;
    let progressAt = Date.now();
    let lastLine = 0;
    while (Date.now() - drainStart < o.drainSeconds * 1000 && !interrupted) {
      const seen = await soak.poll();
      if (
        seen &&
        [...soak.subs.keys()].every((id) => TERMINAL.has(seen.get(id) ?? ""))
      ) {
        drainNote = "";
        break;
      }
      const now = soak.counts().finished;
      if (now !== finished) {
        finished = now;
        progressAt = Date.now();
      } else if (Date.now() - progressAt >= o.drainIdleSeconds * 1000) {
        drainNote = `gave up: no job finished for ${
          fmtSecs(Date.now() - progressAt)
        }`;
        break;
      }
      if (Date.now() - lastLine >= 15_000) {
        lastLine = Date.now();
        say(`draining: ${soak.progress()}`);
      }
      await sleep(2000);
    }
    const drainMs = Date.now() - drainStart;
    soak.closeStall();
    say(
      drainNote === ""
        ? `drained in ${fmtSecs(drainMs)}`
        : `stopped draining after ${fmtSecs(drainMs)}: ${drainNote}`,
    );
    // Late duplicates (a stale command run after its job finished) show up here.
    await sleep(5000);
    const final = await analyse(soak, drainMs, drainNote);
    const totalMs = Date.now() - t0;
    const loadEnd = loadavg();
    await soak.stopProcesses();
    const text = report(soak, final, {
      command,
      started,
      submitMs,
      totalMs,
      machine: await machine(),
      loadStart,
      loadEnd,
      codeStart,
      codeEnd: codeVersion(),
    });
    await Deno.writeTextFile(o.report, text + "\n");
    // The report lives in the repo, whose CI checks formatting: format it.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", o.report],
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
    const bad = final.lost.length + final.stuck.length + final.dups.length;
    console.log(
      [
        "",
        `soak ${bad === 0 ? "PASSED" : "FAILED"} (seed ${o.seed}, ${
          fmtSecs(totalMs)
        })`,
        `  accepted jobs           ${soak.subs.size}`,
        `  final statuses          ${
          [...final.statuses].map(([s, n]) => `${s} ${n}`).join(", ")
        }`,
        `  faults injected         ${soak.faults.length}`,
        `  jobs lost               ${final.lost.length}`,
        `  jobs stuck              ${final.stuck.length}`,
        `  node results duplicated ${final.dups.length}`,
        `  anomalies               ${soak.anomalies.length}`,
        `  report                  ${o.report}`,
      ].join("\n"),
    );
    return bad === 0 ? 0 : 1;
  } finally {
    await soak.cleanup();
  }
}

if (import.meta.main) Deno.exit(await main());
