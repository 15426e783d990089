/**
 * How a simulated worker connects: as gridw does (lib/nats.ts
 * `connectNats` with its creds and `inboxPrefix: workerInbox(id)`), with
 * one difference that only the client's CPU sees: the server's nonce is
 * signed with node:crypto's Ed25519 (controller/nats_keys.ts) instead of
 * nats.js's pure-JS signer, which re-derives the key on every call. The
 * signature bytes are the same; the cost is about 35 ms of CPU per
 * connection against well under 1 ms. A real worker pays that once, on
 * its own machine; 10,000 simulated connections on this box's 2 cores
 * would spend minutes on it and turn "registered" into a signing figure.
 */
import {
  type Authenticator,
  connect,
  type NatsConnection,
} from "@nats-io/transport-node";
import { encode } from "@nats-io/nkeys";
import { keyPairOf } from "../controller/nats_keys.ts";
import { workerInbox } from "../lib/access.ts";
import { guardLateResets } from "../lib/nats.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The JWT and the seed of a standard .creds file, found as nats.js finds them. */
function readCreds(creds: Uint8Array): { jwt: string; seed: string } {
  const block =
    /\s*(?:(?:-{3,}[^\n]*-{3,}\n)(.+)(?:\n\s*-{3,}[^\n]*-{3,}\n))/ig;
  const text = dec.decode(creds);
  const jwt = block.exec(text)?.[1]?.trim();
  const seed = block.exec(text)?.[1]?.trim();
  if (!jwt || !seed) throw new Error("not a .creds file");
  return { jwt, seed };
}

/** What nats.js's `credsAuthenticator` sends, signed by node:crypto. */
function credsSigner(creds: Uint8Array): Authenticator {
  const { jwt, seed } = readCreds(creds);
  const kp = keyPairOf(seed);
  const nkey = kp.getPublicKey();
  return (nonce?: string) => ({
    jwt,
    nkey,
    sig: nonce ? encode(kp.sign(enc.encode(nonce))) : "",
  });
}

/**
 * Connects as worker `id` with its `creds`, with the options
 * `connectNats` gives every GRID process (keep the two in step).
 */
export async function connectWorker(
  url: string,
  id: string,
  creds: Uint8Array,
): Promise<NatsConnection> {
  guardLateResets();
  return await connect({
    servers: [url],
    name: id,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    timeout: 20_000,
    pingInterval: 10_000,
    noAsyncTraces: true,
    inboxPrefix: workerInbox(id),
    authenticator: credsSigner(creds),
  });
}
