/**
 * Runs and supervises the controller's own nats-server with JetStream.
 * Start-up writes a temp config, then races "the ports file appeared"
 * against "the process exited", so a bad binary or a taken port is
 * reported at once with the server's own words instead of a hang.
 */
import { dirname, join } from "node:path";
import { logger } from "../lib/log.ts";

const log = logger("nats-server");

export interface NatsServerOptions {
  binary: string;
  host: string;
  port: number;
  storeDir: string;
  name: string;
  /** How long to wait for readiness. */
  startTimeoutMs?: number;
  /** Routes to peers: together the servers form one JetStream cluster. */
  cluster?: { name: string; host: string; port: number; routes: string[] };
}

export class NatsServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NatsServerError";
  }
}

/**
 * Finds the nats-server binary: the configured path, else one beside this
 * executable (release layout), else PATH plus the sbin directories.
 */
export function findNatsServer(configured?: string): string {
  if (configured) {
    if (!isFile(configured)) {
      throw new NatsServerError(
        `nats.server.binary: "${configured}" does not exist or is not a file`,
      );
    }
    return configured;
  }
  const candidates = [join(dirname(Deno.execPath()), "nats-server")];
  const path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const dir of path.split(":")) candidates.push(join(dir, "nats-server"));
  // A binary this process may not run (outside the baked --allow-run list) is no candidate.
  for (const c of candidates) if (isFile(c) && mayRun(c)) return c;
  throw new NatsServerError(
    "nats-server not found beside the grid executable or in " +
      `${path}; install it (apt-get install nats-server) or set nats.server.binary`,
  );
}

function mayRun(p: string): boolean {
  return Deno.permissions.querySync({ name: "run", command: p }).state ===
    "granted";
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

export class NatsServer {
  #child: Deno.ChildProcess;
  #tmp: string;
  #stopping = false;
  #stderrTail: string[] = [];
  readonly exited: Promise<Deno.CommandStatus>;

  #opts!: NatsServerOptions;

  private constructor(
    child: Deno.ChildProcess,
    tmp: string,
    readonly url: string,
    readonly port: number,
  ) {
    this.#child = child;
    this.#tmp = tmp;
    this.exited = child.status;
  }

  static async start(opts: NatsServerOptions): Promise<NatsServer> {
    assertPortFree(opts.host, opts.port);
    const tmp = await Deno.makeTempDir({ prefix: "grid-nats-" });
    const conf = join(tmp, "nats.conf");
    // Quoted JSON strings are valid NATS config values and escape any path safely.
    await Deno.writeTextFile(
      conf,
      [
        `server_name: ${JSON.stringify(opts.name)}`,
        `host: ${JSON.stringify(opts.host)}`,
        `port: ${opts.port === 0 ? -1 : opts.port}`,
        `max_payload: 8388608`,
        `ports_file_dir: ${JSON.stringify(tmp)}`,
        `jetstream {`,
        `  store_dir: ${JSON.stringify(opts.storeDir)}`,
        `}`,
        ...(opts.cluster ? clusterBlock(opts.cluster) : []),
      ].join("\n") + "\n",
    );
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(opts.binary, {
        args: ["-c", conf],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw new NatsServerError(
        `cannot start nats-server "${opts.binary}": ${(e as Error).message}`,
      );
    }
    const tail: string[] = [];
    pumpStderr(child.stderr, tail);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
    let exited: Deno.CommandStatus | undefined;
    child.status.then((s) => (exited = s));
    const portsFile = join(
      tmp,
      `${opts.binary.split("/").pop()}_${child.pid}.ports`,
    );
    while (true) {
      if (exited) {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
        throw new NatsServerError(
          `nats-server exited during start-up (code ${exited.code}): ${
            tail.slice(-3).join(" | ") || "no output"
          }`,
        );
      }
      const ports = await readPorts(portsFile);
      if (ports) {
        const url = ports.nats?.[0];
        if (url) {
          const port = Number(new URL(url).port);
          const server = new NatsServer(child, tmp, url, port);
          server.#opts = opts;
          server.#stderrTail = tail;
          child.status.then((s) => {
            if (!server.#stopping) {
              log.error("nats-server exited unexpectedly", {
                code: s.code,
                last: tail.slice(-3).join(" | "),
              });
            }
          });
          return server;
        }
      }
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await child.status;
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
        throw new NatsServerError("nats-server did not become ready in time");
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** True once stop() was called: an exit after that is expected. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Starts the same server again (same port) after it died. */
  async restart(): Promise<NatsServer> {
    await Deno.remove(this.#tmp, { recursive: true }).catch(() => {});
    return await NatsServer.start({ ...this.#opts, port: this.port });
  }

  /** The last lines the server wrote, for error messages. */
  get recentOutput(): string[] {
    return this.#stderrTail.slice(-5);
  }

  async stop(graceMs = 5000): Promise<void> {
    if (this.#stopping) return void await this.exited;
    this.#stopping = true;
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    await Deno.remove(this.#tmp, { recursive: true }).catch(() => {});
  }
}

function clusterBlock(c: NonNullable<NatsServerOptions["cluster"]>): string[] {
  return [
    `cluster {`,
    `  name: ${JSON.stringify(c.name)}`,
    `  host: ${JSON.stringify(c.host)}`,
    `  port: ${c.port}`,
    `  routes: [${
      c.routes.map((r) => JSON.stringify(r.replace(/^nats:/, "nats-route:")))
        .join(", ")
    }]`,
    `}`,
  ];
}

async function readPorts(
  file: string,
): Promise<{ nats?: string[] } | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(file));
  } catch {
    return undefined;
  }
}

function assertPortFree(host: string, port: number): void {
  if (port === 0) return;
  try {
    const l = Deno.listen({ hostname: host, port });
    l.close();
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new NatsServerError(
        `nats.server.port: ${host}:${port} is already in use by another process`,
      );
    }
    throw new NatsServerError(
      `nats.server: cannot listen on ${host}:${port}: ${(e as Error).message}`,
    );
  }
}

function pumpStderr(stream: ReadableStream<Uint8Array>, tail: string[]): void {
  (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        tail.push(line);
        if (tail.length > 50) tail.shift();
        if (/\[(ERR|FTL|WRN)\]/.test(line)) log.warn(line);
      }
    }
  })().catch(() => {});
}
