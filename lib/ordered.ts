/**
 * Opening an ordered consumer, robustly. In a JetStream cluster that has
 * lost a server, nats-server 2.9 may still place a new one-replica consumer
 * on the missing peer, and the create request then times out; a second try
 * lands elsewhere. So creation is retried with a short timeout, and a
 * consumer placed on a peer without a current copy is replaced.
 */
import type {
  Consumer,
  JetStreamClient,
  OrderedConsumerOptions,
} from "@nats-io/jetstream";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

export const API_TIMEOUT_MS = 2000;

/** A JetStream client whose API requests give up soon enough to be retried. */
export function jetstreamClient(nc: NatsConnection): JetStreamClient {
  return jetstream(nc, { timeout: API_TIMEOUT_MS });
}

export async function openOrdered(
  js: JetStreamClient,
  stream: string,
  opts: Partial<OrderedConsumerOptions>,
  attempts = 6,
): Promise<Consumer> {
  for (let i = 1;; i++) {
    try {
      const c = await js.consumers.get(stream, { ...opts });
      if (i < attempts && !await placedWell(js, stream, c)) {
        c.delete().catch(() => {});
        continue;
      }
      return c;
    } catch (e) {
      if (i >= attempts || (e as Error).name !== "TimeoutError") throw e;
    }
  }
}

/**
 * Whether a new consumer's leader holds a current copy of the stream. A
 * one-replica consumer reads its server's copy: placed on a peer that is
 * down, or back but still catching up, it delivers nothing while it looks
 * healthy (nats-server 2.9 places them there).
 */
async function placedWell(
  js: JetStreamClient,
  stream: string,
  c: Consumer,
): Promise<boolean> {
  const leader = (await c.info(true)).cluster?.leader;
  if (!leader) return true; // not clustered
  const si = await (await js.jetstreamManager()).streams.info(stream);
  if (si.cluster?.leader === leader) return true;
  const peer = si.cluster?.replicas?.find((r) => r.name === leader);
  return peer !== undefined && peer.current && !peer.offline;
}

/**
 * Consume options for long-lived readers: with nats.js defaults an ordered
 * consumer whose server died notices only after a minute or more; short
 * pulls with one-second heartbeats make it recover within seconds.
 */
export const QUICK_RECOVERY = { expires: 5000, idle_heartbeat: 1000 } as const;

/**
 * Calls `stalled` when a stream has moved past what its reader has seen and
 * the reader has not moved since the last check. A reader can go quiet
 * without failing: its pulls stop after the cluster lost its leader, or it
 * sits on a peer that is not caught up. Returns a function that stops it.
 */
export function watchStall(
  streamLast: () => Promise<number>,
  seen: () => number,
  stalled: (seen: number, last: number) => void | Promise<void>,
  everyMs = 3000,
): () => void {
  let seenAtCheck = -1;
  const timer = setInterval(async () => {
    try {
      const last = await streamLast();
      const now = seen();
      if (last > now && now === seenAtCheck) await stalled(now, last);
      seenAtCheck = seen();
    } catch {
      // JetStream unavailable: the next check will tell.
    }
  }, everyMs);
  return () => clearInterval(timer);
}
