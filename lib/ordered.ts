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
