/**
 * In-memory stand-ins for what the runner talks to (buckets, peers, the
 * fleet; the logs are in testing_logs.ts), for unit tests on a ManualClock. They
 * deliver asynchronously, as NATS does, but settle within one
 * `clock.advance`.
 */
import type { Phase } from "../models/job.ts";
import { resultEvent } from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";
import type { NodeParams } from "../models/params.ts";
import type { Bucket, BucketEntry } from "../lib/bucket.ts";
import { iso, ManualClock } from "../lib/clock.ts";
import { decoder } from "../lib/nats.ts";
import { MemoryClaims } from "./claims.ts";
import { JobStore } from "./job_store.ts";
import type { PeerView } from "./ownership.ts";
import { Runner, type RunnerConfig } from "./runner.ts";
import { type Fleet, isOnline } from "./targets.ts";
import { MemoryCommandLog, MemoryEventLog } from "./testing_logs.ts";

export {
  MemoryCommandLog,
  MemoryEventLog,
  MemoryOutputLog,
  type StoredCommand,
} from "./testing_logs.ts";
function entry(
  key: string,
  revision: number,
  value: Uint8Array,
  operation: BucketEntry["operation"] = "PUT",
  time?: number,
): BucketEntry {
  return {
    key,
    revision,
    operation,
    value,
    ...(time === undefined ? {} : { time }),
    json: () => JSON.parse(decoder.decode(value)),
  };
}

export class MemoryBucket implements Bucket {
  #items = new Map<string, BucketEntry>();
  /** Keys deleted or purged: their marker, until erased. */
  #markers = new Map<string, BucketEntry>();
  #rev = 0;
  #followers = new Set<(e: BucketEntry) => void>();
  readonly created = Date.now();
  /** When set, stamps entries with a store time, as the server does. */
  now?: () => number;

