/**
 * This node's record in the registry: what it is and can run, what it is
 * doing, and where a restart resumes. Written on start, on every heartbeat,
 * when a task runs long, and once more as offline when the worker drains.
 */
import type { NodeRecord, NodeStatus } from "../models/node.ts";
import { VERSION } from "../models/mod.ts";
import { type Cancel, type Clock, iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { BackendDef } from "../backends/types.ts";
import {
  describeBackends,
  describeParams,
  paramsDigest,
} from "../backends/mod.ts";
import type { NodeParams } from "../models/params.ts";
import type { RunningTask } from "./executor.ts";
import type { NodeBucket } from "./logs.ts";

const log = logger("gridw");

/** What the worker is doing, as the record shows it. */
export interface WorkState {
  /** The highest command-log position taken in. */
  cmdSeq: number;
  resumeSeq: number;
  running?: RunningTask;
  queued: number;
}

export interface PresenceOptions {
  id: string;
  hostname: string;
  groups: string[];
  /** Claimed; a controller keeps only what the node was enrolled with. */
  labels?: Record<string, string>;
  backends: Map<string, BackendDef>;
  heartbeatMs: number;
  /** When this worker process started, in ms. */
  startedAt: number;
  nodes: NodeBucket;
  clock: Clock;
  state: () => WorkState;
}

/**
 * Every command at or below this position has an outcome or was never
 * ours to run: `taken` is the highest taken in, `open` those not yet done.
 */
export function resumeSeq(taken: number, open: number[]): number {
  return Math.min(taken, ...open.map((n) => n - 1));
}

/**
 * The description of what this node's actions accept goes in the first
 * write and in every PARAMS_EVERY-th after it: a controller that started
 * meanwhile learns it within that many heartbeats, and the others stay small.
 */
export const PARAMS_EVERY = 12;

export class Presence {
  #o: PresenceOptions;
  #stopping = false;
  #beating?: Cancel;
  #params: NodeParams;
  #digest: string;
  #writes = 0;

  constructor(o: PresenceOptions) {
    this.#o = o;
    this.#params = describeParams(o.backends);
    this.#digest = paramsDigest(this.#params);
  }

  /** The record an earlier run of this worker left. */
  previous(): Promise<NodeRecord | undefined> {
    return this.#o.nodes.get();
  }

  /** Heartbeats from now on, until stopped. */
  keepAlive(): void {
    if (this.#stopping || this.#beating) return;
    this.#beating = this.#o.clock.every(
      this.#o.heartbeatMs,
      () => void this.beat(),
    );
  }

  async beat(): Promise<void> {
    if (this.#stopping) return;
    try {
      await this.#o.nodes.put(this.#record("online"));
    } catch (e) {
      log.warn("heartbeat failed", { error: String(e) });
    }
  }

  /** No more heartbeats: the node is about to go offline. */
  stop(): void {
    this.#stopping = true;
    this.#beating?.();
  }

  async markOffline(): Promise<void> {
    await this.#o.nodes.put(this.#record("offline")).catch(() => {});
  }

  #record(status: NodeStatus): NodeRecord {
    const s = this.#o.state();
    return {
      id: this.#o.id,
      hostname: this.#o.hostname,
      groups: this.#o.groups,
      ...(this.#o.labels ? { labels: this.#o.labels } : {}),
      backends: describeBackends(this.#o.backends),
      status,
      last_seen: iso(this.#o.clock.now()),
      started_at: iso(this.#o.startedAt),
      version: VERSION,
      cmd_seq: s.cmdSeq,
      resume_seq: s.resumeSeq,
      ...(s.running && status === "online" ? { running: s.running } : {}),
      queued: s.queued,
      params_digest: this.#digest,
      ...(this.#writes++ % PARAMS_EVERY === 0 ? { params: this.#params } : {}),
    };
  }
}
