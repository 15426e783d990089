/**
 * Starts a local GRID cluster from source: a controller (with its own
 * nats-server) and workers, each run with exactly the permission set its
 * compiled binary gets. Used by the quick start, the scenario runner and
 * the integration tests. Everything started is stopped and the temp dir
 * removed by `stop()`.
 */
import { join } from "node:path";

/** API answers as tests read them: loosely, field by field. */
// deno-lint-ignore no-explicit-any
export type Json = any;

export const ROOT = new URL("..", import.meta.url).pathname;

export interface WorkerSpec {
  id: string;
  groups?: string[];
  heartbeat?: string;
  /** Extra YAML under `worker:` (e.g. binaries). */
  extra?: string;
  /** How long a SIGTERMed worker lets its running task go on. */
  drain?: string;
  /** Permission flags instead of `-P=worker` (tests that add a stand-in program). */
  permissions?: string[];
}

export interface ClusterOptions {
  workers?: WorkerSpec[];
  maxConcurrent?: number;
  maxPending?: number;
  taskTimeout?: string;
  offlineAfter?: string;
  maxBody?: number;
  /** Fixed ports (the quick start); random free ones otherwise. */
  apiPort?: number;
  natsPort?: number;
  /** Log level for every process (GRID_LOG). */
  logLevel?: string;
  /** Called with each line a process prints (the quick start shows them). */
  echo?: (proc: string, line: string) => void;
}

export interface ProcOptions {
  /** Where it runs: the checkout unless given (the soak runs a copy of the code). */
  cwd?: string;
  /** How many of the latest lines `log` keeps: all unless given (0 for long runs that log to files). */
  keep?: number;
}

