/**
 * NATS connections of the test tools' own: a controller's identity minted
 * from a set's keys, to look at what the servers hold (stream replicas, a
 * job's consumers) or to drive load beside GRID (the bench).
 */
import { join } from "node:path";
import {
  connect,
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
} from "@nats-io/transport-node";
import { guardLateResets } from "../lib/nats.ts";
import { loadOrCreateKeys } from "../controller/nats_keys.ts";
import { NatsTrust } from "../controller/nats_trust.ts";

/** The keys of controllers whose stores sit in `dir` (the default place). */
export const keysDirOf = (dir: string): string => join(dir, "nats-auth");

/** Connects as a controller of the cluster whose keys are in `keysDir`. */
export async function connectAsController(
  keysDir: string,
  opts: ConnectionOptions,
): Promise<NatsConnection> {
  guardLateResets();
  const trust = new NatsTrust(await loadOrCreateKeys(keysDir));
  const { creds } = await trust.controller(opts.name ?? "test-tools");
  return await connect({ ...opts, authenticator: credsAuthenticator(creds) });
}
