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
   * sequence"); followers see a DEL entry, which stays as a marker. With
   * one value per key the marker replaces the value as a purge's would.
   * Not a KV purge: on nats-server 2.9 the rollup a purge sends moves every
   * consumer reading the bucket up to the marker, past whatever it had not
   * delivered yet (other keys' entries included), so followers lost them.
   */
  remove(key: string, rev: number): Promise<void>;
  /**
   * Erases whatever the bucket holds under `key`, a marker too: followers
   * see nothing. The message is deleted by its sequence: a filtered purge
   * that empties a subject moves every consumer reading the bucket to the
   * stream's end on nats-server 2.9, skipping what it had not delivered.
   * With `rev` (known already: a marker's), only that revision, and no
   * look-up first.
   */
  erase(key: string, rev?: number): Promise<void>;
  /** When the bucket was created (ms) and its newest revision. */
  info(): Promise<{ created: number; lastRev: number }>;
}

export function natsBucket(
  kv: KV,
  js: JetStreamClient,
  name: string,
): Bucket {
  let stream: Promise<string> | undefined;
  return {
    create: (key, value) => kv.create(key, value),
    update: (key, value, rev) => kv.update(key, value, rev),
    put: (key, value) => kv.put(key, value),
    get: (key) => kv.get(key),
    delete: (key) => kv.delete(key),
    follow: (apply) => followBucket(js, kv, name, apply),
    followFrom: (after, apply) =>
      followBucket(js, kv, name, apply, undefined, after),
    remove: (key, rev) => kv.delete(key, { previousSeq: rev }),
    erase: async (key, rev) => {
      stream ??= kv.status().then((s) => s.streamInfo.config.name);
      const streamName = await stream.catch((e) => {
        stream = undefined;
        throw e;
      });
      const seq = rev ?? (await kv.get(key))?.revision;
      if (seq === undefined) return;
      // No account check: that would be one more round trip per key.
      const jsm = await js.jetstreamManager(false);
      await jsm.streams.deleteMessage(streamName, seq, false).catch(
        (err) => {
          // Gone meanwhile (replaced by a newer value): nothing to erase.
          if (!/no message found/i.test(String(err?.message ?? err))) throw err;
        },
      );
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
