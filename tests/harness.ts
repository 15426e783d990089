/** Integration-test helpers over the local cluster launcher. */
import { Cluster, type ClusterOptions } from "../scenarios/cluster.ts";

export * from "../scenarios/cluster.ts";

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
