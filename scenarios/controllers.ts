/**
 * Several controllers on loopback, each with its own nats-server (routed
 * into one JetStream cluster, see `clusterConfig`) or sharing one, and
 * workers that may list several servers. The cluster tests and the soak
 * script run on it. Controllers get `TMPDIR` under the set's temp dir, so
 * every process started — a nats-server orphaned by a crash too — names the
 * temp dir on its command line; `stop()` stops all of them and removes it.
 */
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  type ConsumerInfo,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type Json, killPid, pidAlive, Proc, waitFor } from "./cluster.ts";

export interface Member {
  readonly name: string;
  /** API port. */
  readonly api: number;
  /** Client port of its nats-server. */
  readonly nats: number;
  /** Route port of its nats-server (cluster mode). */
  readonly route: number;
  /** Its config file. */
  readonly file: string;
  /** The current incarnation. */
  proc?: Proc;
}

/** A controller's config, given every member and the set's temp dir. */
export type ConfigFor = (
  m: Member,
  all: readonly Member[],
  dir: string,
) => string;

export interface ClusterConfigOptions {
  replicas?: number;
  heartbeat?: string;
  staleThreshold?: string;
  maxConcurrent?: number;
  maxPending?: number;
  taskTimeout?: string;
  offlineAfter?: string;
}

/**
 * Each member runs a nats-server routed to every other's: one JetStream
 * cluster. Its client lists the peers' servers too, so it stays connected
 * while its own server restarts.
 */
