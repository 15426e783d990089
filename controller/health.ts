/**
 * Whether this controller can do its work: connected to NATS, JetStream
 * answering, its own heartbeat getting into the store. `/readyz` and
 * `/metrics` ask; NATS answers here, tests pass their own.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Clock } from "../lib/clock.ts";

export interface Health {
  natsConnected(): boolean;
  /** JetStream answered a request just now. */
  jetstream(): Promise<boolean>;
  /** Our heartbeat reached the store lately: peers see us alive. */
  heartbeatCurrent(): boolean;
}

/** How long a JetStream probe may take before it counts as no answer. */
const PROBE_MS = 2000;

export function natsHealth(
  nc: NatsConnection,
  peers: { lastBeatOk: number },
  clock: Clock,
  staleMs: number,
): Health {
  let connected = true;
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") connected = false;
      else if (s.type === "reconnect") connected = true;
    }
  })().catch(() => {});
  return {
    natsConnected: () => connected && !nc.isClosed(),
    async jetstream() {
      try {
        const jsm = await jetstreamManager(nc, { timeout: PROBE_MS });
        await jsm.getAccountInfo();
        return true;
      } catch {
        return false;
      }
    },
    // The rule an owner stops acting by (controller/ownership.ts): past
    // half the stale threshold, peers may be about to take over.
    heartbeatCurrent: () => clock.now() - peers.lastBeatOk < staleMs / 2,
  };
}
