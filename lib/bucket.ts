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
  /**
   * Every entry after revision `after` in revision order (0: every key's
   * newest, markers included), then every change; answers once those
   * there at the call have been applied.
   */
  followFrom(after: number, apply: (e: BucketEntry) => void): Promise<Follower>;
  /**
   * Removes `key` if its revision is still `rev` (else fails: "wrong last
   * sequence"); followers see a PURGE entry, which stays as a marker.
   */
  purge(key: string, rev: number): Promise<void>;
  /** Erases whatever the bucket holds under `key`, a marker too: followers see nothing. */
  erase(key: string): Promise<void>;
  /** When the bucket was created (ms) and its newest revision. */
  info(): Promise<{ created: number; lastRev: number }>;
}

export function natsBucket(
  kv: KV,
  js: JetStreamClient,
  name: string,
): Bucket {
  let stream: Promise<{ name: string; prefix: string }> | undefined;
  return {
    create: (key, value) => kv.create(key, value),
    update: (key, value, rev) => kv.update(key, value, rev),
    put: (key, value) => kv.put(key, value),
    get: (key) => kv.get(key),
    delete: (key) => kv.delete(key),
    follow: (apply) => followBucket(js, kv, name, apply),
    followFrom: (after, apply) =>
      followBucket(js, kv, name, apply, undefined, after),
    purge: (key, rev) => kv.purge(key, { previousSeq: rev }),
    erase: async (key) => {
      stream ??= kv.status().then((s) => ({
        name: s.streamInfo.config.name,
        prefix: `$KV.${s.bucket}.`,
      }));
      const s = await stream.catch((e) => {
        stream = undefined;
        throw e;
      });
      // No account check: that would be one more round trip per key.
      const jsm = await js.jetstreamManager(false);
      await jsm.streams.purge(s.name, { filter: `${s.prefix}${key}` });
    },
    info: async () => {
      const { streamInfo } = await kv.status();
      return {
        created: Date.parse(streamInfo.created),
        lastRev: streamInfo.state.last_seq,
      };
    },
  };
}
