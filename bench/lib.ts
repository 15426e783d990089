/**
 * Small helpers shared by the benchmark: statistics, /proc readers, child
 * processes that print JSON events, and the clean-up list every process
 * and temp dir the bench starts is put on.
 */
// proc.ts alone, not testing/mod.ts: the simulated workers import this file.
import { readLines, ROOT, terminate } from "../testing/proc.ts";

/** A progress line on stderr, with the time of day. */
export const log = (msg: string) =>
  console.error(`${new Date().toISOString().slice(11, 23)} ${msg}`);

/** The node id of simulated worker `i` (sorts in start order). */
export function simId(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(5, "0")}`;
}

/**
 * The raw baseline worker paired with simulated worker `id`: a user of its
 * own, whose subjects no node has (raw.ts).
 */
export const rawId = (id: string): string => `raw-${id}`;

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(
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

// ---- statistics ----

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an already sorted array. */
function rank(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(
    sorted.length - 1,
    Math.max(0, Math.ceil((p / 100) * sorted.length) - 1),
  );
  return sorted[i]!;
}

export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    p50: rank(s, 50),
    p99: rank(s, 99),
    min: s[0] ?? NaN,
    max: s.at(-1) ?? NaN,
    mean: s.length ? sum / s.length : NaN,
  };
}

/** Milliseconds with a sensible number of digits. */
export function ms(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "–";
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return "–";
  return `${(a / b).toFixed(2)}×`;
}

// ---- /proc ----

const TICK_MS = 10; // CLK_TCK is 100 on Linux x86-64

/** User+system CPU time of a process (all its threads), in ms. */
export function cpuMs(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
export function memMiB(pid: number | "self"): { rss: number; hwm: number } {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** A process's command name (`nats-server`…). */
export function commOf(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return "";
  }
}

/** Busy CPU of the whole machine (all cores), in ms, from /proc/stat. */
export function machineBusyMs(): number {
  try {
    const f = Deno.readTextFileSync("/proc/stat").split("\n")[0]!.trim()
      .split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest is inside user)
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * TICK_MS;
  } catch {
    return NaN;
  }
}

/** Every process this bench started (and itself): the rest is foreign load. */
export const ourPids = new Set<number>([Deno.pid]);

/**
 * CPU of some processes between construction and `since()`, and how much
 * CPU everything else on the machine (other people's tests…) used meanwhile.
 */
export class CpuMeter {
  #start: number[];
  #ours: Map<number, number>;
  #busy = machineBusyMs();
  #t0 = performance.now();
  constructor(readonly pids: number[]) {
    this.#start = pids.map((p) => cpuMs(p));
    this.#ours = new Map([...ourPids].map((p) => [p, cpuMs(p)]));
  }
  /** CPU ms used by each pid, the wall time, and foreign CPU as % of all cores. */
  since(): { cpu: number[]; total: number; wall: number; foreignPct: number } {
    const cpu = this.pids.map((p, i) => cpuMs(p) - this.#start[i]!);
    const wall = performance.now() - this.#t0;
    let ours = 0;
    for (const [p, c0] of this.#ours) {
      const c1 = cpuMs(p);
      if (Number.isFinite(c1) && Number.isFinite(c0)) ours += c1 - c0;
    }
    const foreign = machineBusyMs() - this.#busy - ours;
    return {
      cpu,
      total: cpu.reduce((a, b) => a + b, 0),
      wall,
      foreignPct: Math.max(
        0,
        (100 * foreign) / (wall * navigator.hardwareConcurrency),
      ),
    };
  }
}

/** Samples RSS of some pids while a run lasts and keeps the maximum. */
export class RssSampler {
  max = new Map<number, number>();
  #timer: ReturnType<typeof setInterval>;
  constructor(readonly pids: number[], everyMs = 250) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }
  #sample(): void {
    for (const p of this.pids) {
      const r = memMiB(p).rss;
      if (Number.isFinite(r)) {
        this.max.set(p, Math.max(this.max.get(p) ?? 0, r));
      }
    }
  }
  stop(): Map<number, number> {
    clearInterval(this.#timer);
    this.#sample();
    return this.max;
  }
}

// ---- clean-up ----

type Cleanup = () => Promise<void> | void;
const cleanups: Cleanup[] = [];
let cleaning: Promise<void> | undefined;

/** Registers a clean-up step; returns a function that runs and removes it. */
export function onCleanup(fn: Cleanup): () => Promise<void> {
  cleanups.push(fn);
  return async () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) {
      cleanups.splice(i, 1);
      await fn();
    }
  };
}

/** Runs every registered clean-up, newest first; safe to call twice. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()!;
      try {
        await fn();
      } catch (e) {
        console.error(`clean-up step failed: ${e}`);
      }
    }
  })();
  return cleaning;
}

/** Cleans up and exits on Ctrl-C or SIGTERM. */
export function exitOnSignals(): void {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(sig, () => {
      console.error(`\n${sig}: stopping every process the bench started…`);
      cleanupAll().finally(() => Deno.exit(130));
    });
  }
}

// ---- child processes that talk JSON lines ----

// deno-lint-ignore no-explicit-any
export type Event = Record<string, any>;

/**
 * A child Deno process that prints one JSON object per line on stdout
 * (events) and diagnostics on stderr (kept, last 200 lines). Its stdin is
 * a pipe the child watches: if the bench dies, the child sees EOF and exits.
 */
export class EventProc {
  readonly events: Event[] = [];
  readonly stderr: string[] = [];
  readonly child: Deno.ChildProcess;
  #waiters: (() => void)[] = [];
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #pumps: Promise<void>;
  #removeCleanup: () => Promise<void>;
  exited = false;

  constructor(
    readonly name: string,
    args: string[],
    env: Record<string, string> = {},
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    ourPids.add(this.child.pid);
    this.child.status.then(() => {
      this.exited = true;
      this.#wake();
    });
    this.#pumps = Promise.all([
      this.#lines(this.child.stdout, (l) => {
        try {
          this.events.push(JSON.parse(l));
        } catch {
          this.stderr.push(l);
        }
        this.#wake();
      }),
      this.#lines(this.child.stderr, (l) => {
        this.stderr.push(l);
        if (this.stderr.length > 200) this.stderr.shift();
      }),
    ]).then(() => {});
    this.#removeCleanup = onCleanup(() => this.#kill());
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Calls `fn` for each non-empty line of `stream`. */
  #lines(
    stream: ReadableStream<Uint8Array>,
    fn: (line: string) => void,
  ): Promise<void> {
    return readLines(stream, (lines) => {
      for (const l of lines) if (l) fn(l);
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Waits for an event matching `pred`; throws if the process exits first. */
  async waitEvent(
    pred: (e: Event) => boolean,
    timeoutMs: number,
  ): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const e = this.events.find(pred);
      if (e) return e;
      if (this.exited) {
        throw new Error(`${this.name} exited\n${this.tail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: timed out\n${this.tail()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  tail(n = 30): string {
    return `--- ${this.name} (pid ${this.pid}) ---\n${
      this.stderr.slice(-n).join("\n")
    }`;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(): Promise<void> {
    return this.#removeCleanup();
  }

  async #kill(graceMs = 30_000): Promise<void> {
    await terminate(this.child, "SIGTERM", graceMs);
    await this.#stdin.close().catch(() => {});
    await this.#pumps.catch(() => {});
  }
}
