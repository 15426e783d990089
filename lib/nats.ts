/** Connecting to NATS the way every GRID process does: retry forever. */
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
} from "@nats-io/transport-node";

export interface ConnectOptions {
  servers: string[];
  name: string;
  /** Give up on the first connection after this long (controller start-up); default: never. */
  firstConnectTimeoutMs?: number;
  /** A .creds file's content: the NATS user this process is. */
  creds?: Uint8Array;
  /** Replies come under this prefix (a worker may read only its own). */
  inboxPrefix?: string;
  /** A CA file (PEM) to trust for the server's certificate. */
  caFile?: string;
}

let guarded = false;

/**
 * When a server refuses a connection (credentials revoked or unknown), the
 * socket of nats.js's node transport can report a late ECONNRESET after
 * nats.js stopped listening; Deno would take it as uncaught and end the
 * process. nats.js has already seen the refusal by then: drop the echo.
 */
export function guardLateResets(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("error", (e) => {
    const code = (e.error as { code?: string } | undefined)?.code;
    if (code === "ECONNRESET" || code === "EPIPE") e.preventDefault();
  });
}

export async function connectNats(
  opts: ConnectOptions,
): Promise<NatsConnection> {
  guardLateResets();
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
    ...(opts.creds ? { authenticator: credsAuthenticator(opts.creds) } : {}),
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
    ...(opts.caFile ? { tls: { caFile: opts.caFile } } : {}),
  });
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}
