/**
 * Runs and supervises the controller's own nats-server with JetStream.
 * Start-up writes a temp config, then races "the ports file appeared"
 * against "the process exited", so a bad binary or a taken port is
 * reported at once with the server's own words instead of a hang.
 */
import { dirname, join } from "node:path";
import { logger } from "../lib/log.ts";
import type { ServerTrust } from "./nats_trust.ts";

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
  /** Operator mode: only users signed under GRID's operator get in. */
  trust: ServerTrust;
  /** Password of cluster routes, the same on every controller. */
  routeSecret: string;
  /** TLS for clients and routes (routes verify each other's certificates). */
  tls?: { cert: string; key: string; ca?: string };
  /**
   * Serve the monitoring endpoints (`/varz`) on a free loopback port, for
   * `GET /nats`; on unless false.
   */
  monitor?: boolean;
  /** Called with each warning or error line the server prints. */
  onError?: (line: string) => void;
}

/** Routes authenticate with this user and the shared secret. */
const ROUTE_USER = "grid_route";

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
  /** recycle() ended it: an exit to restart from, not a crash. */
  #recycling = false;
  #stderrTail: string[] = [];
  readonly exited: Promise<Deno.CommandStatus>;

  #opts!: NatsServerOptions;

  /** The monitoring endpoint (`http://127.0.0.1:PORT`), when asked for. */
  monitorUrl?: string;

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
    await Deno.writeTextFile(conf, configText(opts, tmp));
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
    pumpStderr(child.stderr, tail, (line) => opts.onError?.(line));
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
          server.monitorUrl = ports.monitoring?.[0];
          child.status.then((s) => {
            if (!server.#stopping && !server.#recycling) {
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

  /** Hands its warnings and errors to `fn` too, from this process and its restarts. */
  watchErrors(fn: (line: string) => void): void {
    this.#opts.onError = fn;
  }

  /**
   * Ends this process so the supervisor starts a new one: the way out when
   * its JetStream is stuck (storage.ts). A stuck server may not stop on
   * SIGTERM, hence the SIGKILL after `graceMs`.
   */
  async recycle(graceMs = 3000): Promise<void> {
    this.#recycling = true;
    await this.#end(graceMs);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async #end(graceMs: number): Promise<void> {
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
  }

  /** The last lines the server wrote, for error messages. */
  get recentOutput(): string[] {
    return this.#stderrTail.slice(-5);
  }

  async stop(graceMs = 5000): Promise<void> {
    if (this.#stopping) return void await this.exited;
    this.#stopping = true;
    await this.#end(graceMs);
    await Deno.remove(this.#tmp, { recursive: true }).catch(() => {});
  }
}

/** The server's config file: `portsDir` is where it says which ports it took. */
export function configText(
  opts: NatsServerOptions,
  portsDir: string,
): string {
  return [
    `server_name: ${JSON.stringify(opts.name)}`,
    `host: ${JSON.stringify(opts.host)}`,
    `port: ${opts.port === 0 ? -1 : opts.port}`,
    `max_payload: 8388608`,
    // A worker's JWT travels in its CONNECT line; ids of 511 characters
    // make one of ~7.6 KB, past the 4 KB default.
    `max_control_line: 16384`,
    `ports_file_dir: ${JSON.stringify(portsDir)}`,
    // Loopback only: the stats are for this controller, not the network.
    ...(opts.monitor === false ? [] : [`http: "127.0.0.1:-1"`]),
    `jetstream {`,
    `  store_dir: ${JSON.stringify(opts.storeDir)}`,
    `}`,
    ...trustBlock(opts.trust, join(opts.storeDir, "accounts")),
    ...(opts.tls ? tlsBlock(opts.tls, "tls", false) : []),
    ...(opts.cluster
      ? clusterBlock(opts.cluster, opts.routeSecret, opts.tls)
      : []),
  ].join("\n") + "\n";
}

/** Operator mode with the full resolver, keeping pushed accounts in `resolverDir`. */
export function trustBlock(t: ServerTrust, resolverDir: string): string[] {
  return [
    `operator: ${JSON.stringify(t.operatorJwt)}`,
    `system_account: ${t.systemAccount}`,
    // Accounts pushed by a controller are kept here and synced between the
    // servers of a cluster, so an update reaches every server and survives
    // restarts.
    `resolver: {`,
    `  type: full`,
    `  dir: ${JSON.stringify(resolverDir)}`,
    `  allow_delete: false`,
    `  interval: "2m"`,
    `  timeout: "1.9s"`,
    `}`,
    `resolver_preload: {`,
    ...Object.entries(t.preload).map(([k, jwt]) =>
      `  ${k}: ${JSON.stringify(jwt)}`
    ),
    `}`,
  ];
}

function tlsBlock(
  t: NonNullable<NatsServerOptions["tls"]>,
  name: string,
  verify: boolean,
  indent = "",
): string[] {
  return [
    `${indent}${name} {`,
    `${indent}  cert_file: ${JSON.stringify(t.cert)}`,
    `${indent}  key_file: ${JSON.stringify(t.key)}`,
    ...(t.ca ? [`${indent}  ca_file: ${JSON.stringify(t.ca)}`] : []),
    ...(verify ? [`${indent}  verify: true`] : []),
    `${indent}  timeout: 2`,
    `${indent}}`,
  ];
}

function clusterBlock(
  c: NonNullable<NatsServerOptions["cluster"]>,
  secret: string,
  tls: NatsServerOptions["tls"],
): string[] {
  // Operator mode covers clients, not routes: without a password anyone
  // reaching the route port could join the cluster.
  const withAuth = (r: string) => {
    const u = new URL(r.replace(/^nats(-route)?:/, "http:"));
    return `nats-route://${ROUTE_USER}:${secret}@${u.host}`;
  };
  return [
    `cluster {`,
    `  name: ${JSON.stringify(c.name)}`,
    `  host: ${JSON.stringify(c.host)}`,
    `  port: ${c.port}`,
    `  authorization { user: ${ROUTE_USER}, password: ${
      JSON.stringify(secret)
    }, timeout: 2 }`,
    ...(tls?.ca ? tlsBlock(tls, "tls", true, "  ") : []),
    `  routes: [${
      c.routes.map((r) => JSON.stringify(withAuth(r))).join(", ")
    }]`,
    `}`,
  ];
}

async function readPorts(
  file: string,
): Promise<{ nats?: string[]; monitoring?: string[] } | undefined> {
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

function pumpStderr(
  stream: ReadableStream<Uint8Array>,
  tail: string[],
  onError: (line: string) => void,
): void {
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
        if (/\[(ERR|FTL|WRN)\]/.test(line)) {
          log.warn(line);
          onError(line);
        }
      }
    }
  })().catch(() => {});
}
