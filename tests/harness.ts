/** Integration-test helpers over the process and cluster helpers in testing/. */
import { basename, join } from "node:path";
import {
  Cluster,
  type ClusterOptions,
  type ControllerSet,
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
