/**
 * grid — the controller: runs its nats-server, the scheduler and the API.
 */
import { VERSION } from "../models/mod.ts";
import { ControllerConfig } from "../models/config.ts";
import { parseDaemonArgs, shutdownSignal } from "../lib/cli.ts";
import { ConfigError, loadConfig } from "../lib/config_file.ts";
import { die, logger, setLogLevel } from "../lib/log.ts";
import { connectNats } from "../lib/nats.ts";
import { jetstreamClient } from "../lib/ordered.ts";
import { natsBucket } from "../lib/bucket.ts";
import { systemClock } from "../lib/clock.ts";
import {
  BUCKET_CLAIMS,
  BUCKET_CONTROLLERS,
  BUCKET_JOBS,
  BUCKET_NODES,
  BUCKET_TOKENS,
  ensureTopology,
} from "../lib/topology.ts";
import { JobStore } from "./job_store.ts";
import { Peers } from "./peers.ts";
import { Kvm } from "@nats-io/kv";
import { findNatsServer, NatsServer, NatsServerError } from "./nats_server.ts";
import { Registry } from "./registry.ts";
import { KvClaims } from "./claims.ts";
import { Runner } from "./runner.ts";
import { NatsCommandLog, NatsEventLog } from "./nats_logs.ts";
import { JobHistory } from "./job_log.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NodeAdmin } from "./api.ts";
import { ApiStartError, serveApi } from "./api_server.ts";
import { NatsAuditLog } from "./audit.ts";
import { TokenStore } from "./tokens.ts";
import { RefusedError } from "./errors.ts";

const USAGE = `grid — the GRID controller

Usage: grid -c FILE          start the controller with a config file
       grid --version        print versions
       grid --help           this text

It starts its own nats-server (JetStream), the scheduler and the REST API.
Stop it with Ctrl-C or SIGTERM: running jobs resume when it starts again.`;

const log = logger("grid");

