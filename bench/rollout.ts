/**
 * A rollout in batches against the same barrier steps without one. N
 * simulated workers (the real Agent) in a group; each round runs, back to
 * back and in alternating order so drift in the machine's load hits all
 * alike:
 *
 * - rollout: one job of one `ping echo` step on all N with `rollout:
 *   {batch: 10%}`: ten batches, each a barrier step on N/10 nodes;
 * - steps: one job of ten `ping echo` barrier steps on the first N/10
 *   nodes: the same ten barriers of N/10 tasks each, run back to back
 *   with no rollout (the target's baseline);
 * - jobs: ten one-step jobs, each on the next tenth of the nodes, each
 *   submitted when the one before has ended: what an operator does by
 *   hand without rollouts (shown, not judged).
 *
 * What a run costs is its wall time, submit to the record written final,
 * and the CPU of the controller and nats-server meanwhile.
 */
import { waitFor } from "../testing/mod.ts";
import { api, echoJob, onlineNodes, submit } from "./api.ts";
import type { Env } from "./env.ts";
import { CpuMeter, log, ms, simId, stats } from "./lib.ts";
import type { BenchResults, RolloutRun } from "./results.ts";
import { simsReady, startSims, stopSims } from "./sims.ts";

/** Batches a rollout of `batch: 10%` makes, and so steps and jobs of the rest. */
export const ROLLOUT_BATCHES = 10;

type Kind = "rollout" | "steps" | "jobs";

export async function benchRollout(
  env: Env,
  R: BenchResults,
): Promise<void> {
  const { rolloutWorkers: n, rolloutRounds: rounds, simProcs } = env.opts;
  const prefix = `r${n}`;
  const tenth = n / ROLLOUT_BATCHES;
  log(`rollout N=${n}: enrolling ${n} simulated workers`);
  const base = await onlineNodes(env);
  const g = await startSims(env, "agent", n, prefix, simProcs);
  await simsReady(g, 900_000);
  await waitFor(
    `${n} rollout nodes registered`,
    async () => (await onlineNodes(env)) - base >= n,
    900_000,
    50,
  );
  const group = { scope: "group", value: prefix };
  // Sorted ids are the rollout's batch order: tenth i is batch i + 1.
  const nodesOf = (i: number) => ({
    scope: "all",
    selector: `node:${
      Array.from({ length: tenth }, (_, k) => simId(prefix, i * tenth + k))
        .join(",")
    }`,
  });
  const jobs: Record<Kind, () => unknown[]> = {
    rollout: () => [{ ...echoJob(group, 1), rollout: { batch: "10%" } }],
    steps: () => [echoJob(nodesOf(0), ROLLOUT_BATCHES)],
    jobs: () =>
      Array.from({ length: ROLLOUT_BATCHES }, (_, i) => echoJob(nodesOf(i), 1)),
  };
  const sims = g.procs.map((p) => p.pid);
  const walls: Record<Kind, number[]> = { rollout: [], steps: [], jobs: [] };
  const cpu: Record<Kind, { ctl: number; srv: number; wrk: number }[]> = {
    rollout: [],
    steps: [],
    jobs: [],
  };
  let lastId = "";
  const run = async (kind: Kind) => {
    const meter = new CpuMeter([env.ctlPid, env.natsPid, ...sims]);
    const t0 = performance.now();
    let end = t0;
    for (const job of jobs[kind]()) {
      const { id } = await submit(env, job);
      const done = await env.watch.wait(id, 600_000);
      if (done.status !== "completed") {
        throw new Error(`rollout bench: ${kind} job ${id} ${done.status}`);
      }
      end = done.at;
      lastId = id;
    }
    const c = meter.since();
    walls[kind].push(end - t0);
    cpu[kind].push({
      ctl: c.cpu[0]!,
      srv: c.cpu[1]!,
      wrk: c.cpu.slice(2).reduce((a, b) => a + b, 0),
    });
  };
  // One of each first, unmeasured: the first job on fresh workers warms up.
  log(`  warm-up: one run of each`);
  for (const kind of ["steps", "rollout", "jobs"] as const) {
    await run(kind);
    walls[kind].length = 0;
    cpu[kind].length = 0;
    if (kind === "rollout") await checkBatches(env, lastId);
  }
  const foreign = new CpuMeter([]);
  for (let r = 0; r < rounds; r++) {
    const order: Kind[] = r % 2 === 0
      ? ["steps", "rollout", "jobs"]
      : ["jobs", "rollout", "steps"];
    for (const kind of order) await run(kind);
    log(
      `  round ${r + 1}/${rounds}: rollout ${ms(walls.rollout.at(-1))} ms, ` +
        `ten steps ${ms(walls.steps.at(-1))} ms, ten jobs ${
          ms(walls.jobs.at(-1))
        } ms`,
    );
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const result = (kind: Kind): RolloutRun => ({
    wall: stats(walls[kind]),
    cpu: {
      ctl: mean(cpu[kind].map((c) => c.ctl)),
      srv: mean(cpu[kind].map((c) => c.srv)),
      wrk: mean(cpu[kind].map((c) => c.wrk)),
    },
  });
  R.rollout = {
    n,
    batches: ROLLOUT_BATCHES,
    rounds,
    rollout: result("rollout"),
    steps: result("steps"),
    jobs: result("jobs"),
    foreignPct: foreign.since().foreignPct,
  };
  log(`  stopping ${n} simulated workers`);
  await stopSims(g);
}

/** A rollout that did not run its ten batches would measure something else. */
async function checkBatches(env: Env, id: string): Promise<void> {
  const r = await api(env, "GET", `/job/${id}?outputs=false`);
  const got = r.json?.rollout_status;
  if (got?.batches !== ROLLOUT_BATCHES || got?.batch !== ROLLOUT_BATCHES) {
    throw new Error(
      `rollout bench: job ${id} ran batch ${got?.batch} of ${got?.batches}, not ${ROLLOUT_BATCHES} of ${ROLLOUT_BATCHES}`,
    );
  }
}
