/**
 * gridw — the worker: registers this node and runs the tasks sent to it.
 */
import { dirname, join } from "node:path";
import { VERSION } from "../models/mod.ts";
import { WorkerConfig } from "../models/config.ts";
import { KILL_PATH } from "../models/backend_table.ts";
import { parseDaemonArgs, shutdownSignal } from "../lib/cli.ts";
import { ConfigError, loadConfig } from "../lib/config_file.ts";
import { die, logger, setLogFormat, setLogLevel } from "../lib/log.ts";
import { connectNats } from "../lib/nats.ts";
import { createBackends } from "../backends/mod.ts";
import { createExec } from "../backends/exec.ts";
import { Agent } from "./agent.ts";
import { inboxFor } from "./nats_logs.ts";
import type { NatsConnection } from "@nats-io/transport-node";
import { formatSelfCheck, selfCheck } from "./self_check.ts";
import { type Narrowed, narrowPermissions, SandboxError } from "./sandbox.ts";
import { type MetricsServer, serveMetrics, WorkerMetrics } from "./metrics.ts";

const USAGE = `gridw — the GRID worker

Usage: gridw -c FILE               start the worker with a config file
       gridw --self-check [-c FILE] print what this worker may run, and exit
       gridw --self-check --json    the same, as JSON
       gridw --version             print versions
       gridw --help           this text

It connects to the controller's NATS, registers this node with its groups
and usable backends, and runs the tasks sent to it, one at a time.`;

const log = logger("gridw");

/** The nats-server version of this release (release.json beside gridw), if any. */
function releaseNatsServer(): string {
  try {
    const file = join(dirname(Deno.execPath()), "release.json");
    const v = JSON.parse(Deno.readTextFileSync(file)).nats_server;
    return typeof v === "string" ? `, nats-server ${v} in this release` : "";
  } catch {
    return "";
  }
}

/** Runs the program with `args` (its command line) until it is stopped. */
export async function main(argv: string[]): Promise<void> {
  setLogFormat(Deno.env.get("GRID_LOG_FORMAT"));
  setLogLevel(Deno.env.get("GRID_LOG"));
  const args = parseDaemonArgs(
    argv,
    USAGE,
    () => `gridw ${VERSION} (deno ${Deno.version.deno}${releaseNatsServer()})`,
    ["self-check", "json"],
  );
  let config: WorkerConfig;
  try {
    config = args.config
      ? await loadConfig(args.config, WorkerConfig)
      : WorkerConfig.parse({ nats: { name: "self-check" } });
  } catch (e) {
    if (e instanceof ConfigError) die(e.message, 2);
    throw e;
  }
  // Before anything else runs: what no enabled backend needs is gone.
  let sandbox: Narrowed;
  try {
    sandbox = narrowPermissions(
      config.worker.backends,
      config.worker.binaries,
      config.worker.file.allowed_paths,
    );
  } catch (e) {
    if (e instanceof SandboxError) die(e.message, 2);
    throw e;
  }
  if (sandbox.unscoped.includes("run")) {
    log.warn("the run permission is unscoped: backends cannot be narrowed");
  }
  const backends = await createBackends(config.worker.binaries, {
    enabled: config.worker.backends,
    allowedPaths: config.worker.file.allowed_paths,
    rke2: { installerDirs: config.worker.rke2_installer_dirs },
    systemd: {
      denyUnits: config.worker.systemd.deny_units,
      ownUnit: config.worker.systemd.own_unit,
    },
  });
  if (args.flags["self-check"]) {
    const check = selfCheck(config.worker.binaries, backends, sandbox);
    console.log(
      args.flags.json ? JSON.stringify(check, null, 2) : formatSelfCheck(check),
    );
    Deno.exit(check.ok ? 0 : 1);
  }
  // Up before NATS, so a scrape can tell a worker that cannot connect.
  const metrics = config.worker.metrics &&
    new WorkerMetrics(config.nats.name, VERSION);
  const server = metrics && startMetrics(config, metrics);
  const nc = await connect(config);
  // Revoked or refused credentials close the connection for good: say so
  // and stop, rather than sit there unable to take or report anything.
  nc.closed().then((err) => {
    if (!err || stopping) return;
    die(`nats: connection closed: ${refusal(err)}`);
  });
  metrics?.watchConnection(nc);
  const agent = new Agent({
    nc,
    id: config.nats.name,
    hostname: Deno.hostname(),
    groups: config.worker.groups,
    labels: config.worker.labels ?? {},
    heartbeatMs: config.worker.heartbeat_interval,
    catchUpWindowMs: config.worker.catchup_window,
    backends,
    exec: createExec({
      killPath: KILL_PATH,
      psPath: config.worker.binaries.ps,
    }),
    metrics,
  });
  await agent.start();
  const sig = await shutdownSignal();
  stopping = true;
  log.info("shutting down", { signal: sig });
  await agent.stop(config.worker.drain_timeout);
  await server?.close();
  await nc.drain().catch(() => {});
  Deno.exit(0);
}

let stopping = false;

/** Serves `worker.metrics`; an address it cannot have stops the worker. */
function startMetrics(config: WorkerConfig, m: WorkerMetrics): MetricsServer {
  const addr = config.worker.metrics!;
  try {
    const server = serveMetrics(addr, () => m.render());
    log.info("serving metrics", {
      address: `${addr.hostname}:${server.port}`,
    });
    return server;
  } catch (e) {
    die(
      `worker.metrics: cannot listen on ${addr.hostname}:${addr.port}: ${
        (e as Error).message
      }`,
      2,
    );
  }
}

/** Connects as this node: its creds, its private inbox, the CA it trusts. */
async function connect(config: WorkerConfig): Promise<NatsConnection> {
  const { credentials, tls, urls } = config.nats.client;
  let creds: Uint8Array | undefined;
  if (credentials) {
    try {
      creds = await Deno.readFile(credentials);
    } catch (e) {
      die(
        `nats.client.credentials: cannot read ${credentials}: ${
          (e as Error).message
        }`,
        2,
      );
    }
  }
  try {
    return await connectNats({
      servers: urls,
      name: config.nats.name,
      inboxPrefix: inboxFor(config.nats.name),
      ...(creds ? { creds } : {}),
      ...(tls ? { caFile: tls.ca } : {}),
    });
  } catch (e) {
    die(`nats: cannot connect to ${urls.join(", ")}: ${refusal(e)}`);
  }
}

/** What an operator should do about a connection the server refused. */
function refusal(e: unknown): string {
  const text = (e as Error)?.message ?? String(e);
  return /authori[sz]ation|authentication|revoked/i.test(text)
    ? `${text}: the server refused this node's credentials (revoked, or ` +
      "not enrolled); enroll it with `gridc node enroll ID --groups ...` and " +
      "point nats.client.credentials at the .creds file"
    : text;
}

if (import.meta.main) await main(Deno.args);
