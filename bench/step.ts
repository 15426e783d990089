/**
 * Single-node step: one job of many `ping echo` steps on one real worker,
 * against raw step (a), one command to one raw worker at a time. Raw,
 * GRID, raw again, so drift in the machine's load hits both alike.
 */
import { STREAM_COMMANDS } from "../lib/topology.ts";
import { echoJob, submit } from "./api.ts";
import type { Env } from "./env.ts";
import { CpuMeter, log, stats } from "./lib.ts";
import { profiled } from "./profile.ts";
import type { RawBench } from "./raw.ts";
import type { BenchResults } from "./results.ts";
import { simsReady, startSims, stopSims } from "./sims.ts";
import { jobTimes, lastSeq, stepSeries } from "./streams.ts";

export async function benchStep(
  env: Env,
  raw: RawBench,
  R: BenchResults,
): Promise<void> {
  const { steps, stepWarmup: warm } = env.opts;
  const half = Math.ceil(steps / 2);
  // Raw, GRID, raw again: drift in the machine's load hits both alike.
  log(`raw step (a): ${warm} + ${half} sequential commands to one raw worker`);
  const g = await startSims(env, "raw", 1, "step", 1);
  await simsReady(g, 60_000, "raw");
  const rawId = g.rawIds[0]!;
  const r1 = await raw.step(rawId, warm, half);

  log(
    `GRID step: one job of ${warm} + ${steps} ping echo steps on one real worker`,
  );
  const cmdFrom = (await lastSeq(env, STREAM_COMMANDS)) + 1;
  const cpu = new CpuMeter([env.ctlPid, env.natsPid, env.workerPid]);
  const t0 = performance.now();
  const id = await profiled(env, "step", R, async () => {
    const { id } = await submit(
      env,
      echoJob({ scope: "node", value: "bench-w1" }, warm + steps),
    );
    const done = await env.watch.wait(id, 600_000);
    if (done.status !== "completed") {
      throw new Error(`step job ${id} ${done.status}`);
    }
    return id;
  });
  const wall = performance.now() - t0;
  const c = cpu.since();

  log(`raw step (a): 1 + ${steps - half} more`);
  const r2 = await raw.step(rawId, 1, steps - half);
  await stopSims(g);
  R.rawStep = {
    cycle: stats([...r1.cycle, ...r2.cycle]),
    direct: stats([...r1.direct, ...r2.direct]),
    foreignPct: (r1.foreignPct + r2.foreignPct) / 2,
  };

  const t = await jobTimes(env, id, cmdFrom, "grid.cmd.bench-w1");
  const s = stepSeries(t, warm, warm + steps);
  const n = warm + steps;
  R.gridStep = {
    job: id,
    cycle: stats(s.cycle),
    react: stats(s.react),
    worker: stats(s.tail),
    wallMs: wall,
    perStepWallMs: wall / n,
    cpuPerStep: { ctl: c.cpu[0]! / n, srv: c.cpu[1]! / n, wrk: c.cpu[2]! / n },
    foreignPct: c.foreignPct,
  };
}
