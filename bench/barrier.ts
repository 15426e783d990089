/**
 * Barrier fan-out: one job of many steps on N simulated workers (a group),
 * against raw fan-out (b), one command to each of N raw workers a step, in
 * the same processes. Raw, GRID, raw again, so drift in the machine's load
 * hits both alike.
 */
import { sleep, waitFor } from "../testing/mod.ts";
import { STREAM_COMMANDS } from "../lib/topology.ts";
import { echoJob, onlineNodes, submit } from "./api.ts";
import type { Env } from "./env.ts";
import { CpuMeter, log, memMiB, ms, RssSampler, stats } from "./lib.ts";
import { profiled } from "./profile.ts";
import type { RawBench } from "./raw.ts";
import type { BarrierResult, BenchResults } from "./results.ts";
import { simsReady, startSims, stopSims } from "./sims.ts";
import { jobTimes, lastSeq, stepSeries } from "./streams.ts";

export async function benchBarrier(
  env: Env,
  raw: RawBench,
  n: number,
  R: BenchResults,
): Promise<void> {
  const { barrierSteps: K, barrierWarmup: W, simProcs } = env.opts;
  const half = Math.ceil(K / 2);

  // One set of processes for both: per index, a GRID worker (enrolled,
  // the real Agent) and a raw worker, each on a connection of its own.
  log(
    `barrier N=${n}: enrolling ${n} simulated workers, minting ${n} raw workers`,
  );
  const base = await onlineNodes(env);
  const rss = new RssSampler([env.ctlPid, env.natsPid]);
  const g = await startSims(env, "both", n, `b${n}`, simProcs);
  log(
    `  enrolled in ${ms(g.enrollMs)} ms, raw users minted in ${
      ms(g.mintMs)
    } ms; starting them in ${simProcs} processes`,
  );
  const connectMs = await simsReady(g, 900_000, "connected");
  let online = 0;
  const regMs = await waitFor(
    `${n} nodes registered`,
    async () => {
      online = (await onlineNodes(env)) - base;
      return online >= n ? performance.now() - g.spawnedAt : false;
    },
    900_000,
    50,
  ).catch((e) => {
    throw new Error(
      `${e.message} (${online}/${n} online)\n${
        g.procs.map((p) => p.tail()).join("\n")
      }`,
    );
  });
  const agentsMs = await simsReady(g, 600_000);
  const regPeak = rss.stop();
  const rawReady = await Promise.all(
    g.procs.map((p) => p.waitEvent((e) => e.event === "raw", 900_000)),
  );
  const rawConnectMs = Math.max(...rawReady.map((e) => Number(e.ms)));
  // Peaks apart: raw phases make the controller read (and drop) N raw
  // results a step, which is not GRID's job.
  const rawRss = new RssSampler([env.ctlPid, env.natsPid]);
  log(
    `  connected in ${ms(connectMs)} ms, all registered in ${
      ms(regMs)
    } ms, raw workers connected in ${ms(rawConnectMs)} ms; measuring idle CPU`,
  );
  await sleep(1000);
  const idle = new CpuMeter([env.ctlPid, env.natsPid]);
  await sleep(env.opts.smoke ? 1000 : 5000);
  const ic = idle.since();
  const sims = g.procs.map((p) => p.pid);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

  // Raw, GRID, raw again: drift in the machine's load hits both alike. The
  // controller is metered too: it reads the raw results in GRID_RES.
  const rawMeter = () =>
    new CpuMeter([env.natsPid, Deno.pid, env.ctlPid, ...sims]);
  log(`  raw fan-out (b): ${W} + ${half} steps of ${n} commands`);
  const rc1 = rawMeter();
  const r1 = await raw.fanout(g.rawIds, W, half);
  const c1 = rc1.since();

  log(`  GRID job: ${W} + ${K} steps on all ${n}`);
  const rawPeak1 = rawRss.stop();
  const jobRss = new RssSampler([env.ctlPid, env.natsPid]);
  const cmdFrom = (await lastSeq(env, STREAM_COMMANDS)) + 1;
  const cpu = new CpuMeter([env.natsPid, env.ctlPid, ...sims]);
  const t0 = performance.now();
  const done = await profiled(env, `barrier-${n}`, R, async () => {
    const { id } = await submit(
      env,
      echoJob({ scope: "group", value: `b${n}` }, W + K),
    );
    return { id, ...(await env.watch.wait(id, 1_800_000)) };
  });
  const wall = performance.now() - t0;
  const c = cpu.since();
  if (done.status !== "completed") {
    throw new Error(`barrier job ${done.id} ${done.status}`);
  }
  const cmdTo = await lastSeq(env, STREAM_COMMANDS);
  const peak = jobRss.stop();
  const rawRss2 = new RssSampler([env.ctlPid, env.natsPid]);

  log(`  raw fan-out (b): 1 + ${K - half} steps of ${n} commands`);
  const rc2 = rawMeter();
  const r2 = await raw.fanout(g.rawIds, 1, K - half);
  const c2 = rc2.since();
  const rawPeak2 = rawRss2.stop();
  const ctlAfter = memMiB(env.ctlPid);
  const wrkRss = g.procs.map((p) => memMiB(p.pid).rss);

  const rawSteps = W + half + 1 + (K - half);
  const rawCpu = (i: number) => (c1.cpu[i]! + c2.cpu[i]!) / rawSteps;
  const res: BarrierResult = {
    n,
    setup: {
      enrollMs: g.enrollMs ?? NaN,
      mintMs: g.mintMs ?? NaN,
      rawConnectMs,
    },
    raw: {
      cycle: stats([...r1.cycle, ...r2.cycle]),
      direct: stats([...r1.direct, ...r2.direct]),
      cpu: {
        srv: rawCpu(0),
        ctl: rawCpu(1),
        wrk: (sum(c1.cpu.slice(3)) + sum(c2.cpu.slice(3))) / rawSteps,
      },
      gridCtlCpu: rawCpu(2),
      foreignPct: (c1.foreignPct + c2.foreignPct) / 2,
    },
  } as BarrierResult;
  R.barrier.push(res);

  log(
    `  job done in ${ms(wall)} ms; reading its ${
      n * (W + K)
    } results and commands back`,
  );
  const t = await jobTimes(env, done.id, cmdFrom, "grid.cmd.>", cmdTo);
  const s = stepSeries(t, W, W + K);
  const per = (x: number) => x / (W + K);
  res.grid = {
    job: done.id,
    connectMs,
    regMs,
    agentsReadyMs: agentsMs,
    cycle: stats(s.cycle),
    react: stats(s.react),
    spread: stats(s.spread),
    tail: stats(s.tail),
    wallMs: wall,
    cpu: {
      srv: per(c.cpu[0]!),
      ctl: per(c.cpu[1]!),
      wrk: per(sum(c.cpu.slice(2))),
    },
    foreignPct: c.foreignPct,
    idlePct: {
      ctl: (100 * ic.cpu[0]!) / ic.wall,
      srv: (100 * ic.cpu[1]!) / ic.wall,
    },
    ctlRssMax: Math.max(
      regPeak.get(env.ctlPid) ?? NaN,
      peak.get(env.ctlPid) ?? NaN,
    ),
    ctlRssReg: regPeak.get(env.ctlPid) ?? NaN,
    ctlRssRaw: Math.max(
      rawPeak1.get(env.ctlPid) ?? NaN,
      rawPeak2.get(env.ctlPid) ?? NaN,
    ),
    ctlRssJob: peak.get(env.ctlPid) ?? NaN,
    ctlRssAfter: ctlAfter.rss,
    natsRssMax: Math.max(
      ...[regPeak, rawPeak1, peak, rawPeak2].map((m) =>
        m.get(env.natsPid) ?? NaN
      ),
    ),
    wrkRss,
    results: t.results,
    commands: t.commands,
  };
  log(`  stopping ${n} simulated workers`);
  const t1 = performance.now();
  await stopSims(g);
  res.grid.stopMs = performance.now() - t1;
}
