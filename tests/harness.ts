/** Integration-test helpers over the process and cluster helpers in testing/. */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import {
  Cluster,
  type ClusterOptions,
  type ControllerSet,
  type Json,
  stepStarts,
} from "../testing/mod.ts";

export * from "../testing/mod.ts";

/** Starts a cluster, runs `fn`, and always tears it down (dumping logs on failure). */
export async function withCluster(
  opts: ClusterOptions,
  fn: (c: Cluster) => Promise<void>,
): Promise<void> {
  const c = await new Cluster(opts).start();
  try {
    await fn(c);
  } catch (e) {
    console.error(c.dump());
    throw e;
  } finally {
    await c.stop();
  }
}

/**
 * Runs `fn` on a set of controllers and always stops it. On failure it
 * prints the tail of every process's log (every incarnation) and, when
 * GRID_TEST_LOGS names a directory, writes the whole logs there.
 */
export async function withControllers(
  set: ControllerSet,
  fn: (set: ControllerSet) => Promise<void>,
): Promise<void> {
  try {
    await fn(set);
  } catch (e) {
    const js = await set.jetstreamState().catch((e) => `jetstream: ${e}`);
    console.error(`${set.dump()}\n--- JetStream ---\n${js}`);
    const keep = Deno.env.get("GRID_TEST_LOGS");
    if (keep) {
      const dir = join(
        keep,
        `${new Date().toISOString()}-${basename(set.dir)}`,
      );
      await set.stopProcesses();
      Deno.mkdirSync(dir, { recursive: true });
      set.history.forEach((p, i) =>
        Deno.writeTextFileSync(
          join(dir, `${String(i).padStart(2, "0")}-${p.name}.log`),
          p.log.join("\n") + "\n",
        )
      );
      Deno.writeTextFileSync(
        join(dir, "error.txt"),
        `${(e as Error)?.stack ?? e}\n\n${js}\n`,
      );
      console.error(`whole logs in ${dir}`);
    }
    throw e;
  } finally {
    await set.stop();
  }
}

/**
 * Asserts each worker that started any step of `job` started each of its
 * `steps` steps exactly once; and that those workers are `ran` (every
 * worker of the set when not given).
 */
export function assertStartedOnce(
  set: ControllerSet,
  job: string,
  steps: number,
  ran?: string[],
): void {
  let started = [...stepStarts(set, job)];
  if (ran) {
    started = started.filter(([, s]) => s.size > 0);
    assert.deepEqual(started.map(([w]) => w).sort(), [...ran].sort());
  }
  for (const [w, byStep] of started) {
    for (let s = 0; s < steps; s++) {
      const n = byStep.get(s) ?? 0;
      assert.equal(n, 1, `${w} started step ${s} of ${job} ${n} times`);
    }
    assert.equal(
      byStep.size,
      steps,
      `${w} started steps ${[...byStep.keys()]}`,
    );
  }
}

/** Nodes that have a result for any step of a job as the API shows it. */
export function touched(job: Json): string[] {
  const out = new Set<string>();
  for (const step of Object.values(job.results as Record<string, Json>)) {
    for (const n of Object.keys(step)) out.add(n);
  }
  return [...out].sort();
}

/** The node's earliest start and latest finish over every step it ran. */
export function span(job: Json, node: string): { start: number; end: number } {
  const rs = Object.values(job.results as Record<string, Json>)
    .map((step) => step[node])
    .filter((r) => r?.started_at);
  assert.ok(rs.length > 0, `${node} ran nothing`);
  return {
    start: Math.min(...rs.map((r) => Date.parse(r.started_at))),
    end: Math.max(...rs.map((r) => Date.parse(r.finished_at))),
  };
}