export function clusterConfig(o: ClusterConfigOptions = {}): ConfigFor {
  return (m, all, dir) => {
    const peers = all.filter((p) => p !== m);
    return `api: {host: 127.0.0.1, port: ${m.api}}
nats:
  name: ${m.name}
  server: {host: 127.0.0.1, port: ${m.nats}}
  client:
    urls: [${peers.map((p) => `nats://127.0.0.1:${p.nats}`).join(", ")}]
  cluster:
    name: grid
    host: 127.0.0.1
    port: ${m.route}
    routes: [${peers.map((p) => `nats://127.0.0.1:${p.route}`).join(", ")}]
  jetstream: {store_dir: ${join(dir, `js-${m.name}`)}, replicas: ${
      o.replicas ?? 3
    }}
controller: {heartbeat_interval: ${o.heartbeat ?? "500ms"}, stale_threshold: ${
      o.staleThreshold ?? "6s"
    }}
scheduler: {max_concurrent: ${o.maxConcurrent ?? 10}, max_pending: ${
      o.maxPending ?? 100
    }, task_timeout: ${o.taskTimeout ?? "60s"}}
nodes: {offline_after: ${o.offlineAfter ?? "10s"}}
`;
  };
}

export interface WorkerOptions {
  groups?: string[];
  heartbeat?: string;
  drain?: string;
}

/**
 * `urls` starting at the `i`-th, to spread workers over the servers. The
 * NATS client shuffles its server list, so this orders the config only:
 * see `connectedTo` for where a worker actually is.
 */
export function preferring(urls: readonly string[], i: number): string[] {
  const k = i % urls.length;
  return [...urls.slice(k), ...urls.slice(0, k)];
}

/** Ports on 127.0.0.1 that process `pid` holds an established TCP connection to. */
export function connectedPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(
          Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`),
        );
        if (m) inodes.add(m[1]!);
      } catch { /* closed meanwhile */ }
    }
  } catch {
    return []; // gone
  }
  const out: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/net/${table}`);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "01" || !inodes.has(f[9]!)) continue;
      out.push(parseInt(f[2]!.split(":")[1]!, 16));
    }
  }
  return out;
}

/**
 * `n` distinct ports free now, below the kernel's ephemeral range: a port
 * from `listen(0)` comes from that range, where any outgoing connection
 * (a worker's, a route's) may take it before the server that is to
 * listen on it starts.
 */
export function freePorts(n: number): number[] {
  let low = 32768;
  try {
    const range = Deno.readTextFileSync(
      "/proc/sys/net/ipv4/ip_local_port_range",
    );
    low = Number(range.trim().split(/\s+/)[0]) || low;
  } catch { /* not Linux: keep the default */ }
  const from = Math.max(1024, Math.min(20_000, low - 4000));
  const out = new Set<number>();
  while (out.size < n) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (out.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      out.add(port);
    } catch { /* taken: pick another */ }
  }
  return [...out];
}

/** What a consumer's name shares with every other one its process opened. */
function consumerPrefix(name: string): string {
  return name.replace(/^oc_/, "").slice(0, 12);
}

/**
 * A stream's consumers: names from the meta leader, each one's state from
 * its own leader, which may be on a server that is gone (then `error`).
 */
async function consumers(
  nc: NatsConnection,
  jsm: JetStreamManager,
  stream: string,
): Promise<{ name: string; info?: ConsumerInfo; error?: string }[]> {
  const r = await nc.request(`$JS.API.CONSUMER.NAMES.${stream}`, "{}", {
    timeout: 3000,
  });
  const names = r.json<{ consumers?: string[] }>().consumers ?? [];
  const out: { name: string; info?: ConsumerInfo; error?: string }[] = [];
  for (let i = 0; i < names.length; i += 16) {
    out.push(
      ...await Promise.all(
        names.slice(i, i + 16).map(async (name) => {
          try {
            return { name, info: await jsm.consumers.info(stream, name) };
          } catch (e) {
            return { name, error: String(e) };
          }
        }),
      ),
    );
  }
  return out;
}

export interface ControllerSetOptions {
  /** Prefix of the temp dir. */
  prefix?: string;
  /**
   * Starts one process (the `incarnation`-th of `name`); by default a
   * `Proc` that keeps its log in memory. The soak logs to files and runs a
   * copy of the code.
   */
  spawn?: (
    name: string,
    args: string[],
    env: Record<string, string>,
    incarnation: number,
  ) => Proc;
}

const TERMINAL = ["completed", "failed", "cancelled"];

export class ControllerSet {
  readonly dir: string;
  /** The controllers' TMPDIR: their nats-servers' config dirs go here. */
  readonly tmp: string;
  readonly members: Member[];
  /** The current incarnation of each worker. */
  readonly workers = new Map<string, Proc>();
  /** Every process started, every incarnation, in order. */
  readonly history: Proc[] = [];
  /** How many times each controller and worker was started. */
  readonly starts = new Map<string, number>();
  /** The job `waitJob` waits for, or last waited for. */
  waitingFor?: string;
  readonly #spawn: NonNullable<ControllerSetOptions["spawn"]>;

  constructor(
    names: string[],
    readonly configFor: ConfigFor,
    opts: ControllerSetOptions = {},
  ) {
    this.dir = Deno.makeTempDirSync({ prefix: opts.prefix ?? "grid-multi-" });
    this.tmp = join(this.dir, "tmp");
    Deno.mkdirSync(this.tmp);
    this.#spawn = opts.spawn ??
      ((name, args, env) => new Proc(name, args, env));
    const ports = freePorts(3 * names.length);
    this.members = names.map((name, i) => ({
      name,
      api: ports[3 * i]!,
      nats: ports[3 * i + 1]!,
      route: ports[3 * i + 2]!,
      file: join(this.dir, `${name}.yaml`),
    }));
  }

  url(m: Member): string {
    return `http://127.0.0.1:${m.api}`;
  }

  natsUrl(m: Member): string {
    return `nats://127.0.0.1:${m.nats}`;
  }

  /** Every member's NATS URL, in order. */
  natsUrls(): string[] {
    return this.members.map((m) => this.natsUrl(m));
  }

  member(name: string): Member {
    const m = this.members.find((m) => m.name === name);
    if (!m) throw new Error(`no controller ${name}`);
    return m;
  }

  /** Members whose controller process runs (up or coming up). */
  running(): Member[] {
    return this.members.filter((m) => m.proc?.running);
  }

  #start(name: string, args: string[], env: Record<string, string>): Proc {
    const n = (this.starts.get(name) ?? 0) + 1;
    this.starts.set(name, n);
    const p = this.#spawn(name, args, env, n);
    this.history.push(p);
    return p;
  }

  /** Writes its config and starts the controller; see `ready`. */
  start(m: Member): Proc {
    Deno.writeTextFileSync(m.file, this.configFor(m, this.members, this.dir));
    m.proc = this.#start(
      m.name,
      ["run", "-P=controller", "controller/main.ts", "-c", m.file],
      { TMPDIR: this.tmp },
    );
    return m.proc;
  }

  /** Until every running controller's API answers; throws at once if one exits. */
  async readyAll(timeoutMs = 60_000): Promise<void> {
    const starting = this.members.filter((m) => m.proc);
    const up = new Set<Member>();
    const exited = await waitFor(
      `${starting.map((m) => m.name)} API`,
      async () => {
        for (const m of starting) {
          if (up.has(m)) continue;
          if (!m.proc!.running) return m;
          const r = await fetch(`${this.url(m)}/status`, {
            signal: AbortSignal.timeout(3000),
          }).catch(() => undefined);
          await r?.body?.cancel();
          if (r?.ok) up.add(m);
        }
        return up.size === starting.length && "up";
      },
      timeoutMs,
      250,
    );
    if (exited !== "up") {
      throw new Error(
        `${exited.name} exited (code ${exited.proc?.exitCode})`,
      );
    }
  }

  /** Until its API answers; throws at once if it exits. */
  async ready(m: Member, timeoutMs = 60_000): Promise<void> {
    const up = await waitFor(
      `${m.name} API`,
      async () => {
        if (!m.proc?.running) return "exited";
        const r = await fetch(`${this.url(m)}/status`, {
          signal: AbortSignal.timeout(3000),
        }).catch(() => undefined);
        await r?.body?.cancel();
        return r?.ok && "up";
      },
      timeoutMs,
      250,
    );
    if (up === "exited") {
      throw new Error(`${m.name} exited (code ${m.proc?.exitCode})`);
    }
  }

  /** Starts a worker listing `urls` (in that order). */
  startWorker(id: string, urls: string[], o: WorkerOptions = {}): Proc {
    const file = join(this.dir, `${id}.yaml`);
    Deno.writeTextFileSync(
      file,
      `nats:
  name: ${id}
  client:
    urls: [${urls.join(", ")}]
worker:
  groups: [${(o.groups ?? []).join(", ")}]
  heartbeat_interval: ${o.heartbeat ?? "500ms"}
  drain_timeout: ${o.drain ?? "1s"}
`,
    );
    const p = this.#start(
      id,
      ["run", "-P=worker", "worker/main.ts", "-c", file],
      {},
    );
    this.workers.set(id, p);
    return p;
  }

  /** One API request; the answer's JSON (or `{error: text}`). */
  async api(
    m: Member,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 15_000,
  ): Promise<{ status: number; json: Json }> {
    const r = await fetch(`${this.url(m)}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await r.text();
    let json: Json;
    try {
      json = JSON.parse(text);
    } catch {
      json = { error: text.slice(0, 200) };
    }
    return { status: r.status, json };
  }

  async get(m: Member, path: string): Promise<Json> {
    return (await this.api(m, "GET", path)).json;
  }

  async post(
    m: Member,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> {
    return await this.api(m, "POST", path, body);
  }

  /**
   * Until a controller lists every one of `ids` online: `via` one member,
   * or whichever `via()` names at each poll (by default the running ones
   * in turn).
   */
  async waitOnline(
    ids: string[],
    via?: Member | (() => Member | undefined),
    timeoutMs = 60_000,
    intervalMs = 250,
  ): Promise<void> {
    let turn = 0;
    const pick = typeof via === "function"
      ? via
      : via
      ? () => via
      : () => this.running()[turn++ % Math.max(1, this.running().length)];
    await waitFor(
      `workers ${ids.join(",")} online`,
      async () => {
        const m = pick();
        if (!m) return false;
        const r = await this.api(m, "GET", "/nodes");
        return ids.every((id) =>
          (r.json.nodes as Json[]).some((n) =>
            n.id === id && n.status === "online"
          )
        );
      },
      timeoutMs,
      intervalMs,
    );
  }

  /**
   * Until the job is completed, failed or cancelled, as `m` sees it; then
   * the job with its results. It polls the job list: each GET /job/:id
   * opens a JetStream consumer, and in a cluster every one of those is a
   * meta-leader proposal, load a 2-core box running elections can do without.
   */
  async waitJob(m: Member, id: string, timeoutMs = 60_000): Promise<Json> {
    this.waitingFor = id;
    await waitFor(
      `job ${id} via ${m.name}`,
      async () => {
        const { jobs } = await this.get(m, "/jobs?limit=1000");
        const j = (jobs as Json[]).find((j) => j.id === id);
        return j && TERMINAL.includes(j.status);
      },
      timeoutMs,
      250,
    );
    return await this.get(m, `/job/${id}`);
  }

  /**
   * Until every stream (and KV bucket) has a leader and all its replicas
   * current: losing a server is survivable only then.
   */
  async waitReplicasCurrent(via: Member, timeoutMs = 60_000): Promise<void> {
    const nc = await connect({ servers: this.natsUrl(via) });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2000 });
      await waitFor(
        "every stream's replicas to be current",
        async () => {
          let streams = 0;
          for await (const si of jsm.streams.list()) {
            streams++;
            const replicas = si.cluster?.replicas ?? [];
            if (!si.cluster?.leader || replicas.length < 2) return false;
            if (!replicas.every((r) => r.current && !r.offline)) return false;
          }
          return streams > 0;
        },
        timeoutMs,
        250,
      );
    } finally {
      await nc.close();
    }
  }

  /**
   * Every stream's leader and replicas, and every consumer's leader and
   * progress, as the running servers see them: where a stalled job waits.
   * Consumers are labelled with the controller that opened them where that
   * can be told (see `#consumerOwners`).
   */
  async jetstreamState(): Promise<string> {
    const servers = this.running().map((m) => this.natsUrl(m));
    if (servers.length === 0) return "jetstream: no server running";
    const nc = await connect({ servers, timeout: 3000 });
    const out: string[] = [];
    try {
      const jsm = await jetstreamManager(nc, { timeout: 3000 });
      // Right after a server is lost the meta leader may still be elected.
      const streams = await waitFor(
        "the stream names",
        async () => {
          const names: string[] = [];
          for await (const name of jsm.streams.names()) names.push(name);
          return names;
        },
        15_000,
        500,
      );
      const owners = this.waitingFor
        ? await this.#consumerOwners(nc, jsm, this.waitingFor)
        : new Map<string, string>();
      const label = (name: string) => {
        const who = owners.get(consumerPrefix(name));
        return who ? `${name} [${who}]` : name;
      };
      for (const stream of streams) {
        try {
          const si = await jsm.streams.info(stream);
          const replicas = (si.cluster?.replicas ?? []).map((r) =>
            `${r.name}${r.current ? "" : " (not current)"}${
              r.offline ? " (offline)" : ""
            }`
          );
          out.push(
            `stream ${stream}: leader ${
              si.cluster?.leader || "none"
            }, replicas ${
              replicas.join(", ") || "-"
            }; last seq ${si.state.last_seq}`,
          );
        } catch (e) {
          out.push(`stream ${stream}: no answer (${e})`);
        }
        // Those with work left, a pull waiting or no answer, one a line;
        // the rest counted by leader.
        const idle = new Map<string, number>();
        let list: Awaited<ReturnType<typeof consumers>> = [];
        try {
          list = await consumers(nc, jsm, stream);
        } catch (e) {
          out.push(`  consumer names: no answer (${e})`);
        }
        for (const c of list) {
          if (!c.info) {
            out.push(`  consumer ${label(c.name)}: no answer (${c.error})`);
            continue;
          }
          const ci = c.info;
          const leader = ci.cluster?.leader || "none";
          if (ci.num_pending === 0 && ci.num_waiting === 0) {
            idle.set(leader, (idle.get(leader) ?? 0) + 1);
            continue;
          }
          const filter = ci.config.filter_subject ??
            ci.config.filter_subjects?.join(",") ?? "all";
          out.push(
            `  consumer ${label(c.name)} (${filter}, created ${
              ci.created.slice(11, 23)
            }): leader ${leader}, delivered ${ci.delivered.stream_seq}, pending ${ci.num_pending}, waiting pulls ${ci.num_waiting}`,
          );
        }
        if (idle.size > 0) {
          out.push(
            `  idle consumers by leader: ${
              [...idle].map(([l, n]) => `${l} ${n}`).join(", ")
            }`,
          );
        }
      }
    } catch (e) {
      out.push(`jetstream: ${e}`);
    } finally {
      await nc.close();
    }
    return out.join("\n");
  }

  /**
   * Which running controller opened which consumers, by name prefix: a
   * process names all its consumers from one random prefix, and reading a
   * running job (GET /job/:id) opens one, so reading `job` through each
   * controller in turn shows each one's prefix.
   */
  async #consumerOwners(
    nc: NatsConnection,
    jsm: JetStreamManager,
    job: string,
  ): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    for (const m of this.running()) {
      const since = Date.now() - 1000;
      await this.api(m, "GET", `/job/${job}`, undefined, 10_000).catch(
        () => {},
      );
      const list = await consumers(nc, jsm, "GRID_RES").catch(() => []);
      for (const c of list) {
        const created = Date.parse(c.info?.created ?? "");
        const prefix = consumerPrefix(c.name);
        if (created >= since && !owners.has(prefix)) owners.set(prefix, m.name);
      }
    }
    return owners;
  }

  /**
   * Until the set is quiet after a change: every running controller sees
   * `workers` online and every running peer online, and its own server
   * answers for JetStream with every stream's replicas current.
   */
  async waitSettled(workers: string[], timeoutMs = 60_000): Promise<void> {
    const names = () => this.running().map((m) => m.name);
    for (const m of this.running()) {
      await this.waitOnline(workers, m, timeoutMs);
      await waitFor(
        `${m.name} to see ${names()} online`,
        async () => {
          const { controllers } = await this.get(m, "/controllers");
          return names().every((n) =>
            (controllers as Json[]).some((c) =>
              c.id === n && c.status === "online"
            )
          );
        },
        timeoutMs,
        250,
      );
      await this.waitReplicasCurrent(m, timeoutMs);
    }
  }

  /** The members whose nats-server process `pid` holds a connection to. */
  connectedTo(pid: number): Member[] {
    const ports = connectedPorts(pid);
    return this.members.filter((m) => ports.includes(m.nats));
  }

  /** SIGKILLs `pids` and waits until they are gone. */
  async #kill(what: string, pids: number[], timeoutMs = 10_000) {
    for (const k of pids) killPid(k);
    await waitFor(
      `${what} to exit`,
      () => pids.every((k) => !pidAlive(k)),
      timeoutMs,
    );
  }

  /** SIGKILLs a controller and its nats-server, as a host crash would. */
  async crash(m: Member): Promise<number[]> {
    const kids = m.proc!.children();
    await m.proc!.stop("SIGKILL");
    await this.#kill(`${m.name}'s nats-server`, kids);
    return kids;
  }

  /** SIGKILLs whatever a controller has started (its nats-server). */
  async killChildren(m: Member): Promise<number[]> {
    const kids = m.proc?.children() ?? [];
    await this.#kill(`${m.name}'s nats-server`, kids);
    return kids;
  }

  /**
   * SIGKILLs only a controller's nats-server, and waits until the
   * controller has restarted it and it takes connections again.
   */
  async killNatsServer(m: Member, timeoutMs = 60_000): Promise<number[]> {
    const kids = m.proc?.children() ?? [];
    if (kids.length === 0) throw new Error(`${m.name} has no nats-server`);
    for (const k of kids) killPid(k);
    const back = await waitFor(
      `${m.name} to restart its nats-server`,
      async () => {
        if (!m.proc?.running) return "exited";
        if (!m.proc.children().some((k) => !kids.includes(k))) return false;
        const c = await Deno.connect({ hostname: "127.0.0.1", port: m.nats });
        c.close();
        return "up";
      },
      timeoutMs,
      100,
    );
    if (back === "exited") {
      throw new Error(`${m.name} exited (code ${m.proc?.exitCode})`);
    }
    return kids;
  }

  /**
   * The last `lines` of every process's log, every incarnation, leaving
   * out the nats-servers' retries of routes to a peer that is down.
   */
  dump(lines = 150): string {
    const seen = new Map<string, number>();
    return this.history.map((p) => {
      const n = (seen.get(p.name) ?? 0) + 1;
      seen.set(p.name, n);
      const exit = p.exitCode === undefined ? "" : `, exited ${p.exitCode}`;
      const log = p.log.filter((l) =>
        !l.includes("Error trying to connect to route")
      );
      return `--- ${p.name} #${n} (pid ${p.pid}${exit}) ---\n${
        log.slice(-lines).join("\n")
      }`;
    }).join("\n");
  }

  /** Processes still running whose command line names our temp dir. */
  strays(): number[] {
    const out: number[] = [];
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
      try {
        const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
        if (cmd.includes(this.dir) && pidAlive(Number(e.name))) {
          out.push(Number(e.name));
        }
      } catch { /* gone */ }
    }
    return out;
  }

  /** Stops every process started; the temp dir stays. */
  async stopProcesses(workerGraceMs = 5000): Promise<void> {
    await Promise.all(
      [...this.workers.values()].map((w) =>
        w.running ? w.stop("SIGTERM", workerGraceMs) : undefined
      ),
    );
    await Promise.all(this.members.map(async (m) => {
      const kids = m.proc?.children() ?? [];
      if (m.proc?.running) await m.proc.stop("SIGTERM", 10_000);
      for (const k of kids) if (pidAlive(k)) killPid(k);
    }));
    // Anything left that runs from our temp dir (a nats-server orphaned
    // by a crash) is ours: its command line names our config files.
    for (const pid of this.strays()) killPid(pid);
    // Read what is left of every log.
    await Promise.all(this.history.map((p) => p.wait()));
  }

  /** Stops everything and removes the temp dir. */
  async stop(): Promise<void> {
    await this.stopProcesses();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
