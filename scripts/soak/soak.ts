/**
 * The soak's cluster and bookkeeping: three controllers (one JetStream
 * cluster) and the workers, each process logged to its own file and run
 * from a copy of the code; the jobs accepted, what the controllers say
 * about them, and what the workers' logs say they started.
 */
import { join } from "node:path";
import {
  clusterConfig,
  ControllerSet,
  type Json,
  preferring,
  Proc,
  ROOT,
} from "../../testing/mod.ts";
import { skewedArgs } from "./clock_skew.ts";
import { snapshot } from "./env.ts";
import { GROUPS } from "./jobs.ts";
import type {
  Controller,
  FaultRecord,
  Options,
  Sub,
  TaskStart,
  Worker,
} from "./types.ts";
import { fmtSecs, say, since, TERMINAL } from "./util.ts";

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

export class Soak {
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
        skewMs: 0,
        downs: [],
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
      w?.skewMs ? skewedArgs(join(this.dir, "skew"), w, args) : args,
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
      // A full page may have a next one (the API's Link header says so).
      const jobs = r.json as Json[];
      for (const j of jobs) out.set(j.id, j.status);
      if (jobs.length < 1000) return out;
      before = jobs.at(-1).id;
    }
  }

  // ---- workers ----

  /** Notes that `w` is going down now (a fault), unless it already is. */
  markDown(w: Worker): void {
    const last = w.downs.at(-1);
    if (!last || last.to !== undefined) w.downs.push({ from: Date.now() });
  }

  async startWorker(w: Worker, index: number): Promise<void> {
    // Spread the workers: each prefers a different server.
    const p = await this.set.startWorker(
      w.id,
      preferring(this.set.natsUrls(), index),
      { groups: w.groups },
    );
    const label = `${w.id}#${this.set.starts.get(w.id)}`;
    w.proc = p;
    w.up = true;
    const down = w.downs.at(-1);
    if (down && down.to === undefined) down.to = Date.now();
    p.child.status.then((s) => {
      w.up = false;
      if (!this.#cleaned) this.markDown(w);
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
    for (const [i, w] of this.workers.entries()) await this.startWorker(w, i);
    await this.waitWorkersOnline(this.workers.map((w) => w.id), 120_000);
    say(`${this.workers.length} workers online`);
  }

  // ---- progress ----

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
}
