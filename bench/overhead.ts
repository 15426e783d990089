/** Job overhead: single-step jobs one after another, POST to the record `completed`. */
import { echoJob, submit } from "./api.ts";
import type { Env } from "./env.ts";
import { log, stats } from "./lib.ts";
import type { BenchResults } from "./results.ts";

export async function benchOverhead(env: Env, R: BenchResults): Promise<void> {
  const n = env.opts.overheadJobs;
  log(`GRID job overhead: ${n} sequential single-step jobs on one real worker`);
  const total: number[] = [];
  const post: number[] = [];
  for (let i = 0; i < n + 10; i++) {
    const t0 = performance.now();
    const { id, ms: p } = await submit(
      env,
      echoJob({ scope: "node", value: "bench-w1" }, 1),
    );
    const done = await env.watch.wait(id, 60_000);
    if (done.status !== "completed") {
      throw new Error(`job ${id} ${done.status}`);
    }
    if (i < 10) continue; // warm-up
    total.push(done.at - t0);
    post.push(p);
  }
  R.overhead = { total: stats(total), post: stats(post) };
}
