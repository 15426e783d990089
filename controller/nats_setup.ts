/**
 * The controller's way onto NATS: the keys it trusts, its own nats-server
 * (in operator mode) when it runs one, and two connections: one as a GRID
 * controller user for everything else, one as a system user that pushes
 * account updates (revocations).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { ControllerConfig } from "../models/config.ts";
import { connectNats } from "../lib/nats.ts";
import { logger } from "../lib/log.ts";
import { SYS_CLAIMS_UPDATE } from "../lib/topology.ts";
import { loadOrCreateKeys } from "./nats_keys.ts";
import { NatsTrust } from "./nats_trust.ts";
import { findNatsServer, NatsServer, trustBlock } from "./nats_server.ts";

const log = logger("grid");

export interface NatsSetup {
  trust: NatsTrust;
  server?: NatsServer;
  /** Where the controller connects (its own server first). */
  servers: string[];
  nc: NatsConnection;
  /** The system-account connection: account pushes only. */
  sys: NatsConnection;
}

/** Starts the bundled nats-server if configured, and connects to NATS. */
export async function setUpNats(config: ControllerConfig): Promise<NatsSetup> {
  const trust = new NatsTrust(await loadOrCreateKeys(config.nats.auth.dir!));
  const tls = config.nats.tls;
  let server: NatsServer | undefined;
  let servers: string[];
  if (config.nats.server.enabled) {
    server = await NatsServer.start({
      binary: findNatsServer(config.nats.server.binary),
      host: config.nats.server.host,
      port: config.nats.server.port,
      storeDir: config.nats.jetstream.store_dir,
      name: config.nats.name,
      cluster: config.nats.cluster,
      trust: await trust.server(),
      routeSecret: trust.keys.routeSecret,
      ...(tls ? { tls } : {}),
    });
    const host = ["0.0.0.0", "::", ""].includes(config.nats.server.host)
      ? "127.0.0.1"
      : config.nats.server.host;
    servers = [
      `${tls ? "tls" : "nats"}://${host}:${server.port}`,
      ...(config.nats.client.urls ?? []),
    ];
    log.info("nats-server ready", {
      url: servers[0],
      store: config.nats.jetstream.store_dir,
      keys: trust.keys.file,
    });
  } else {
    servers = config.nats.client.urls!;
  }
  const common = {
    servers,
    firstConnectTimeoutMs: 30_000,
    ...(tls?.ca ? { caFile: tls.ca } : {}),
  };
  const name = config.nats.name;
  const nc = await connectNats({
    ...common,
    name,
    creds: (await trust.controller(name)).creds,
  });
  const sys = await connectNats({
    ...common,
    name: `${name}-system`,
    creds: (await trust.system(`${name}-system`)).creds,
  });
  return { trust, server, servers, nc, sys };
}

/**
 * Sends an account JWT to every server (each stores it; in a cluster they
 * also sync it to each other). Resolves when one has stored it.
 */
export async function pushAccount(
  sys: NatsConnection,
  jwt: string,
): Promise<void> {
  const m = await sys.request(
    SYS_CLAIMS_UPDATE,
    new TextEncoder().encode(jwt),
    { timeout: 5000 },
  );
  const reply = m.json<{ data?: { code?: number }; error?: unknown }>();
  if (reply.error || reply.data?.code !== 200) {
    throw new Error(`account update refused: ${m.string()}`);
  }
}

/**
 * The lines of an external nats-server's config that make it trust GRID's
 * operator (operator mode, full resolver), from the key file in
 * `nats.auth.dir`: `grid -c FILE --nats-trust`.
 */
export async function trustLines(config: ControllerConfig): Promise<string> {
  const trust = new NatsTrust(await loadOrCreateKeys(config.nats.auth.dir!));
  return [
    "# GRID's operator, from " + trust.keys.file,
    ...trustBlock(await trust.server(), "/var/lib/nats/accounts"),
    "# A worker's JWT travels in its CONNECT line; results may be large.",
    "max_control_line: 16384",
    "max_payload: 8388608",
  ].join("\n");
}
