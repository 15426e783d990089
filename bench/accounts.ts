/**
 * What NATS credentials and the two accounts cost, on the raw floor alone:
 * the raw baselines of raw.ts with their workers as users of the WORKERS
 * account (their own subjects only; commands and results cross GRID's
 * exports, as in every other figure) against the same with their workers
 * as users of the GRID account allowed everything (one account, nothing
 * crossed, nothing checked: how every client connected before NATS asked
 * for credentials). Same server, same run, interleaved WORKERS, GRID,
 * GRID, WORKERS so a drift in the machine's load hits both alike.
 *
 * N = 1 is raw step (a), one command to one worker at a time; the other
 * sizes are raw fan-out (b) at the barrier sizes.
 */
import type { Env } from "./env.ts";
import { CpuMeter, log, stats } from "./lib.ts";
import type { RawBench, RawRun } from "./raw.ts";
import type { BenchResults, RawFloor } from "./results.ts";
import { type SimGroup, simsReady, startSims, stopSims } from "./sims.ts";

interface Part {
  run: RawRun;
  cpu: number[];
  steps: number;
}

export async function benchAccounts(
  env: Env,
  raw: RawBench,
  R: BenchResults,
): Promise<void> {
  const o = env.opts;
  for (const n of [1, ...o.sizes]) {
    const steps = n === 1 ? o.steps : o.barrierSteps;
    const warm = n === 1 ? o.stepWarmup : o.barrierWarmup;
    const half = Math.ceil(steps / 2);
    const procs = n === 1 ? 1 : o.simProcs;
    log(`accounts N=${n}: ${n} raw workers in WORKERS, ${n} in GRID`);
    const w = await startSims(env, "raw", n, `aw${n}`, procs);
    const g = await startSims(env, "raw", n, `ag${n}`, procs, "grid");
    try {
      await simsReady(w, 900_000, "raw");
      await simsReady(g, 900_000, "raw");
      const part = async (
        s: SimGroup,
        warmup: number,
        k: number,
      ): Promise<Part> => {
        const meter = new CpuMeter([
          env.natsPid,
          Deno.pid,
          env.ctlPid,
          ...s.procs.map((p) => p.pid),
        ]);
        const run = await raw.fanout(s.rawIds, warmup, k);
        return { run, cpu: meter.since().cpu, steps: warmup + k };
      };
      log(`  ${warm} + ${half} steps each, then 1 + ${steps - half}`);
      const w1 = await part(w, warm, half);
      const g1 = await part(g, warm, half);
      const g2 = await part(g, 1, steps - half);
      const w2 = await part(w, 1, steps - half);
      (R.accounts ??= []).push({
        n,
        workers: floorOf(w1, w2),
        grid: floorOf(g1, g2),
      });
    } finally {
      await stopSims(w);
      await stopSims(g);
    }
  }
}

function floorOf(a: Part, b: Part): RawFloor {
  const steps = a.steps + b.steps;
  const per = (i: number) => (a.cpu[i]! + b.cpu[i]!) / steps;
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  return {
    cycle: stats([...a.run.cycle, ...b.run.cycle]),
    direct: stats([...a.run.direct, ...b.run.direct]),
    cpu: {
      srv: per(0),
      ctl: per(1),
      wrk: (sum(a.cpu.slice(3)) + sum(b.cpu.slice(3))) / steps,
    },
    gridCtlCpu: per(2),
    foreignPct: (a.run.foreignPct + b.run.foreignPct) / 2,
  };
}
