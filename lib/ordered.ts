/**
 * Opening an ordered consumer, robustly. In a JetStream cluster that has
 * lost a server, nats-server 2.9 may still place a new one-replica consumer
 * on the missing peer, and the create request then times out; a second try
 * lands elsewhere. So creation is retried with a short timeout.
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
      return await js.consumers.get(stream, { ...opts });
    } catch (e) {
      if (i >= attempts || (e as Error).name !== "TimeoutError") throw e;
    }
  }
}
