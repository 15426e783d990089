/** Connecting to NATS the way every GRID process does: retry forever. */
import { connect, type NatsConnection } from "@nats-io/transport-node";

export interface ConnectOptions {
  servers: string[];
  name: string;
  /** Give up on the first connection after this long (controller start-up); default: never. */
  firstConnectTimeoutMs?: number;
}

export async function connectNats(
  opts: ConnectOptions,
): Promise<NatsConnection> {
  return await connect({
    servers: opts.servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: opts.firstConnectTimeoutMs === undefined,
    timeout: opts.firstConnectTimeoutMs ?? 20_000,
    // Large task outputs (256 KiB, JSON-escaped) must not trip the client buffer.
    pingInterval: 10_000,
    // No stack trace captured per request: otherwise every JetStream publish
    // and KV write builds three Error objects (a quarter of the controller's
    // CPU in a 1,000-node barrier step).
    noAsyncTraces: true,
  });
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}
