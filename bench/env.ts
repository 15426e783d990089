/**
 * What every benchmark runs on: one controller (with its own nats-server)
 * started as `deno task controller` starts it, one real worker, a NATS
 * connection of the bench's own (a user of the GRID account, as the
 * controller is), the cluster's NATS keys to mint more users with, and a
 * watch on the job records.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import {
  childrenOf,
  Cluster,
  connectAsController,
  freePort,
  keysDirOf,
  ROOT,
} from "../testing/mod.ts";
import { BUCKET_JOBS } from "../lib/topology.ts";
import { connectNats } from "../lib/nats.ts";
import { loadOrCreateKeys } from "../controller/nats_keys.ts";
import { NatsTrust } from "../controller/nats_trust.ts";
import { commOf, log, ms, onCleanup, ourPids } from "./lib.ts";
import { CONTROLLER, type Options } from "./options.ts";
import { Inspector } from "./profile.ts";

export interface Env {
  opts: Options;
  cluster: Cluster;
  ctlPid: number;
  natsPid: number;
  workerPid: number;
  nc: NatsConnection;
  js: JetStreamClient;
  watch: JobWatch;
  /** Mints NATS users from the cluster's keys, as its controllers do. */
  trust: NatsTrust;
  inspector?: Inspector;
}

export async function startCluster(opts: Options): Promise<Env> {
  const cluster = new Cluster({
    maxConcurrent: CONTROLLER.maxConcurrent,
    maxPending: CONTROLLER.maxPending,
    offlineAfter: CONTROLLER.offlineAfter,
    taskTimeout: CONTROLLER.taskTimeout,
    logLevel: "info",
    // Room for every job the bench stores: none of them expires.
    history: { maxJobs: Math.max(100_000, 2 * opts.history) },
  });
  onCleanup(async () => {
    const t0 = performance.now();
    await cluster.stop();
    log(`controller stopped in ${ms(performance.now() - t0)} ms`);
  });
  const inspect = opts.profile ? [`--inspect=127.0.0.1:${freePort()}`] : [];
  const p = await cluster.startController(controllerArgs(inspect)).catch(
    (e) => {
      throw new Error(`${e.message}\n${cluster.controller?.dump()}`);
    },
  );
  const natsPid = natsOf(p.pid);
  await cluster.startWorker({ id: "bench-w1", heartbeat: "5s" });
  await cluster.waitOnline(["bench-w1"]);
  const workerPid = cluster.workers.get("bench-w1")!.pid;
  for (const pid of [p.pid, natsPid, workerPid]) ourPids.add(pid);
  const nc = await connectAsController(keysDirOf(cluster.dir), {
    servers: [cluster.natsUrl],
    name: "bench",
    // Outlives a controller restart (the history part times one).
    maxReconnectAttempts: -1,
  });
  onCleanup(() => nc.close().catch(() => {}));
  let inspector: Inspector | undefined;
  if (opts.profile) {
    const line = p.log.find((l) => l.includes("ws://"));
    const url = line?.match(/ws:\/\/\S+/)?.[0];
    if (!url) throw new Error("no inspector URL in the controller's output");
    inspector = await Inspector.connect(url);
    onCleanup(() => inspector?.close());
  }
  return {
    opts,
    cluster,
    ctlPid: p.pid,
    workerPid,
    natsPid,
    nc,
    js: jetstream(nc),
    watch: new JobWatch(nc),
    trust: new NatsTrust(await loadOrCreateKeys(keysDirOf(cluster.dir))),
    inspector,
  };
}

function natsOf(ctlPid: number): number {
  const pid = childrenOf(ctlPid).find((c) => commOf(c) === "nats-server");
  if (!pid) throw new Error("cannot find the controller's nats-server");
  return pid;
}

/**
 * Stops the controller (SIGTERM, as an operator would) and starts it again
 * on the same store; answers how long it took from spawning the process to
 * its API answering `/status`.
 */
export async function restartController(env: Env): Promise<number> {
  await env.cluster.controller?.stop("SIGTERM", 60_000);
  const t0 = performance.now();
  const p = await env.cluster.startController(controllerArgs([]), 300_000);
  const startupMs = performance.now() - t0;
  env.ctlPid = p.pid;
  env.natsPid = natsOf(p.pid);
  for (const pid of [env.ctlPid, env.natsPid]) ourPids.add(pid);
  return startupMs;
}

/**
 * A connection made as the controller makes its own (lib/nats.ts, a user
 * of the GRID account).
 */
export async function controllerConnection(
  env: Env,
  name: string,
): Promise<NatsConnection> {
  const { creds } = await env.trust.controller(name);
  return await connectNats({ servers: [env.cluster.natsUrl], name, creds });
}

/**
 * The controller is run the way `deno task controller` runs it (deno.json),
 * so a runtime flag added there (a V8 heap setting…) is benchmarked too.
 */
function controllerArgs(extra: string[]): string[] {
  let words: string[] = [];
  try {
    const cfg = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
    const task = cfg.tasks?.controller;
    const cmd = typeof task === "string" ? task : task?.command;
    words = String(cmd).trim().split(/\s+/);
  } catch { /* the default below */ }
  if (words[0] !== "deno" || words[1] !== "run" || words.length < 3) {
    words = ["deno", "run", "-P=controller", "controller/main.ts"];
  }
  // Flags and module as the task names them (`main.ts controller` too).
  return ["run", ...extra, ...words.slice(2)];
}

/** Job records as the controller writes them, seen on the KV bucket's subject. */
export class JobWatch {
  done = new Map<string, { status: string; at: number }>();
  #waiters = new Map<string, () => void>();
  constructor(nc: NatsConnection) {
    const prefix = `$KV.${BUCKET_JOBS}.`;
    const dec = new TextDecoder();
    nc.subscribe(`${prefix}>`, {
      callback: (_e, m) => {
        if (m.data.length === 0) return;
        const at = performance.now();
        const id = m.subject.slice(prefix.length);
        // Records put `status` before the (possibly long) task list and node lists.
        const status = /"status":"(\w+)"/.exec(dec.decode(m.data))?.[1] ?? "";
        if (!["completed", "failed", "cancelled"].includes(status)) return;
        if (this.done.has(id)) return;
        this.done.set(id, { status, at });
        this.#waiters.get(id)?.();
      },
    });
  }

  async wait(
    id: string,
    timeoutMs: number,
  ): Promise<{ status: string; at: number }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.done.has(id)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`job ${id} did not finish in ${timeoutMs} ms`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        this.#waiters.set(id, () => {
          clearTimeout(t);
          r();
        });
      });
      this.#waiters.delete(id);
    }
    return this.done.get(id)!;
  }
}
