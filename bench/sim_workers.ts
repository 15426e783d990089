/**
 * Many simulated workers in one process, each with its own NATS connection.
 *
 *   deno run -A bench/sim_workers.ts --mode=agent --n=2500 --prefix=b5000 \
 *     --offset=0 --group=b5000 --url=nats://127.0.0.1:4222
 *
 * Each simulated worker is one connection (made like gridw's) carrying the
 * bench's raw baseline worker: subscribe to `bench.run.all` and
 * `bench.run.<id>`, answer each command with one JetStream publish to
 * `bench.res.<step>.<id>`. With `--mode=agent` (the default) the same
 * connection then also runs the real worker code, `Agent` from
 * worker/agent.ts, with the `ping` backend, so GRID and the baseline are
 * measured on the same connections in the same processes.
 *
 * Talks to the bench with JSON lines on stdout: {"event":"connected",…}
 * once every connection is up, {"event":"ready",…} once every agent started.
 * Stops on SIGTERM/SIGINT or when stdin closes (the bench went away):
 * agents are stopped (which marks their nodes offline) and connections closed.
 */
import { parseArgs } from "node:util";
import {
  createInbox,
  headers,
  type NatsConnection,
} from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Agent } from "../worker/agent.ts";
import { pingBackend } from "../backends/ping.ts";
import { createExec } from "../backends/exec.ts";
import { setLogLevel } from "../lib/log.ts";
import { connectNats } from "../lib/nats.ts";
import { pool, simId } from "./lib.ts";
import { WorkerConfig } from "../models/config.ts";

/** gridw's defaults for whatever the bench does not set. */
const WORKER_DEFAULTS = WorkerConfig.parse({ nats: { name: "sim" } }).worker;

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string", default: "agent" },
    n: { type: "string", default: "1" },
    offset: { type: "string", default: "0" },
    prefix: { type: "string", default: "sim" },
    group: { type: "string", default: "sim" },
    url: { type: "string" },
    heartbeat: { type: "string", default: "30000" },
    concurrency: { type: "string", default: "64" },
    "raw-ack": { type: "string", default: "request" },
  },
});
if (!a.url) throw new Error("--url is required");
const url = a.url;
const n = Number(a.n);
const offset = Number(a.offset);
const concurrency = Number(a.concurrency);

const emit = (event: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ event, ...fields }));

interface Sim {
  id: string;
  nc: NatsConnection;
  agent?: Agent;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The raw baseline worker on a connection: each command on `bench.run.all`
 * or `bench.run.<id>` is answered by one acknowledged JetStream publish.
 */
function rawResponder(nc: NatsConnection, id: string): void {
  const publish = a["raw-ack"] === "inbox"
    ? inboxPublisher(nc)
    : jsPublisher(nc);
  const onCommand = (data: Uint8Array) => {
    const cmd = JSON.parse(dec.decode(data)) as { step: number; job: string };
    const started = new Date().toISOString();
    // Shaped like a GRID result event, so payloads are the same size.
    const res = {
      type: "result",
      job: cmd.job,
      step: cmd.step,
      node: id,
      attempt: 1,
      status: "success",
      output: "pong",
      retryable: true,
      started_at: started,
      finished_at: new Date().toISOString(),
      duration_ms: 0,
      by: "worker",
    };
    publish(
      `bench.res.${cmd.step}.${id}`,
      enc.encode(JSON.stringify(res)),
      `${cmd.job}.${cmd.step}.${id}.1.w`,
    );
  };
  for (const subject of ["bench.run.all", `bench.run.${id}`]) {
    nc.subscribe(subject, { callback: (_e, m) => onCommand(m.data) });
  }
}

type Publish = (subject: string, data: Uint8Array, msgID: string) => void;

/** `--raw-ack=request` (default): the client's JetStream publish, one request per message. */
function jsPublisher(nc: NatsConnection): Publish {
  const js = jetstream(nc);
  return (subject, data, msgID) => {
    js.publish(subject, data, { msgID }).catch((e) =>
      console.error(`raw publish to ${subject} failed: ${e}`)
    );
  };
}

/**
 * `--raw-ack=inbox`: the same acknowledged publish with every ack coming
 * back on one wildcard inbox subscription (no request, timer or Error per
 * message). The floor to compare against if GRID's workers publish so.
 */
function inboxPublisher(nc: NatsConnection): Publish {
  const prefix = createInbox();
  let next = 0;
  nc.subscribe(`${prefix}.*`, {
    callback: (_e, m) => {
      const r = m.json<{ error?: { description?: string } }>();
      if (r.error) console.error(`raw publish failed: ${r.error.description}`);
    },
  });
  return (subject, data, msgID) => {
    const h = headers();
    h.set("Nats-Msg-Id", msgID);
    nc.publish(subject, data, { reply: `${prefix}.${++next}`, headers: h });
  };
}

/** Phase 1: the connection (made like gridw's, lib/nats.ts) and the raw responder. */
async function connectSim(id: string): Promise<Sim> {
  const nc = await connectNats({ servers: [url], name: id });
  rawResponder(nc, id);
  await nc.flush();
  return { id, nc };
}

/** Phase 2: the real worker agent on the same connection. */
async function startAgent(sim: Sim): Promise<void> {
  sim.agent = new Agent({
    nc: sim.nc,
    id: sim.id,
    hostname: sim.id,
    groups: [a.group!],
    heartbeatMs: Number(a.heartbeat),
    catchUpWindowMs: WORKER_DEFAULTS.catchup_window,
    backends: new Map([["ping", pingBackend()]]),
    exec: createExec(),
  });
  await sim.agent.start();
}

async function main(): Promise<void> {
  setLogLevel(Deno.env.get("GRID_LOG") ?? "warn");
  const sims: Sim[] = [];
  let stopping: Promise<void> | undefined;
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      const t0 = performance.now();
      // Stopping an agent marks its node offline in the registry.
      await pool(sims, concurrency, async (s) => {
        await s.agent?.stop().catch(() => {});
      });
      await pool(sims, concurrency, async (s) => {
        await s.nc.close().catch(() => {});
      });
      emit("stopped", { why, ms: performance.now() - t0 });
      Deno.exit(0);
    })();
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => shutdown(sig));
  }
  // The bench holds our stdin open; EOF means it went away.
  (async () => {
    for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
    shutdown("stdin closed");
  })();

  const ids = Array.from({ length: n }, (_, i) => simId(a.prefix!, offset + i));
  const t0 = performance.now();
  await pool(ids, concurrency, async (id) => {
    if (!stopping) sims.push(await connectSim(id));
  });
  emit("connected", { n: sims.length, ms: performance.now() - t0 });
  if (a.mode === "raw") return;
  const t1 = performance.now();
  await pool(sims, concurrency, async (s) => {
    if (!stopping) await startAgent(s);
  });
  emit("ready", { n: sims.length, ms: performance.now() - t1 });
}

if (import.meta.main) await main();
