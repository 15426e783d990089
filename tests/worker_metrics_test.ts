/**
 * A real worker serving `worker.metrics`: after it ran a job, its scrape
 * shows the task, the outcome it reported and the output it streamed.
 */
import assert from "node:assert/strict";
import { freePorts, waitFor, withCluster } from "./harness.ts";

Deno.test("worker.metrics: a real worker's scrape moves when it runs a job", async () => {
  const [port] = freePorts(1);
  const url = `http://127.0.0.1:${port}/metrics`;
  await withCluster({
    workers: [{ id: "w1", extra: `  metrics: 127.0.0.1:${port}\n` }],
  }, async (c) => {
    const scrape = async () => {
      const r = await fetch(url);
      assert.equal(r.status, 200);
      return new Set((await r.text()).split("\n"));
    };
    const before = await scrape();
    assert.ok(before.has("grid_worker_nats_connected 1"));
    assert.ok(before.has("grid_worker_results_reported_total 0"));
    const id = await c.submit({
      target: { scope: "node", value: "w1" },
      tasks: [{
        backend: "test",
        action: "stream",
        params: { lines: "3", interval: "50ms" },
      }],
    });
    assert.equal((await c.waitJob(id)).status, "completed");
    // The scrape may come before the acknowledgement reaches the worker.
    let after = new Set<string>();
    await waitFor("the result counted", async () => {
      after = await scrape();
      return after.has("grid_worker_results_reported_total 1");
    }, 10_000);
    for (
      const line of [
        'grid_worker_tasks_total{backend="test",action="stream",outcome="success"} 1',
        'grid_worker_task_duration_seconds_bucket{le="+Inf"} 1',
        "grid_worker_commands_received_total 1",
        "grid_worker_tasks_running 0",
        "grid_worker_output_bytes_total 36", // "line i of 3\n" × 3
        "grid_worker_output_chunks_dropped_total 0",
        "grid_worker_nats_connected 1",
      ]
    ) assert.ok(after.has(line), `${line}\n---\n${[...after].join("\n")}`);
  });
  // Stopped with the worker: nothing listens there any more.
  await assert.rejects(fetch(url));
});