  create(key: string, value: Uint8Array): Promise<number> {
    if (this.#items.has(key)) {
      return Promise.reject(new Error("wrong last sequence: key exists"));
    }
    return Promise.resolve(this.#write(key, value));
  }

  update(key: string, value: Uint8Array, rev: number): Promise<number> {
    if (this.#items.get(key)?.revision !== rev) {
      return Promise.reject(new Error("wrong last sequence"));
    }
    return Promise.resolve(this.#write(key, value));
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return Promise.resolve(this.#write(key, value));
  }

  get(key: string): Promise<BucketEntry | null> {
    return Promise.resolve(this.#items.get(key) ?? null);
  }

  delete(key: string): Promise<void> {
    this.#mark(key, "DEL");
    return Promise.resolve();
  }

  remove(key: string, rev: number): Promise<void> {
    if (this.#items.get(key)?.revision !== rev) {
      return Promise.reject(new Error("wrong last sequence"));
    }
    this.#mark(key, "DEL");
    return Promise.resolve();
  }

  erase(key: string, rev?: number): Promise<void> {
    const now = this.#items.get(key) ?? this.#markers.get(key);
    if (rev !== undefined && now?.revision !== rev) return Promise.resolve();
    this.#items.delete(key);
    this.#markers.delete(key);
    return Promise.resolve();
  }

  info(): Promise<{ created: number; lastRev: number }> {
    return Promise.resolve({ created: this.created, lastRev: this.#rev });
  }

  /** Markers left by deletes and purges, by key. */
  markers(): string[] {
    return [...this.#markers.keys()];
  }

  follow(apply: (e: BucketEntry) => void): Promise<{ stop(): void }> {
    for (const e of this.#items.values()) apply(e);
    this.#followers.add(apply);
    return Promise.resolve({ stop: () => this.#followers.delete(apply) });
  }

  followFrom(
    after: number,
    apply: (e: BucketEntry) => void,
  ): Promise<{ stop(): void }> {
    const held = [...this.#items.values(), ...this.#markers.values()]
      .filter((e) => e.revision > after)
      .sort((a, b) => a.revision - b.revision);
    for (const e of held) apply(e);
    this.#followers.add(apply);
    return Promise.resolve({ stop: () => this.#followers.delete(apply) });
  }

  #mark(key: string, op: "DEL" | "PURGE"): void {
    this.#items.delete(key);
    const e = entry(key, ++this.#rev, new Uint8Array(), op, this.now?.());
    this.#markers.set(key, e);
    for (const f of this.#followers) queueMicrotask(() => f(e));
  }

  #write(key: string, value: Uint8Array): number {
    const e = entry(key, ++this.#rev, value, "PUT", this.now?.());
    this.#items.set(key, e);
    this.#markers.delete(key);
    for (const f of this.#followers) queueMicrotask(() => f(e));
    return e.revision;
  }
}

/** Other controllers as seen from ours; our heartbeat gets through unless `beatFailing`. */
export class FakePeers implements PeerView {
  readonly live = new Set<string>();
  beatFailing = false;
  #lastBeat: number;

  constructor(
    readonly id: string,
    readonly clock: ManualClock,
    readonly staleMs = 30_000,
    readonly heartbeatMs = 5000,
  ) {
    this.#lastBeat = clock.now();
  }

  get lastBeatOk(): number {
    if (!this.beatFailing) this.#lastBeat = this.clock.now();
    return this.#lastBeat;
  }

  alive(id: string | undefined): boolean {
    return id === this.id || (id !== undefined && this.live.has(id));
  }
}

/** Node records the test writes, judged online like the registry does. */
export class FakeFleet implements Fleet {
  readonly nodes = new Map<string, NodeRecord>();
  /** What each node describes its actions accept. */
  readonly described = new Map<string, NodeParams>();
  #frozenAt?: number;

  constructor(readonly clock: ManualClock, readonly offlineAfterMs: number) {}

  /** Current as time goes, unless the test made the view stale. */
  get freshAt(): number {
    return this.#frozenAt ?? this.clock.now();
  }

  /** The view stops (or starts again) being current: an outage, a stuck follower. */
  set stale(on: boolean) {
    this.#frozenAt = on ? this.clock.now() : undefined;
  }

  /** A heartbeat from `id`, with what it has taken in so far. */
  beat(id: string, fields: Partial<NodeRecord> = {}): void {
    const now = this.clock.now();
    const prev = this.nodes.get(id);
    this.nodes.set(id, {
      id,
      hostname: id,
      groups: ["web"],
      backends: { test: ["succeed", "fail", "sleep"] },
      status: "online",
      started_at: iso(now),
      cmd_seq: 0,
      queued: 0,
      ...prev,
      ...fields,
      last_seen: iso(now),
      version: "test",
    });
  }

  isOnline(id: string, now = this.clock.now()): boolean {
    const n = this.nodes.get(id);
    return n !== undefined && isOnline(n, now, this.offlineAfterMs);
  }

  paramsOf(id: string): NodeParams | undefined {
    return this.described.get(id);
  }
}

export const OFFLINE_AFTER_MS = 15_000;

/** A runner over fakes, and the fakes to drive and observe it. */
export async function runnerRig(opts: {
  id?: string;
  nodes?: string[];
  config?: Partial<RunnerConfig>;
  bucket?: MemoryBucket;
  events?: MemoryEventLog;
  claims?: MemoryClaims;
  clock?: ManualClock;
  start?: boolean;
} = {}) {
  const clock = opts.clock ?? new ManualClock();
  const bucket = opts.bucket ?? new MemoryBucket();
  const events = opts.events ?? new MemoryEventLog();
  const claims = opts.claims ?? new MemoryClaims();
  const commands = new MemoryCommandLog();
  const peers = new FakePeers(opts.id ?? "ctl-1", clock);
  const fleet = new FakeFleet(clock, OFFLINE_AFTER_MS);
  for (const n of opts.nodes ?? ["a", "b"]) fleet.beat(n);
  const store = new JobStore(bucket);
  await store.start();
  const runner = new Runner({
    store,
    claims,
    peers,
    fleet,
    events,
    commands,
    clock,
    config: {
      maxConcurrent: 5,
      maxPending: 10,
      taskTimeoutMs: 60_000,
      offlineAfterMs: OFFLINE_AFTER_MS,
      ...opts.config,
    },
  });
  if (opts.start !== false) await runner.start();
  /** Moves time on in steps, the nodes in `beating` heartbeating as it goes. */
  const pass = async (ms: number, beating: string[] = []) => {
    for (let left = ms; left > 0; left -= 1000) {
      await clock.advance(Math.min(1000, left));
      for (const n of beating) fleet.beat(n);
    }
  };
  /** The node reports an outcome of its newest run command. */
  const answer = async (node: string, status: "success" | "failed") => {
    const { cmd } = commands.runs(node).at(-1)!;
    await events.append(
      resultEvent(cmd, node, "worker", { status }, {
        finishedAt: clock.now(),
      }),
    );
    await clock.advance(0);
  };
  return {
    clock,
    bucket,
    events,
    claims,
    commands,
    peers,
    fleet,
    store,
    runner,
    pass,
    answer,
  };
}

/** A job of `steps` barrier steps of `test succeed`. */
export function steps(n: number): Phase[] {
  return Array.from({ length: n }, () => ({
    backend: "test",
    action: "succeed",
  }));
}
