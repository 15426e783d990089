/**
 * What the JetStream servers of a set of controllers say about their
 * streams and consumers: whether every replica is current, and where a
 * stalled job waits (for a failing test's or the soak's dump).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { connectAsController } from "./nats.ts";
import {
  type ConsumerInfo,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { waitFor } from "./wait.ts";

/** Reads one job through one controller, which opens a consumer on the results. */
export interface JobReader {
  name: string;
  read: () => Promise<unknown>;
}

/** What a consumer's name shares with every other one its process opened. */
function consumerPrefix(name: string): string {
  return name.replace(/^oc_/, "").slice(0, 12);
}

/**
 * A stream's consumers: names from the meta leader, each one's state from
 * its own leader, which may be on a server that is gone (then `error`).
 */
async function consumers(
  nc: NatsConnection,
  jsm: JetStreamManager,
  stream: string,
): Promise<{ name: string; info?: ConsumerInfo; error?: string }[]> {
  const r = await nc.request(`$JS.API.CONSUMER.NAMES.${stream}`, "{}", {
    timeout: 3000,
  });
  const names = r.json<{ consumers?: string[] }>().consumers ?? [];
  const out: { name: string; info?: ConsumerInfo; error?: string }[] = [];
  for (let i = 0; i < names.length; i += 16) {
    out.push(
      ...await Promise.all(
        names.slice(i, i + 16).map(async (name) => {
          try {
            return { name, info: await jsm.consumers.info(stream, name) };
          } catch (e) {
            return { name, error: String(e) };
          }
        }),
      ),
    );
  }
  return out;
}

/**
 * Until every stream (and KV bucket) the server at `url` knows has a
 * leader and all its replicas current: losing a server is survivable only then.
 */
export async function waitReplicasCurrent(
  url: string,
  keysDir: string,
  timeoutMs = 60_000,
): Promise<void> {
  const nc = await connectAsController(keysDir, { servers: url });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    await waitFor(
      "every stream's replicas to be current",
      async () => {
        let streams = 0;
        for await (const si of jsm.streams.list()) {
          streams++;
          const replicas = si.cluster?.replicas ?? [];
          if (!si.cluster?.leader || replicas.length < 2) return false;
          if (!replicas.every((r) => r.current && !r.offline)) return false;
        }
        return streams > 0;
      },
      timeoutMs,
      250,
    );
  } finally {
    await nc.close();
  }
}

/**
 * Every stream's leader and replicas, and every consumer's leader and
 * progress, as `servers` see them: where a stalled job waits. Consumers
 * are labelled with the controller that opened them where `readers` (each
 * running controller reading the job waited for) can tell.
 */
export async function jetstreamState(
  servers: string[],
  keysDir: string,
  readers: () => JobReader[],
): Promise<string> {
  if (servers.length === 0) return "jetstream: no server running";
  const nc = await connectAsController(keysDir, { servers, timeout: 3000 });
  const out: string[] = [];
  try {
    const jsm = await jetstreamManager(nc, { timeout: 3000 });
    // Right after a server is lost the meta leader may still be elected.
    const streams = await waitFor(
      "the stream names",
      async () => {
        const names: string[] = [];
        for await (const name of jsm.streams.names()) names.push(name);
        return names;
      },
      15_000,
      500,
    );
    const owners = await consumerOwners(nc, jsm, readers());
    const label = (name: string) => {
      const who = owners.get(consumerPrefix(name));
      return who ? `${name} [${who}]` : name;
    };
    for (const stream of streams) {
      out.push(await streamLine(jsm, stream));
      // Those with work left, a pull waiting or no answer, one a line;
      // the rest counted by leader.
      const idle = new Map<string, number>();
      let list: Awaited<ReturnType<typeof consumers>> = [];
      try {
        list = await consumers(nc, jsm, stream);
      } catch (e) {
        out.push(`  consumer names: no answer (${e})`);
      }
      for (const c of list) {
        if (!c.info) {
          out.push(`  consumer ${label(c.name)}: no answer (${c.error})`);
          continue;
        }
        const ci = c.info;
        const leader = ci.cluster?.leader || "none";
        if (ci.num_pending === 0 && ci.num_waiting === 0) {
          idle.set(leader, (idle.get(leader) ?? 0) + 1);
          continue;
        }
        const filter = ci.config.filter_subject ??
          ci.config.filter_subjects?.join(",") ?? "all";
        out.push(
          `  consumer ${label(c.name)} (${filter}, created ${
            ci.created.slice(11, 23)
          }): leader ${leader}, delivered ${ci.delivered.stream_seq}, pending ${ci.num_pending}, waiting pulls ${ci.num_waiting}`,
        );
      }
      if (idle.size > 0) {
        out.push(
          `  idle consumers by leader: ${
            [...idle].map(([l, n]) => `${l} ${n}`).join(", ")
          }`,
        );
      }
    }
  } catch (e) {
    out.push(`jetstream: ${e}`);
  } finally {
    await nc.close();
  }
  return out.join("\n");
}

/** A stream's leader, replicas and last sequence, one line. */
async function streamLine(
  jsm: JetStreamManager,
  stream: string,
): Promise<string> {
  try {
    const si = await jsm.streams.info(stream);
    const replicas = (si.cluster?.replicas ?? []).map((r) =>
      `${r.name}${r.current ? "" : " (not current)"}${
        r.offline ? " (offline)" : ""
      }`
    );
    return `stream ${stream}: leader ${
      si.cluster?.leader || "none"
    }, replicas ${replicas.join(", ") || "-"}; last seq ${si.state.last_seq}`;
  } catch (e) {
    return `stream ${stream}: no answer (${e})`;
  }
}

/**
 * Which controller opened which consumers, by name prefix: a process
 * names all its consumers from one random prefix, and reading a running
 * job (GET /job/:id) opens one, so reading it through each controller in
 * turn shows each one's prefix.
 */
async function consumerOwners(
  nc: NatsConnection,
  jsm: JetStreamManager,
  readers: JobReader[],
): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  for (const r of readers) {
    const since = Date.now() - 1000;
    await r.read().catch(() => {});
    const list = await consumers(nc, jsm, "GRID_RES").catch(() => []);
    for (const c of list) {
      const created = Date.parse(c.info?.created ?? "");
      const prefix = consumerPrefix(c.name);
      if (created >= since && !owners.has(prefix)) owners.set(prefix, r.name);
    }
  }
  return owners;
}
