/**
 * Output streaming during a step: N simulated workers (the real Agent) run
 * steps of `bench stream` that last a fixed time, each writing `rate` lines
 * a second that the worker code streams as chunks, while one client
 * follows the whole job's output (`GET /job/:id/output`, Server-Sent
 * Events), so the controller reads every chunk and sends it on. Against
 * the same steps quiet (rate 0): quiet, streaming, quiet again, so drift
 * in the machine's load hits both alike. What it costs shows as step time,
 * and as the controller's CPU and RSS.
 */
import { readSse } from "../client/sse.ts";
import { STREAM_COMMANDS } from "../lib/topology.ts";
import { authHeaders, waitFor } from "../testing/mod.ts";
import { onlineNodes, submit } from "./api.ts";
import type { Env } from "./env.ts";
import { CpuMeter, log, ms, RssSampler, stats } from "./lib.ts";
import { profiled } from "./profile.ts";
import type { BenchResults, StreamRun } from "./results.ts";
import { LINE_BYTES, streamJob } from "./sim_stream.ts";
import { simsReady, startSims, stopSims } from "./sims.ts";
import { jobTimes, lastSeq, stepSeries } from "./streams.ts";

/** Lines a second each worker writes while streaming. */
export const STREAM_RATE = 100;
/** How long each step's task runs. */
export const STREAM_STEP_MS = 2000;
/** Steps run before the timed ones in every job. */
const WARMUP = 1;

/** What the following client got. */
interface ReaderCount {
  events: number;
  lines: number;
  skipped: number;
  bytes: number;
  ended: boolean;
}

/**
 * Follows `id`'s output until the stream ends or `stop` is called;
 * counts lines and the lines the controller said it skipped.
 */
function follow(env: Env, id: string) {
  const ctl = new AbortController();
  const count: ReaderCount = {
    events: 0,
    lines: 0,
    skipped: 0,
    bytes: 0,
    ended: false,
  };
  const done = (async () => {
    const r = await fetch(`${env.cluster.api}/job/${id}/output`, {
      headers: authHeaders(env.cluster.token),
      signal: ctl.signal,
    });
    if (r.status !== 200) {
      throw new Error(`GET /job/${id}/output: ${r.status} ${await r.text()}`);
    }
    for await (const e of readSse(r.body!)) {
      if (e.type === "end") {
        count.ended = true;
        break;
      }
      if (e.type !== "output") continue;
      const o = JSON.parse(e.data) as { text: string; skipped?: number };
      count.events++;
      count.bytes += o.text.length;
      count.skipped += o.skipped ?? 0;
      for (
        let i = o.text.indexOf("\n");
        i >= 0;
        i = o.text.indexOf("\n", i + 1)
      ) {
        count.lines++;
      }
    }
  })().catch((e) => {
    if (!ctl.signal.aborted) throw e;
  });
  return { count, done, stop: () => ctl.abort() };
}

