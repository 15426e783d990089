/**
 * grid — the controller: runs its nats-server, the scheduler and the API.
 */
import { VERSION } from "../models/mod.ts";
import { ControllerConfig } from "../models/config.ts";
import { parseDaemonArgs, shutdownSignal } from "../lib/cli.ts";
import { ConfigError, loadConfig } from "../lib/config_file.ts";
import { die, logger, setLogFormat, setLogLevel } from "../lib/log.ts";
import { jetstreamClient } from "../lib/ordered.ts";
import { natsBucket } from "../lib/bucket.ts";
import { systemClock } from "../lib/clock.ts";
import {
  BUCKET_CLAIMS,
  BUCKET_CONTROLLERS,
  BUCKET_ENROLL,
  BUCKET_HISTORY,
  BUCKET_JOBS,
  BUCKET_NODES,
  BUCKET_TOKENS,
  ensureTopology,
} from "../lib/topology.ts";
import { JobStore } from "./job_store.ts";
import { Peers } from "./peers.ts";
import { Kvm } from "@nats-io/kv";
import {
  findNatsServer,
  type NatsServer,
  NatsServerError,
} from "./nats_server.ts";
import { NatsKeysError } from "./nats_keys.ts";
import {
  type NatsSetup,
  pushAccount,
  setUpNats,
  trustLines,
} from "./nats_setup.ts";
import { Enrollments } from "./enrollment.ts";
import { Registry } from "./registry.ts";
import { KvClaims } from "./claims.ts";
import { Runner } from "./runner.ts";
import { onDuty, Retention } from "./retention.ts";
import { Checkpoints } from "./job_checkpoint.ts";
import { NatsCommandLog, NatsEventLog } from "./nats_logs.ts";
import { JobHistory } from "./job_log.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NodeAdmin } from "./api.ts";
import { ApiStartError, serveApi } from "./api_server.ts";
import { NatsAuditLog } from "./audit.ts";
import { TokenStore } from "./tokens.ts";
import { NatsJobFollower } from "./job_follow.ts";
import { NatsOutputFollower } from "./output_follow.ts";
import { foldJob } from "./job_log.ts";
import { JobRows, tapEvents } from "./job_rows.ts";
import type { JobRecord } from "../models/job.ts";
import { natsHealth } from "./health.ts";
import { serverJetStream, StorageWatch } from "./storage.ts";
import { Metrics } from "./metrics.ts";
import { varzStats } from "./nats_stats.ts";
import { loadAssets } from "./web.ts";