export class Proc {
  readonly log: string[] = [];
  readonly child: Deno.ChildProcess;
  /** Its exit code, once it has exited. */
  exitCode?: number;
  /** `stop()` was called: the exit is one we asked for. */
  stopping = false;
  #pump: Promise<void>;
  constructor(
    readonly name: string,
    args: string[],
    env: Record<string, string> = {},
    readonly echo?: (line: string) => void,
    readonly opts: ProcOptions = {},
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: opts.cwd ?? ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { GRID_LOG: "info", NO_COLOR: "1", ...env },
    }).spawn();
    this.child.status.then((s) => (this.exitCode = s.code));
    // A read that fails ends that stream's log; it must not go unhandled.
    this.#pump = Promise.all([
      this.#read(this.child.stdout).catch(() => {}),
      this.#read(this.child.stderr).catch(() => {}),
    ])
      .then(() => {});
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += dec.decode(chunk, { stream: true });
      const lines = buf.split("\n");
      buf = lines.pop()!;
      this.#keep(lines);
      if (this.echo) { for (const l of lines) this.echo(l); }
    }
    if (buf) {
      this.#keep([buf]);
      this.echo?.(buf);
    }
  }

  #keep(lines: string[]): void {
    const keep = this.opts.keep;
    if (keep === 0) return;
    this.log.push(...lines);
    if (keep !== undefined && this.log.length > 2 * keep) {
      this.log.splice(0, this.log.length - keep);
    }
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Not exited (nor a zombie). */
  get running(): boolean {
    return this.exitCode === undefined && pidAlive(this.pid);
  }

  /** Direct children (the controller's nats-server). */
  children(): number[] {
    return childrenOf(this.pid);
  }

  async stop(
    signal: Deno.Signal = "SIGTERM",
    graceMs = 10_000,
  ): Promise<Deno.CommandStatus> {
    this.stopping = true;
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, graceMs);
    const status = await this.child.status;
    clearTimeout(timer);
    await this.#pump;
    return status;
  }

  async wait(): Promise<Deno.CommandStatus> {
    const s = await this.child.status;
    await this.#pump;
    return s;
  }

  dump(lines = 150): string {
    return `--- ${this.name} ---\n${this.log.slice(-lines).join("\n")}`;
  }
}

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Polls `check` until it returns a value other than undefined/false, or throws on the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out waiting for ${what}${last ? ` (last error: ${last})` : ""}`,
  );
}

/** Direct children of a process, from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(
        `/proc/${pid}/task/${t.name}/children`,
      );
      out.push(...text.trim().split(/\s+/).filter(Boolean).map(Number));
    }
  } catch { /* gone */ }
  return out;
}

export function killPid(pid: number, signal: Deno.Signal = "SIGKILL"): void {
  try {
    Deno.kill(pid, signal);
  } catch { /* gone */ }
}

export function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

export class Cluster {
  readonly dir: string;
  readonly apiPort: number;
  readonly natsPort: number;
  controller?: Proc;
  readonly workers = new Map<string, Proc>();
  #orphans: number[] = [];

  constructor(readonly opts: ClusterOptions) {
    this.dir = Deno.makeTempDirSync({ prefix: "grid-cluster-" });
    this.apiPort = opts.apiPort ?? freePort();
    this.natsPort = opts.natsPort ?? freePort();
  }

  get api(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get natsUrl(): string {
    return `nats://127.0.0.1:${this.natsPort}`;
  }

  controllerConfig(): string {
    const o = this.opts;
    return `api:
  host: 127.0.0.1
  port: ${this.apiPort}
  max_body: ${o.maxBody ?? 1048576}
nats:
  name: test-controller
  server:
    host: 127.0.0.1
    port: ${this.natsPort}
  jetstream:
    store_dir: ${join(this.dir, "jetstream")}
scheduler:
  max_concurrent: ${o.maxConcurrent ?? 5}
  max_pending: ${o.maxPending ?? 100}
  task_timeout: ${o.taskTimeout ?? "60s"}
nodes:
  offline_after: ${o.offlineAfter ?? "3s"}
`;
  }

  #spawn(name: string, args: string[]): Proc {
    const echo = this.opts.echo;
    return new Proc(
      name,
      args,
      // Temp files inside our dir: a crashed controller's go with it.
      { GRID_LOG: this.opts.logLevel ?? "info", TMPDIR: this.dir },
      echo ? (line) => echo(name, line) : undefined,
    );
  }

  async startController(): Promise<Proc> {
    const file = join(this.dir, "controller.yaml");
    await Deno.writeTextFile(file, this.controllerConfig());
    const p = this.#spawn("controller", [
      "run",
      "-P=controller",
      "controller/main.ts",
      "-c",
      file,
    ]);
    this.controller = p;
    await waitFor("the controller API", async () => {
      if (!pidAlive(p.pid)) throw new Error(`controller exited\n${p.dump()}`);
      const r = await fetch(`${this.api}/status`).catch(() => undefined);
      if (!r) return false;
      await r.body?.cancel();
      return r.ok;
    }, 30_000);
    return p;
  }

  /** SIGKILLs the controller and its nats-server, as a host crash would. */
  async crashController(): Promise<void> {
    const p = this.controller!;
    const kids = p.children();
    await p.stop("SIGKILL");
    for (const k of kids) killPid(k);
    await waitFor("nats-server to exit", () => kids.every((k) => !pidAlive(k)));
  }

  workerConfig(w: WorkerSpec): string {
    return `nats:
  name: ${w.id}
  client:
    urls: ${this.natsUrl}
worker:
  groups: [${(w.groups ?? []).join(", ")}]
  heartbeat_interval: ${w.heartbeat ?? "500ms"}
  drain_timeout: ${w.drain ?? "1s"}
${w.extra ?? ""}`;
  }

  async startWorker(w: WorkerSpec): Promise<Proc> {
    const file = join(this.dir, `${w.id}.yaml`);
    await Deno.writeTextFile(file, this.workerConfig(w));
    const perms = w.permissions ?? ["-P=worker"];
    const p = this.#spawn(w.id, [
      "run",
      ...perms,
      "worker/main.ts",
      "-c",
      file,
    ]);
    this.workers.set(w.id, p);
    return p;
  }

  async nodes(): Promise<{ id: string; status: string }[]> {
    const r = await fetch(`${this.api}/nodes`);
    return (await r.json()).nodes;
  }

  async waitOnline(ids: string[]): Promise<void> {
    await waitFor(`nodes ${ids.join(",")} online`, async () => {
      const nodes = await this.nodes();
      return ids.every((id) =>
        nodes.some((n) => n.id === id && n.status === "online")
      );
    }, 30_000);
  }

  async start(): Promise<this> {
    try {
      await this.startController();
      for (const w of this.opts.workers ?? []) await this.startWorker(w);
      await this.waitOnline((this.opts.workers ?? []).map((w) => w.id));
    } catch (e) {
      const logs = [this.controller, ...this.workers.values()].map((p) =>
        p?.dump()
      ).join("\n");
      await this.stop();
      throw new Error(`${(e as Error).message}\n${logs}`);
    }
    return this;
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> {
    const r = await fetch(`${this.api}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined
        ? undefined
        : typeof body === "string"
        ? body
        : JSON.stringify(body),
    });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: r.status, json };
  }

  async submit(job: unknown): Promise<string> {
    const r = await this.request("POST", "/job", job);
    if (r.status !== 202) {
      throw new Error(`submit failed: ${r.status} ${JSON.stringify(r.json)}`);
    }
    return r.json.id;
  }

  async job(id: string): Promise<Json> {
    return (await this.request("GET", `/job/${id}`)).json;
  }

  async waitJob(id: string, timeoutMs = 30_000): Promise<Json> {
    return await waitFor(`job ${id} to finish`, async () => {
      const j = await this.job(id);
      return ["completed", "failed", "cancelled"].includes(j.status)
        ? j
        : undefined;
    }, timeoutMs);
  }

  dump(): string {
    return [this.controller, ...this.workers.values()].map((p) =>
      p?.dump() ?? ""
    ).join("\n");
  }

  async stop(): Promise<void> {
    const kids = this.controller?.children() ?? [];
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    await this.controller?.stop();
    for (const k of [...kids, ...this.#orphans]) if (pidAlive(k)) killPid(k);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
