/**
 * The config files of a set of controllers on loopback (see
 * `ControllerSet`) and of workers that list several servers.
 */
import { join } from "node:path";
import type { Proc } from "./proc.ts";

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
  /** Its creds file. */
  credentials?: string;
}

/** A worker's config listing the servers `urls` in that order. */
export function workerConfig(
  id: string,
  urls: string[],
  o: WorkerOptions = {},
): string {
  return `nats:
  name: ${id}
  client:
    urls: [${urls.join(", ")}]
${o.credentials ? `    credentials: ${o.credentials}\n` : ""}worker:
  groups: [${(o.groups ?? []).join(", ")}]
  heartbeat_interval: ${o.heartbeat ?? "500ms"}
  drain_timeout: ${o.drain ?? "1s"}
`;
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
