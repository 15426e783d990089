/**
 * History: finished jobs seeded up to a count (through the API, or with
 * --history-seed=direct straight into the store: history_seed.ts), then
 * GET /jobs and GET /job/:id timed against that store; then the controller
 * is restarted on it: its start-up time, its RSS, and the same reads again.
 */
import { waitFor } from "../testing/mod.ts";
import { api, echoJob, onlineNodes, submit } from "./api.ts";
import { type Env, restartController } from "./env.ts";
import { seedDirect } from "./history_seed.ts";
import { log, memMiB, pool, stats } from "./lib.ts";
import { profiled } from "./profile.ts";
import type { BenchResults } from "./results.ts";
import { simsReady, startSims, stopSims } from "./sims.ts";

/**
 * Single-step jobs run through the API on 4 simulated workers: their ids
 * and the seconds from the first POST to the last job finished.
 */
async function seedApi(
  env: Env,
  need: number,
): Promise<{ ids: string[]; sec: number }> {
  const base = await onlineNodes(env);
  const g = await startSims(env, "agent", 4, "hist", 1);
  await simsReady(g, 120_000);
  await waitFor(
    "history workers",
    async () => (await onlineNodes(env)) >= base + 4,
    60_000,
    50,
  );
  const ids: string[] = [];
  const t0 = performance.now();
  await pool(Array.from({ length: need }, (_, i) => i), 64, async (i) => {
    const r = await submit(
      env,
      echoJob({ scope: "node", value: g.ids[i % 4] }, 1),
    );
    ids.push(r.id);
  });
  for (const id of ids) await env.watch.wait(id, 600_000);
  const sec = (performance.now() - t0) / 1000;
  await stopSims(g);
  return { ids, sec };
}

/**
 * Where a restart's time went, from the controller's own log lines (their
 * timestamps): its nats-server up (store recovered), the job records read
 * (the checkpoint and the records written since), the API answering.
 */
function startupPhases(lines: string[], startupMs: number): void {
  const end = Date.now();
  const spawned = end - startupMs;
  const at = (what: string) => {
    const l = lines.findLast((l) => l.includes(what));
    const t = l ? Date.parse(l.split(" ")[0]!) : NaN;
    return {
      l,
      s: Number.isFinite(t) ? ((t - spawned) / 1000).toFixed(2) : "?",
    };
  };
  const nats = at("nats-server ready");
  const jobs = at("job records read");
  const detail = / (from_checkpoint=.*)$/.exec(jobs.l ?? "")?.[1] ?? "";
  log(
    `history: start-up ${
      (startupMs / 1000).toFixed(2)
    } s: nats-server ready at ${nats.s} s, job records read at ${jobs.s} s (${detail}), API at ${
      (startupMs / 1000).toFixed(2)
    } s`,
  );
}

export async function benchHistory(env: Env, R: BenchResults): Promise<void> {
  const target = env.opts.history;
  const finished = () =>
    api(env, "GET", "/status").then((r) => {
      const j = r.json.jobs as Record<string, number>;
      return (j.completed ?? 0) + (j.failed ?? 0) + (j.cancelled ?? 0);
    });
  const have = await finished();
  const need = Math.max(0, target - have);
  const direct = env.opts.historySeed === "direct";
  log(
    `history: ${have} finished jobs stored; seeding ${need} more single-step jobs ${
      direct ? "straight into the store" : "through the API"
    }`,
  );
  const { ids, sec: seedSec } = direct
    ? await seedDirect(env, need)
    : await seedApi(env, need);
  const t0 = performance.now();
  // Measured once the controller has taken in every record written.
  await waitFor(
    "the controller to count every seeded job",
    async () => (await finished()) >= have + need,
    600_000,
    250,
  );
  log(
    `history: seeded in ${seedSec.toFixed(1)} s; the controller counted them ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s later`,
  );
  const stored = await finished();

  const sample = async (paths: () => string, count: number) => {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < count + 20; i++) {
      const r = await api(env, "GET", paths());
      if (r.status !== 200) throw new Error(`GET ${paths()}: ${r.status}`);
      if (i >= 20) times.push(r.ms);
      bytes = r.bytes;
    }
    return { ...stats(times), bytes };
  };
  log(
    `history: timing GET /jobs and GET /job/:id with ${stored} finished jobs`,
  );
  const sampleIds = ids.length ? ids : [...env.watch.done.keys()];
  const list = await sample(() => "/jobs", env.opts.httpSamples);
  const one = await profiled(
    env,
    "get-job",
    R,
    () =>
      sample(
        () => `/job/${sampleIds[Math.floor(Math.random() * sampleIds.length)]}`,
        env.opts.httpSamples,
      ),
  );
  const ctlRss = memMiB(env.ctlPid).rss;
  // One read of the largest barrier job, for scale (not a target).
  const big = R.barrier.at(-1)?.grid;
  let bigJob: NonNullable<BenchResults["history"]>["bigJob"];
  if (big) {
    const r = await api(env, "GET", `/job/${big.job}`).catch((e) => {
      log(`GET /job/${big.job} of the big barrier job failed: ${e}`);
      return undefined;
    });
    if (r?.status === 200) {
      bigJob = {
        n: R.barrier.at(-1)!.n,
        results: big.results,
        ms: r.ms,
        bytes: r.bytes,
      };
    }
  }
  // A controller started on this store: how long until its API answers,
  // its memory then, and the same reads with nothing cached before.
  let restart: NonNullable<BenchResults["history"]>["restart"];
  if (!env.inspector) {
    log(`history: restarting the controller on ${stored} finished jobs`);
    const startupMs = await restartController(env);
    startupPhases(env.cluster.controller?.log ?? [], startupMs);
    const rss = memMiB(env.ctlPid).rss;
    const list = await sample(() => "/jobs", env.opts.httpSamples);
    const one = await sample(
      () => `/job/${sampleIds[Math.floor(Math.random() * sampleIds.length)]}`,
      env.opts.httpSamples,
    );
    restart = { startupMs, rss, list, one, rssAfter: memMiB(env.ctlPid).rss };
  }
  R.history = {
    stored,
    seedMode: env.opts.historySeed,
    seeded: need,
    seedSec,
    seedJobsPerSec: need / seedSec,
    list,
    one,
    bigJob,
    ctlRss,
    restart,
  };
}
