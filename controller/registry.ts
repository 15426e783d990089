/**
 * The controller's view of the fleet, kept current by watching the nodes
 * bucket that workers heartbeat into.
 */
import { type KV, KvWatchInclude } from "@nats-io/kv";
import { NodeRecord } from "../models/node.ts";
import { logger } from "../lib/log.ts";
import { isOnline } from "./targets.ts";

const log = logger("registry");

export class Registry {
  readonly nodes = new Map<string, NodeRecord>();
  /** When a heartbeat from any node last arrived. */
  lastUpdate = Date.now();
  #ready: Promise<void>;
  #stop?: () => void;

  constructor(kv: KV, readonly offlineAfterMs: number) {
    this.#ready = this.#watch(kv);
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

  async #watch(kv: KV): Promise<void> {
    // Watch updates first, then read the snapshot, so nothing falls between.
    const iter = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.#stop = () => iter.stop();
    (async () => {
      for await (const e of iter) {
        this.#apply(e.key, e.operation === "PUT" ? e.json() : undefined);
      }
    })().catch((e) => log.error("node watch ended", { error: String(e) }));
    const keys = await kv.keys();
    for await (const key of keys) {
      const e = await kv.get(key);
      if (e && e.operation === "PUT" && !this.nodes.has(key)) {
        this.#apply(key, e.json());
      }
    }
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
