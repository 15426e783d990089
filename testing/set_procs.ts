/**
 * The processes of a set of controllers on loopback and their workers:
 * ports, config files, starts (every incarnation kept), the faults a test
 * or the soak injects, and the stop. Controllers get `TMPDIR` under the
 * set's temp dir, so every process started — a nats-server orphaned by a
 * crash too — names the temp dir on its command line; `stop()` stops all
 * of them and removes it. `ControllerSet` adds the API calls and waits.
 */
import { join } from "node:path";
import {
  type ConfigFor,
  type Member,
  workerConfig,
  type WorkerOptions,
} from "./configs.ts";
import { freePorts } from "./ports.ts";
import {
  connectedPorts,
  killAll,
  killPid,
  pidAlive,
  Proc,
  processesNaming,
} from "./proc.ts";
import { waitFor } from "./wait.ts";

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

export class ControllerProcs {
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

  /** Where worker `id`'s creds file is kept. */
  credsFile(id: string): string {
    return join(this.dir, `${id}.creds`);
  }

  /** Gives worker `id` its identity (a creds file); the set does it through an API. */
  protected enroll(_id: string, _groups: string[]): Promise<void> {
    return Promise.resolve();
  }

  /** Enrolls (once) and starts a worker listing `urls` (in that order). */
  async startWorker(
    id: string,
    urls: string[],
    o: WorkerOptions = {},
  ): Promise<Proc> {
    await this.enroll(id, o.groups ?? []);
    const file = join(this.dir, `${id}.yaml`);
    Deno.writeTextFileSync(
      file,
      workerConfig(id, urls, { ...o, credentials: this.credsFile(id) }),
    );
    const p = this.#start(
      id,
      ["run", "-P=worker", "worker/main.ts", "-c", file],
      {},
    );
    this.workers.set(id, p);
    return p;
  }

  /** The members whose nats-server process `pid` holds a connection to. */
  connectedTo(pid: number): Member[] {
    const ports = connectedPorts(pid);
    return this.members.filter((m) => ports.includes(m.nats));
  }

  /** SIGKILLs a controller and its nats-server, as a host crash would. */
  async crash(m: Member): Promise<number[]> {
    const kids = m.proc!.children();
    await m.proc!.stop("SIGKILL");
    await killAll(`${m.name}'s nats-server`, kids);
    return kids;
  }

  /** SIGKILLs whatever a controller has started (its nats-server). */
  async killChildren(m: Member): Promise<number[]> {
    const kids = m.proc?.children() ?? [];
    await killAll(`${m.name}'s nats-server`, kids);
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
    return processesNaming(this.dir);
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
