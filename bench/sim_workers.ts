/**
 * Many simulated workers in one process, each with its own NATS connection.
 *
 *   deno run -A bench/sim_workers.ts --mode=both --n=2500 --prefix=b5000 \
 *     --offset=0 --group=b5000 --creds=DIR --url=nats://127.0.0.1:4222
 *
 * A GRID worker (`--mode=agent`, or `both`) is the real worker code,
 * `Agent` from worker/agent.ts with the `ping` backend over openNatsLogs,
 * on a connection made as gridw makes it (sim_connect.ts): its enrolled
 * creds (DIR/<id>.creds) and `inboxPrefix: workerInbox(id)`.
 *
 * A raw baseline worker (`--mode=raw`, or `both`) is a user of its own,
 * `raw-<id>` (DIR/raw-<id>.creds, minted with a worker's permissions for
 * that id; see raw.ts), on a connection of its own made the same way. It
 * subscribes to its delivery subject `grid.run.raw-<id>` and answers each
 * command with one acknowledged JetStream publish to
 * `grid.res.<job>.<step>.raw-<id>`, through the WORKERS account's import of
 * GRID's `grid.res.>`, as gridw does. It cannot share the GRID worker's
 * connection or user: a worker may receive only on its own subject, where
 * the agent would take the raw commands for its own.
 *
 * With `both`, the two run in the same processes, one after the other, so
 * GRID and the baseline are measured on the same processes.
 *
 * `--stream` gives the agents the `bench` backend too (sim_stream.ts): its
 * `stream` action writes task output at a set rate, streamed by the real
 * worker code.
 *
 * Talks to the bench with JSON lines on stdout: {"event":"connected",…}
 * once every GRID worker's connection is up, {"event":"ready",…} once every
 * agent started, {"event":"raw",…} once every raw worker is subscribed.
 * Stops on SIGTERM/SIGINT or when stdin closes (the bench went away):
 * agents are stopped (which marks their nodes offline) and connections closed.
 */
import { resultEvent } from "../models/messages.ts";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Agent } from "../worker/agent.ts";
import { pingBackend } from "../backends/ping.ts";
import { createExec } from "../backends/exec.ts";
import { AckedPublisher } from "../lib/acked.ts";
import { workerInbox } from "../lib/access.ts";
import { setLogLevel } from "../lib/log.ts";
import { subjects } from "../lib/topology.ts";
import { pool, rawId, simId } from "./lib.ts";
import { connectWorker } from "./sim_connect.ts";
import { streamBackend } from "./sim_stream.ts";
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
    creds: { type: "string" },
    url: { type: "string" },
    heartbeat: { type: "string", default: "30000" },
    concurrency: { type: "string", default: "64" },
    "raw-ack": { type: "string", default: "request" },
    stream: { type: "boolean", default: false },
  },
});
if (!a.url || !a.creds) throw new Error("--url and --creds are required");
const url = a.url;
const credsDir = a.creds;
const n = Number(a.n);
const offset = Number(a.offset);
const concurrency = Number(a.concurrency);
const mode = a.mode!;
if (!["agent", "raw", "both"].includes(mode)) {
  throw new Error("--mode is agent, raw or both");
}

const emit = (event: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ event, ...fields }));

interface Sim {
  id: string;
  nc: NatsConnection;
  agent?: Agent;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Connects `id` with its creds file from --creds. */
async function connectAs(id: string): Promise<NatsConnection> {
  const creds = await Deno.readFile(join(credsDir, `${id}.creds`));
  return await connectWorker(url, id, creds);
}

/**
 * The raw baseline worker `id`: each command on its delivery subject is
 * answered by one acknowledged JetStream publish of a result.
 */
function rawResponder(nc: NatsConnection, id: string): void {
  const publish = a["raw-ack"] === "inbox"
    ? inboxPublisher(nc, id)
    : jsPublisher(nc);
  const onCommand = (data: Uint8Array) => {
    const cmd = JSON.parse(dec.decode(data)) as { step: number; job: string };
    const started = Date.now();
    // A GRID result event, so payloads are the same size.
    const res = resultEvent(
      { job: cmd.job, step: cmd.step, attempt: 1 },
      id,
      "worker",
      { status: "success", output: "pong", retryable: true },
      { startedAt: started, finishedAt: Date.now() },
    );
    publish(
      subjects.result(cmd.job, cmd.step, id),
      enc.encode(JSON.stringify(res)),
      `${cmd.job}.${cmd.step}.${id}.1.w`,
    );
  };
  nc.subscribe(subjects.delivery(id), {
    callback: (_e, m) => onCommand(m.data),
  });
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
 * `--raw-ack=inbox`: every ack on one inbox subscription, as gridw takes
 * them (lib/acked.ts, under the worker's own inbox prefix).
 */
function inboxPublisher(nc: NatsConnection, id: string): Publish {
  const pub = new AckedPublisher(nc, 5000, workerInbox(id));
  return (subject, data, msgID) => {
    pub.publish(subject, data, msgID, (_seq, err) => {
      if (err) console.error(`raw publish to ${subject} failed: ${err}`);
    });
  };
}

/** A raw baseline worker on a connection of its own. */
async function connectRaw(id: string): Promise<Sim> {
  const nc = await connectAs(id);
  rawResponder(nc, id);
  await nc.flush();
  return { id, nc };
}

/** The real worker agent on its connection. */
async function startAgent(sim: Sim): Promise<void> {
  sim.agent = new Agent({
    nc: sim.nc,
    id: sim.id,
    hostname: sim.id,
    groups: [a.group!],
    heartbeatMs: Number(a.heartbeat),
    catchUpWindowMs: WORKER_DEFAULTS.catchup_window,
    backends: new Map([
      ["ping", pingBackend()],
      ...(a.stream ? [["bench", streamBackend()] as const] : []),
    ]),
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
  if (mode !== "raw") {
    const t0 = performance.now();
    const agents: Sim[] = [];
    await pool(ids, concurrency, async (id) => {
      if (stopping) return;
      const s = { id, nc: await connectAs(id) };
      sims.push(s);
      agents.push(s);
    });
    emit("connected", { n: agents.length, ms: performance.now() - t0 });
    const t1 = performance.now();
    await pool(agents, concurrency, async (s) => {
      if (!stopping) await startAgent(s);
    });
    emit("ready", { n: agents.length, ms: performance.now() - t1 });
  }
  if (mode !== "agent") {
    const t0 = performance.now();
    let count = 0;
    await pool(ids.map(rawId), concurrency, async (id) => {
      if (stopping) return;
      sims.push(await connectRaw(id));
      count++;
    });
    emit("raw", { n: count, ms: performance.now() - t0 });
  }
}

if (import.meta.main) await main();
