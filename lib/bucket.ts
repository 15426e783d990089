/**
 * A KV bucket as GRID's stores use it: conditional writes and a follower
 * (lib/kv_follow.ts). The narrow interface lets a store run over NATS in
 * production and over memory in unit tests.
 */
import type { KV } from "@nats-io/kv";
import type { JetStreamClient } from "@nats-io/jetstream";
import { type BucketEntry, followBucket, type Follower } from "./kv_follow.ts";

export type { BucketEntry, Follower };

export interface Bucket {
  /** Writes a new key; fails when it exists. Answers the revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes `key` if its revision is still `rev`; else fails ("wrong last sequence"). */
  update(key: string, value: Uint8Array, rev: number): Promise<number>;
  put(key: string, value: Uint8Array): Promise<number>;
  get(key: string): Promise<BucketEntry | null>;
  /** Removes `key`; followers see a DEL entry. */
  delete(key: string): Promise<void>;
  /** Every current entry, then every change. */
  follow(apply: (e: BucketEntry) => void): Promise<Follower>;
}

export function natsBucket(
  kv: KV,
  js: JetStreamClient,
  name: string,
): Bucket {
  return {
    create: (key, value) => kv.create(key, value),
    update: (key, value, rev) => kv.update(key, value, rev),
    put: (key, value) => kv.put(key, value),
    get: (key) => kv.get(key),
    delete: (key) => kv.delete(key),
    follow: (apply) => followBucket(js, kv, name, apply),
  };
}