const USAGE = `grid — the GRID controller

Usage: grid -c FILE               start the controller with a config file
       grid -c FILE --nats-trust  print what an external nats-server needs to
                                  trust GRID's operator (operator mode), and exit
       grid --version             print versions
       grid --help                this text

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
  setLogFormat(Deno.env.get("GRID_LOG_FORMAT"));
  setLogLevel(Deno.env.get("GRID_LOG"));
  const args = parseDaemonArgs(
    argv,
    USAGE,
    () => `grid ${VERSION} (deno ${Deno.version.deno}, ${natsServerVersion()})`,
    ["nats-trust"],
  );
  let config: ControllerConfig;
  try {
    config = await loadConfig(args.config, ControllerConfig);
  } catch (e) {
    if (e instanceof ConfigError) die(e.message, 2);
    throw e;
  }

  if (args.flags["nats-trust"]) {
    console.log(await trustLines(config));
    Deno.exit(0);
  }

  // Either our own nats-server (alone, or routed to peer controllers' into
  // one JetStream cluster), or an existing NATS cluster; either way, only
  // users signed under GRID's operator get in.
  let setup: NatsSetup;
  try {
    setup = await setUpNats(config);
  } catch (e) {
    if (
      e instanceof NatsServerError || e instanceof NatsKeysError ||
      e instanceof Deno.errors.NotCapable
    ) {
      die((e as Error).message);
    }
    die(
      `nats: cannot connect to ${
        config.nats.client.urls?.join(", ") ?? "its nats-server"
      }: ${(e as Error).message}`,
    );
  }
  const { nc, sys, server, trust } = setup;
  // A JetStream cluster needs a moment to elect a leader after its servers start.
  await retry(
    "creating streams and buckets",
    () =>
      ensureTopology(nc, {
        replicas: config.nats.jetstream.replicas,
        historyMaxAgeMs: config.history.max_age,
      }),
  );
  const kvm = new Kvm(nc);
  // Each later start-up step that reads or writes JetStream is retried, for
  // longer than the first contact above (which fails fast on a server
  // without JetStream): a cluster catching up after a restart can let
  // requests time out for a while, and a controller that exits on one only
  // comes back to the same wait.
  const open = (bucket: string) =>
    retry(`opening ${bucket}`, () => kvm.open(bucket), STARTUP_WAIT_MS);
  const js = jetstreamClient(nc);
  const enrollments = new Enrollments(
    natsBucket(await open(BUCKET_ENROLL), js, "enrollments"),
    trust,
    (jwt) => pushAccount(sys, jwt),
    systemClock,
  );
  await retry(
    "pushing the workers account",
    () => enrollments.start(),
    STARTUP_WAIT_MS,
  );
  const registry = new Registry(
    natsBucket(await open(BUCKET_NODES), js, "nodes"),
    config.nodes.offline_after,
    enrollments,
    config.nats.name,
  );
  // A full store: say so, pause, and restart our server if it stays stuck.
  const storage = new StorageWatch({
    clock: systemClock,
    ...(server
      ? {
        dir: config.nats.jetstream.store_dir,
        server: {
          jetstream: () => serverJetStream((supervised ?? server).monitorUrl),
          restart: () => (supervised ?? server).recycle(),
        },
      }
      : {}),
  });
  server?.watchErrors((line) => storage.note(line));
  registry.storage = storage;
  storage.start();
  await retry(
    "following the node registry",
    () => registry.start(),
    STARTUP_WAIT_MS,
  );
  const jobsBucket = natsBucket(await open(BUCKET_JOBS), js, "job records");
  const checkpoints = new Checkpoints(
    natsBucket(await open(BUCKET_HISTORY), js, "history"),
  );
  const store = new JobStore(jobsBucket, undefined, { checkpoints });
  await retry("reading job records", () => store.start(), STARTUP_WAIT_MS);
  const peers = new Peers(
    await open(BUCKET_CONTROLLERS),
    systemClock,
    { id: config.nats.name, hostname: Deno.hostname(), version: VERSION },
    config.controller.heartbeat_interval,
    config.controller.stale_threshold,
    js,
  );
  await retry(
    "following the controllers",
    () => peers.start(),
    STARTUP_WAIT_MS,
  );
  const jsm = await retry(
    "opening JetStream",
    () => jetstreamManager(nc),
    STARTUP_WAIT_MS,
  );
  const events = new NatsEventLog(js, jsm);
  const limits = {
    maxConcurrent: config.scheduler.max_concurrent,
    maxPending: config.scheduler.max_pending,
  };
  const metrics = new Metrics(systemClock, config.nats.name);
  // Results with every output left in the stream (a budget of 0).
  const fold = (rec: JobRecord) =>
    foldJob(js, rec, true, 0, runner.appliedSeq(rec.id) ?? rec.res_last ?? 0);
  const rows = new JobRows(fold);
  store.onChange((s) => metrics.record(s.rec));
  const claims = new KvClaims(
    natsBucket(await open(BUCKET_CLAIMS), js, "claims"),
  );
  const runner = new Runner({
    observer: metrics,
    store,
    claims,
    peers,
    fleet: registry,
    // List rows follow running jobs on the events the runner reads.
    events: tapEvents(events, (e) => rows.observe(e)),
    commands: new NatsCommandLog(nc),
    clock: systemClock,
    config: {
      ...limits,
      taskTimeoutMs: config.scheduler.task_timeout,
      offlineAfterMs: config.nodes.offline_after,
    },
  });
  await retry("starting the runner", () => runner.start(), STARTUP_WAIT_MS);
  const retention = new Retention({
    store,
    claims,
    checkpoints,
    bucketCreated: async () => (await jobsBucket.info()).created,
    clock: systemClock,
    onDuty: () => onDuty(peers, systemClock.now()),
  }, { maxAgeMs: config.history.max_age, maxJobs: config.history.max_jobs });
  retention.start();

  const tokens = new TokenStore(
    natsBucket(await open(BUCKET_TOKENS), js, "tokens"),
    systemClock,
  );
  await retry("following tokens", () => tokens.start(), STARTUP_WAIT_MS);
  const nodeAdmin: NodeAdmin = {
    enroll: (id, groups, by, labels) =>
      enrollments.enroll(id, groups, by, labels),
    revoke: (id, by) => enrollments.revoke(id, by),
  };
  const closing = new AbortController();
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
      follower: new NatsJobFollower(js),
      output: new NatsOutputFollower(js),
      fold,
      rows,
      storage,
      health: natsHealth(
        nc,
        peers,
        systemClock,
        config.controller.stale_threshold,
      ),
      metrics,
      natsStats: () => {
        const url = (supervised ?? server)?.monitorUrl;
        return url ? varzStats(url) : Promise.resolve(undefined);
      },
      web: await loadAssets(),
      closing: closing.signal,
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
  closing.abort(); // live streams would hold the shutdown open
  await api.shutdown();
  await retention.shutdown();
  storage.stop();
  await runner.stop(true);
  await peers.stop();
  registry.stop();
  store.stop();
  tokens.stop();
  enrollments.stop();
  await nc.drain().catch(() => {});
  await sys.drain().catch(() => {});
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

/** How long a start-up step after the first contact with JetStream waits for it. */
const STARTUP_WAIT_MS = 300_000;

async function retry<T>(
  what: string,
  fn: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const t0 = performance.now();
  for (let delay = 250;; delay = Math.min(delay * 2, 2000)) {
    try {
      const r = await fn();
      // Where a slow start went, without a profiler (GRID_LOG=debug).
      log.debug(`start-up: ${what}`, {
        ms: Math.round(performance.now() - t0),
      });
      return r;
    } catch (e) {
      if (Date.now() > deadline) die(`${what} failed: ${(e as Error).message}`);
      log.info(`waiting for JetStream: ${what}`, { error: String(e) });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

if (import.meta.main) await main(Deno.args);
