/**
 * Starts a local GRID cluster from source: a controller (with its own
 * nats-server) and workers, each run with exactly the permission set its
 * compiled binary gets. Used by the quick start, the scenario runner, the
 * bench and the integration tests. Everything started is stopped and the
 * temp dir removed by `stop()`.
 */
import { join } from "node:path";
import {
  authHeaders,
  enrollTo,
  httpRequest,
  type Json,
  jsonOr,
  readBootstrapToken,
} from "./http.ts";
import { freePort } from "./ports.ts";
import { killAll, killPid, pidAlive, Proc } from "./proc.ts";
import { waitFor } from "./wait.ts";

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
  /** Groups it is enrolled with; default: `groups` (it may claim more). */
  enrolled?: string[];
  /** A creds file of its own choosing instead of enrolling (attack tests). */
  credentials?: string | null;
  /** Labels it is enrolled with and claims in `worker.labels`. */
  labels?: Record<string, string>;
}

export interface ClusterOptions {
  workers?: WorkerSpec[];
  /** The controller uses a nats-server the test runs, at `natsPort`. */
  externalNats?: boolean;
  /** TLS on the controller's nats-server; workers trust `ca`. */
  natsTls?: { cert: string; key: string; ca: string };
  maxConcurrent?: number;
  maxPending?: number;
  taskTimeout?: string;
  offlineAfter?: string;
  maxBody?: number;
  /** `history:` of the controller's config (retention of finished jobs). */
  history?: { maxAge?: string; maxJobs?: number };
  /** Fixed ports (the quick start); random free ones otherwise. */
  apiPort?: number;
  natsPort?: number;
  /** Log level for every process (GRID_LOG). */
  logLevel?: string;
  /** Called with each line a process prints (the quick start shows them). */
  echo?: (proc: string, line: string) => void;
}

function historyYaml(h: ClusterOptions["history"]): string {
  if (!h) return "";
  const lines = [
    ...(h.maxAge === undefined ? [] : [`  max_age: ${h.maxAge}`]),
    ...(h.maxJobs === undefined ? [] : [`  max_jobs: ${h.maxJobs}`]),
  ];
  return `history:\n${lines.map((l) => `${l}\n`).join("")}`;
}

/** How the controller is run unless told otherwise: as `grid` gets it. */
const CONTROLLER_RUN = ["run", "-P=controller", "controller/main.ts"];

export class Cluster {
  readonly dir: string;
  readonly apiPort: number;
  readonly natsPort: number;
  controller?: Proc;
  readonly workers = new Map<string, Proc>();
  /** The controller's bootstrap admin token, once it has written it. */
  token?: string;
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

  get configFile(): string {
    return join(this.dir, "controller.yaml");
  }

  controllerConfig(): string {
    const o = this.opts;
    return `api:
  host: 127.0.0.1
  port: ${this.apiPort}
  max_body: ${o.maxBody ?? 1048576}
nats:
  name: test-controller
${
      o.externalNats
        ? `  server: {enabled: false}\n  client: {urls: [${this.natsUrl}]}`
        : `  server:\n    host: 127.0.0.1\n    port: ${this.natsPort}`
    }
  jetstream:
    store_dir: ${join(this.dir, "jetstream")}
${
      o.natsTls
        ? `  tls: {cert: ${o.natsTls.cert}, key: ${o.natsTls.key}, ca: ${o.natsTls.ca}}\n`
        : ""
    }scheduler:
  max_concurrent: ${o.maxConcurrent ?? 5}
  max_pending: ${o.maxPending ?? 100}
  task_timeout: ${o.taskTimeout ?? "60s"}
nodes:
  offline_after: ${o.offlineAfter ?? "3s"}
${historyYaml(o.history)}`;
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

  /**
   * Writes its config, starts the controller and waits for its API.
   * `run` is the `deno` command line up to the module (the bench adds
   * runtime flags).
   */
  async startController(
    run = CONTROLLER_RUN,
    timeoutMs = 30_000,
  ): Promise<Proc> {
    const file = this.configFile;
    await Deno.writeTextFile(file, this.controllerConfig());
    const p = this.#spawn("controller", [...run, "-c", file]);
    this.controller = p;
    await waitFor("the controller API", async () => {
      if (!pidAlive(p.pid)) throw new Error(`controller exited\n${p.dump()}`);
      // The API asks for a token: the one the controller bootstraps.
      this.token ??= readBootstrapToken(file);
      if (this.token === undefined) return false;
      const r = await fetch(`${this.api}/status`, {
        headers: authHeaders(this.token),
      }).catch(() => undefined);
      if (!r) return false;
      await r.body?.cancel();
      return r.ok;
    }, timeoutMs);
    return p;
  }

  /** SIGKILLs the controller and its nats-server, as a host crash would. */
  async crashController(): Promise<void> {
    const p = this.controller!;
    const kids = p.children();
    await p.stop("SIGKILL");
    await killAll("nats-server", kids, 20_000);
  }

  /** Where worker `id`'s creds file is kept. */
  credsFile(id: string): string {
    return join(this.dir, `${id}.creds`);
  }

  workerConfig(w: WorkerSpec): string {
    const creds = w.credentials === undefined
      ? this.credsFile(w.id)
      : w.credentials;
    return `nats:
  name: ${w.id}
  client:
    urls: ${this.natsUrl}
${creds === null ? "" : `    credentials: ${creds}\n`}${
      this.opts.natsTls ? `    tls: {ca: ${this.opts.natsTls.ca}}\n` : ""
    }worker:
  groups: [${(w.groups ?? []).join(", ")}]
  heartbeat_interval: ${w.heartbeat ?? "500ms"}
  drain_timeout: ${w.drain ?? "1s"}
${w.labels ? `  labels: ${JSON.stringify(w.labels)}\n` : ""}${w.extra ?? ""}`;
  }

  /** Enrolls it (once) as an admin would, then starts it with its creds. */
  async startWorker(w: WorkerSpec): Promise<Proc> {
    if (w.credentials === undefined) {
      await enrollTo(
        this.api,
        this.token,
        w.id,
        w.enrolled ?? w.groups ?? [],
        this.credsFile(w.id),
        w.labels,
      );
    }
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
    const r = await this.request("GET", "/nodes");
    if (r.status !== 200) throw new Error(`GET /nodes: ${r.status}`);
    // A bare array (the reference's shape), or {nodes} from older controllers.
    return Array.isArray(r.json) ? r.json : r.json.nodes;
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

  /**
   * One API request with `token` (the bootstrap admin token unless given);
   * the answer's JSON, or its text when it is not JSON.
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
    token: string | undefined = this.token,
  ): Promise<{ status: number; json: Json }> {
    const r = await httpRequest(
      `${this.api}${path}`,
      method,
      body,
      undefined,
      token,
    );
    return { status: r.status, json: jsonOr(r.text, (text) => text) };
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
