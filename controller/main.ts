/**
 * grid — the controller: runs its nats-server, the scheduler and the API.
 */
import { VERSION } from "../models/mod.ts";
import { ControllerConfig } from "../models/config.ts";
import { parseDaemonArgs, shutdownSignal } from "../lib/cli.ts";
import { ConfigError, loadConfig } from "../lib/config_file.ts";
import { die, logger, setLogLevel } from "../lib/log.ts";
import { connectNats } from "../lib/nats.ts";
import { systemClock } from "../lib/clock.ts";
import { BUCKET_JOBS, BUCKET_NODES, ensureTopology } from "../lib/topology.ts";
import { Kvm } from "@nats-io/kv";
import { findNatsServer, NatsServer, NatsServerError } from "./nats_server.ts";
import { Registry } from "./registry.ts";
import { Runner } from "./runner.ts";
import { createApi } from "./api.ts";

const USAGE = `grid — the GRID controller

Usage: grid -c FILE          start the controller with a config file
       grid --version        print versions
       grid --help           this text

It starts its own nats-server (JetStream), the scheduler and the REST API.
Stop it with Ctrl-C or SIGTERM: running jobs resume when it starts again.`;

const log = logger("grid");

async function main(): Promise<void> {
  setLogLevel(Deno.env.get("GRID_LOG"));
  const args = parseDaemonArgs(
    Deno.args,
    USAGE,
    () => `grid ${VERSION} (deno ${Deno.version.deno})`,
  );
  let config: ControllerConfig;
  try {
    config = await loadConfig(args.config, ControllerConfig);
  } catch (e) {
    if (e instanceof ConfigError) die(e.message, 2);
    throw e;
  }

  let server: NatsServer;
  try {
    server = await NatsServer.start({
      binary: findNatsServer(config.nats.server.binary),
      host: config.nats.server.host,
      port: config.nats.server.port,
      storeDir: config.nats.jetstream.store_dir,
      name: config.nats.name,
    });
  } catch (e) {
    if (e instanceof NatsServerError || e instanceof Deno.errors.NotCapable) {
      die((e as Error).message);
    }
    throw e;
  }
  const clientHost = ["0.0.0.0", "::", ""].includes(config.nats.server.host)
    ? "127.0.0.1"
    : config.nats.server.host;
  const natsUrl = `nats://${clientHost}:${server.port}`;
  log.info("nats-server ready", {
    url: natsUrl,
    store: config.nats.jetstream.store_dir,
  });

  const nc = await connectNats({
    servers: [natsUrl],
    name: config.nats.name,
    firstConnectTimeoutMs: 10_000,
  });
  await ensureTopology(nc);
  const kvm = new Kvm(nc);
  const registry = new Registry(
    await kvm.open(BUCKET_NODES),
    config.nodes.offline_after,
  );
  await registry.ready();
  const runner = new Runner({
    nc,
    jobs: await kvm.open(BUCKET_JOBS),
    registry,
    clock: systemClock,
    config: {
      maxConcurrent: config.scheduler.max_concurrent,
      maxPending: config.scheduler.max_pending,
      taskTimeoutMs: config.scheduler.task_timeout,
      offlineAfterMs: config.nodes.offline_after,
    },
  });
  await runner.start();

  const app = createApi({
    runner,
    registry,
    clock: systemClock,
    controllerId: config.nats.name,
    maxBody: config.api.max_body,
  });
  let api: Deno.HttpServer;
  try {
    api = Deno.serve({
      hostname: config.api.host,
      port: config.api.port,
      onListen: ({ hostname, port }) =>
        log.info("api listening", { url: `http://${hostname}:${port}` }),
    }, app.fetch);
  } catch (e) {
    await server.stop();
    die(
      `api: cannot listen on ${config.api.host}:${config.api.port}: ${
        (e as Error).message
      }`,
    );
  }

  const reason = await Promise.race([
    shutdownSignal(),
    server.exited.then((s) => `nats-server exited (code ${s.code})`),
  ]);
  log.info("shutting down", { reason });
  await api.shutdown();
  await runner.stop();
  registry.stop();
  await nc.drain().catch(() => {});
  await server.stop();
  Deno.exit(reason.startsWith("nats-server") ? 1 : 0);
}

if (import.meta.main) await main();