/** What the nats-server grid would run says of its version, or why it cannot. */
function natsServerVersion(): string {
  let bin: string;
  try {
    bin = findNatsServer();
  } catch {
    return "nats-server not found";
  }
  try {
    const out = new Deno.Command(bin, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    const v = new TextDecoder().decode(out.stdout).trim().replace(
      /^nats-server:\s*/,
      "",
    );
    return v
      ? `nats-server ${v} at ${bin}`
      : `nats-server at ${bin}: no version`;
  } catch (e) {
    return e instanceof Deno.errors.NotCapable
      ? `nats-server at ${bin}: not allowed to run it`
      : `nats-server at ${bin}: ${(e as Error).message}`;
  }
}

/** Runs the program with `args` (its command line) until it is stopped. */
export async function main(argv: string[]): Promise<void> {
  setLogLevel(Deno.env.get("GRID_LOG"));
  const args = parseDaemonArgs(
    argv,
    USAGE,
    () => `grid ${VERSION} (deno ${Deno.version.deno}, ${natsServerVersion()})`,
  );
  let config: ControllerConfig;
  try {
    config = await loadConfig(args.config, ControllerConfig);
  } catch (e) {
    if (e instanceof ConfigError) die(e.message, 2);
    throw e;
  }

  // Either our own nats-server (alone, or routed to peer controllers' into
  // one JetStream cluster), or an existing NATS cluster.
  let server: NatsServer | undefined;
  let servers: string[];
  if (config.nats.server.enabled) {
    try {
      server = await NatsServer.start({
        binary: findNatsServer(config.nats.server.binary),
        host: config.nats.server.host,
        port: config.nats.server.port,
        storeDir: config.nats.jetstream.store_dir,
        name: config.nats.name,
        cluster: config.nats.cluster,
      });
    } catch (e) {
      if (e instanceof NatsServerError || e instanceof Deno.errors.NotCapable) {
        die((e as Error).message);
      }
      throw e;
    }
    const host = ["0.0.0.0", "::", ""].includes(config.nats.server.host)
      ? "127.0.0.1"
      : config.nats.server.host;
    servers = [
      `nats://${host}:${server.port}`,
      ...(config.nats.client.urls ?? []),
    ];
    log.info("nats-server ready", {
      url: servers[0],
      store: config.nats.jetstream.store_dir,
    });
  } else {
    servers = config.nats.client.urls!;
  }

  const nc = await connectNats({
    servers,
    name: config.nats.name,
    firstConnectTimeoutMs: 30_000,
  })
    .catch((e) =>
      die(
        `nats: cannot connect to ${servers.join(", ")}: ${
          (e as Error).message
        }`,
      )
    );
  // A JetStream cluster needs a moment to elect a leader after its servers start.
  await retry(
    "creating streams and buckets",
    () => ensureTopology(nc, { replicas: config.nats.jetstream.replicas }),
  );
  const kvm = new Kvm(nc);
  const js = jetstreamClient(nc);
  const registry = new Registry(
    await kvm.open(BUCKET_NODES),
    config.nodes.offline_after,
    js,
  );
  await registry.ready();
  const store = new JobStore(
    natsBucket(await kvm.open(BUCKET_JOBS), js, "job records"),
  );
  await store.start();
  const peers = new Peers(
    await kvm.open(BUCKET_CONTROLLERS),
    systemClock,
    { id: config.nats.name, hostname: Deno.hostname(), version: VERSION },
    config.controller.heartbeat_interval,
    config.controller.stale_threshold,
    js,
  );
  await peers.start();
  const jsm = await jetstreamManager(nc);
  const events = new NatsEventLog(js, jsm);
  const limits = {
    maxConcurrent: config.scheduler.max_concurrent,
    maxPending: config.scheduler.max_pending,
  };
  const runner = new Runner({
    store,
    claims: new KvClaims(await kvm.open(BUCKET_CLAIMS)),
    peers,
    fleet: registry,
    events,
    commands: new NatsCommandLog(nc),
    clock: systemClock,
    config: {
      ...limits,
      taskTimeoutMs: config.scheduler.task_timeout,
      offlineAfterMs: config.nodes.offline_after,
    },
  });
  await runner.start();

  const tokens = new TokenStore(
    natsBucket(await kvm.open(BUCKET_TOKENS), js, "tokens"),
    systemClock,
  );
  await tokens.start();
  // Enrollment is not wired in yet: refuse it plainly.
  const nodeAdmin: NodeAdmin = {
    enroll: () => {
      throw new RefusedError("invalid", "node enrollment is not available yet");
    },
    revoke: () => {
      throw new RefusedError("invalid", "node enrollment is not available yet");
    },
  };
  let api: Deno.HttpServer;
  try {
    api = await serveApi(config.api, {
      requests: runner.requests,
      store,
      history: new JobHistory(js, events, (id) => runner.appliedSeq(id)),
      limits,
      registry,
      peers,
      clock: systemClock,
      controllerId: config.nats.name,
      tokens,
      audit: new NatsAuditLog(js, jsm),
      nodeAdmin,
    });
  } catch (e) {
    if (!(e instanceof ApiStartError)) throw e;
    await server?.stop();
    die(e.message);
  }

  const reason = await Promise.race([
    shutdownSignal(),
    ...(server ? [supervise(server)] : []),
  ]);
  log.info("shutting down", { reason });
  // Stop taking requests, hand running jobs to a peer (or to our next start), say goodbye.
  await api.shutdown();
  await runner.stop(true);
  await peers.stop();
  registry.stop();
  store.stop();
  tokens.stop();
  await nc.drain().catch(() => {});
  await supervised?.stop();
  Deno.exit(reason.startsWith("nats-server") ? 1 : 0);
}

let supervised: NatsServer | undefined;

/**
 * Restarts our nats-server when it dies; the NATS connection reconnects by
 * itself (to a peer's server meanwhile, when there are peers). Resolves with
 * a reason only when restarting keeps failing.
 */
async function supervise(first: NatsServer): Promise<string> {
  supervised = first;
  let failures = 0;
  while (true) {
    const status = await supervised.exited;
    if (supervised.stopping) return await new Promise(() => {}); // a shutdown we asked for
    log.error("nats-server exited; restarting it", { code: status.code });
    for (;;) {
      await new Promise((r) =>
        setTimeout(r, Math.min(500 * 2 ** failures, 5000))
      );
      try {
        supervised = await supervised.restart();
        failures = 0;
        log.info("nats-server restarted", { port: supervised.port });
        break;
      } catch (e) {
        if (++failures >= 5) {
          return `nats-server keeps failing: ${(e as Error).message}`;
        }
        log.error("restarting nats-server failed", { error: String(e) });
      }
    }
  }
}

async function retry<T>(
  what: string,
  fn: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250;; delay = Math.min(delay * 2, 2000)) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) die(`${what} failed: ${(e as Error).message}`);
      log.info(`waiting for JetStream: ${what}`, { error: String(e) });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

if (import.meta.main) await main(Deno.args);
