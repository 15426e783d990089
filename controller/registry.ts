/**
 * The controller's view of the fleet, kept current by watching the nodes
 * bucket that workers heartbeat into.
 */
import type { KV } from "@nats-io/kv";
import type { JetStreamClient } from "@nats-io/jetstream";
import { followBucket } from "../lib/kv_follow.ts";
import { NodeRecord } from "../models/node.ts";
import { logger } from "../lib/log.ts";
import { isOnline } from "./targets.ts";

const log = logger("registry");

export class Registry {
  readonly nodes = new Map<string, NodeRecord>();
  #revs = new Map<string, number>();
  /** When a heartbeat from any node last arrived. */
  lastUpdate = Date.now();
  #ready: Promise<void>;
  #stop?: () => void;

  constructor(
    kv: KV,
    readonly offlineAfterMs: number,
    js: JetStreamClient,
  ) {
    this.#ready = this.#watch(kv, js);
  }

  /** Resolves once the initial snapshot has been read. */
  ready(): Promise<void> {
    return this.#ready;
  }

  isOnline(id: string, now = Date.now()): boolean {
    const n = this.nodes.get(id);
    return n !== undefined && isOnline(n, now, this.offlineAfterMs);
  }

  stop(): void {
    this.#stop?.();
  }

  async #watch(kv: KV, js: JetStreamClient): Promise<void> {
    const f = await followBucket(js, kv, "nodes", (e) => {
      const have = this.#revs.get(e.key) ?? 0;
      if (e.revision <= have) return;
      this.#revs.set(e.key, e.revision);
      this.#apply(e.key, e.operation === "PUT" ? e.json() : undefined);
    });
    this.#stop = () => f.stop();
  }

  #apply(key: string, value: unknown): void {
    if (value === undefined) {
      this.nodes.delete(key);
      return;
    }
    const parsed = NodeRecord.safeParse(value);
    this.lastUpdate = Date.now();
    if (parsed.success) this.nodes.set(key, parsed.data);
    else log.warn("ignoring malformed node record", { key });
  }
}
