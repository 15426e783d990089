/**
 * Follows a KV bucket: every current value, then every change. The watch
 * starts first and the snapshot is read after, so nothing falls between
 * (an entry may arrive twice; callers keep the newest revision).
 *
 * nats-server 2.9 may place a watch's one-replica consumer on a cluster
 * peer that is gone, and the watch then delivers nothing. A watchdog
 * notices when the bucket has moved on and the watch has not, and starts a
 * new watch from the last revision seen.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import { KvWatchInclude } from "@nats-io/kv";
import { logger } from "./log.ts";

const log = logger("kv");

export interface Follower {
  stop(): void;
}

export async function followBucket(
  kv: KV,
  name: string,
  apply: (e: KvEntry) => void,
  checkMs = 3000,
): Promise<Follower> {
  let lastRev = 0;
  let seenAtCheck = -1;
  let stopped = false;
  let stopWatch = () => {};
  const deliver = (e: KvEntry) => {
    if (e.revision > lastRev) lastRev = e.revision;
    apply(e);
  };
  const watch = async (from: number) => {
    const iter = await kv.watch(
      from > 0
        ? { resumeFromRevision: from }
        : { include: KvWatchInclude.UpdatesOnly },
    );
    stopWatch = () => iter.stop();
    (async () => {
      for await (const e of iter) deliver(e);
    })().catch((e) => log.warn(`watch of ${name} ended`, { error: String(e) }));
  };
  await watch(0);
  for await (const k of await kv.keys()) {
    const e = await kv.get(k);
    if (e) deliver(e);
  }
  const timer = setInterval(async () => {
    try {
      const last = (await kv.status()).streamInfo.state.last_seq;
      if (!stopped && last > lastRev && lastRev === seenAtCheck) {
        log.warn(`watch of ${name} stalled; watching again`, {
          at: lastRev,
          bucket: last,
        });
        stopWatch();
        await watch(lastRev + 1);
      }
      seenAtCheck = lastRev;
    } catch {
      // JetStream unavailable: the next check will tell.
    }
  }, checkMs);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      stopWatch();
    },
  };
}