export async function benchStreaming(
  env: Env,
  R: BenchResults,
): Promise<void> {
  const { streamWorkers: n, streamSteps: K, simProcs } = env.opts;
  const prefix = `s${n}`;
  log(
    `streaming N=${n}: enrolling ${n} simulated workers with the bench backend`,
  );
  const base = await onlineNodes(env);
  const g = await startSims(env, "agent", n, prefix, simProcs, "workers", [
    "--stream",
  ]);
  await simsReady(g, 900_000);
  await waitFor(
    `${n} streaming nodes registered`,
    async () => (await onlineNodes(env)) - base >= n,
    900_000,
    50,
  );
  const target = { scope: "group", value: prefix };
  const sims = g.procs.map((p) => p.pid);

  const run = async (name: string, rate: number) => {
    log(
      `  ${name}: ${WARMUP} + ${K} steps of ${STREAM_STEP_MS} ms on all ${n}, ${rate} lines/s each`,
    );
    const cmdFrom = (await lastSeq(env, STREAM_COMMANDS)) + 1;
    const rss = new RssSampler([env.ctlPid, env.natsPid]);
    const cpu = new CpuMeter([env.ctlPid, env.natsPid, ...sims]);
    const t0 = performance.now();
    let reader: ReturnType<typeof follow> | undefined;
    const id = await profiled(env, `streaming-${name}`, R, async () => {
      const { id } = await submit(
        env,
        streamJob(target, WARMUP + K, rate, STREAM_STEP_MS),
      );
      if (rate > 0) reader = follow(env, id);
      const done = await env.watch.wait(id, 1_800_000);
      if (done.status !== "completed") {
        throw new Error(`streaming job ${id} ${done.status}`);
      }
      return id;
    });
    const wallMs = performance.now() - t0;
    const c = cpu.since();
    const peak = rss.stop();
    // The stream ends once the job's last output and status are sent.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      reader?.done,
      new Promise((r) => (timer = setTimeout(r, 30_000))),
    ]);
    clearTimeout(timer);
    reader?.stop();
    await reader?.done;
    const cmdTo = await lastSeq(env, STREAM_COMMANDS);
    const t = await jobTimes(env, id, cmdFrom, "grid.cmd.>", cmdTo);
    const s = stepSeries(t, WARMUP, WARMUP + K);
    const steps = WARMUP + K;
    const out: StreamRun = {
      job: id,
      cycle: stats(s.cycle),
      wallMs,
      cpu: {
        ctl: c.cpu[0]! / steps,
        srv: c.cpu[1]! / steps,
        wrk: c.cpu.slice(2).reduce((a, b) => a + b, 0) / steps,
      },
      ctlCpuPct: (100 * c.cpu[0]!) / c.wall,
      ctlRssMax: peak.get(env.ctlPid) ?? NaN,
      natsRssMax: peak.get(env.natsPid) ?? NaN,
      foreignPct: c.foreignPct,
    };
    log(
      `  ${name}: step p50 ${ms(out.cycle.p50)} ms, controller ${
        out.cpu.ctl.toFixed(0)
      } ms CPU a step, RSS peak ${out.ctlRssMax.toFixed(0)} MiB`,
    );
    return { out, cycles: s.cycle, reader: reader?.count };
  };

  const q1 = await run("quiet", 0);
  const loud = await run("streaming", STREAM_RATE);
  const q2 = await run("quiet-again", 0);
  const reader = loud.reader!;
  const sent = n * (WARMUP + K) * STREAM_RATE * (STREAM_STEP_MS / 1000);
  if (!reader.ended) log(`  the output stream did not end with the job`);
  R.streaming = {
    n,
    rate: STREAM_RATE,
    stepMs: STREAM_STEP_MS,
    steps: K,
    lineBytes: LINE_BYTES,
    quiet: {
      // Both quiet runs as one: drift before and after evens out.
      job: `${q1.out.job} ${q2.out.job}`,
      cycle: stats([...q1.cycles, ...q2.cycles]),
      wallMs: (q1.out.wallMs + q2.out.wallMs) / 2,
      cpu: {
        ctl: (q1.out.cpu.ctl + q2.out.cpu.ctl) / 2,
        srv: (q1.out.cpu.srv + q2.out.cpu.srv) / 2,
        wrk: (q1.out.cpu.wrk + q2.out.cpu.wrk) / 2,
      },
      ctlCpuPct: (q1.out.ctlCpuPct + q2.out.ctlCpuPct) / 2,
      ctlRssMax: Math.max(q1.out.ctlRssMax, q2.out.ctlRssMax),
      natsRssMax: Math.max(q1.out.natsRssMax, q2.out.natsRssMax),
      foreignPct: (q1.out.foreignPct + q2.out.foreignPct) / 2,
    },
    streaming: loud.out,
    reader: { ...reader, sent },
  };
  log(`  stopping ${n} simulated workers`);
  await stopSims(g);
}
