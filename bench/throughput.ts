/**
 * Throughput: single-step jobs POSTed by 32 concurrent clients, each for
 * one of a few simulated workers, until the last record is `completed`.
 */
import { waitFor } from "../testing/mod.ts";
import { echoJob, onlineNodes, submit } from "./api.ts";
import type { Env } from "./env.ts";
import { CpuMeter, log, pool, RssSampler } from "./lib.ts";
import { profiled } from "./profile.ts";
import type { BenchResults } from "./results.ts";
import { simsReady, startSims, stopSims } from "./sims.ts";

export async function benchThroughput(
  env: Env,
  R: BenchResults,
): Promise<void> {
  const { jobs, tputWorkers } = env.opts;
  log(
    `throughput: ${jobs} single-step jobs through the API to ${tputWorkers} workers`,
  );
  const base = await onlineNodes(env);
  const g = await startSims(env, "agent", tputWorkers, "tput", 1);
  await simsReady(g, 120_000);
  await waitFor(
    "throughput workers",
    async () => (await onlineNodes(env)) >= base + tputWorkers,
    60_000,
    50,
  );
  const cpu = new CpuMeter([
    env.ctlPid,
    env.natsPid,
    ...g.procs.map((p) => p.pid),
  ]);
  const rss = new RssSampler([env.ctlPid, env.natsPid]);
  const ids: string[] = [];
  let retries = 0;
  const t0 = performance.now();
  let submitted = 0;
  await profiled(env, "throughput", R, async () => {
    await pool(Array.from({ length: jobs }, (_, i) => i), 32, async (i) => {
      const r = await submit(
        env,
        echoJob({ scope: "node", value: g.ids[i % tputWorkers] }, 1),
      );
      ids.push(r.id);
      retries += r.retries;
    });
    submitted = performance.now() - t0;
    for (const id of ids) await env.watch.wait(id, 300_000);
  });
  const end = Math.max(...ids.map((id) => env.watch.done.get(id)!.at));
  const failed =
    ids.filter((id) => env.watch.done.get(id)!.status !== "completed").length;
  const c = cpu.since();
  const peak = rss.stop();
  await stopSims(g);
  R.throughput = {
    jobs,
    workers: tputWorkers,
    seconds: (end - t0) / 1000,
    jobsPerSec: jobs / ((end - t0) / 1000),
    submitPerSec: jobs / (submitted / 1000),
    retries429: retries,
    failed,
    cpuMsPerJob: {
      ctl: c.cpu[0]! / jobs,
      srv: c.cpu[1]! / jobs,
      wrk: c.cpu[2]! / jobs,
    },
    ctlRssMax: peak.get(env.ctlPid) ?? NaN,
  };
}
