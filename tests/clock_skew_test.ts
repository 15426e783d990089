/**
 * A worker whose clock runs fast: its results say they finished in the
 * future. The controller judges time by the server's clock, so the
 * node stays online, a retry waits its backoff and not the skew, and the
 * times shown are the server's.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { withCluster } from "./harness.ts";
import { skewedArgs } from "../scripts/soak/clock_skew.ts";

const SKEW_MS = 10 * 60_000;

Deno.test("clock skew: a worker 10 minutes fast retries after its backoff, and its times are the server's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-skew-" });
  try {
    const fast = {
      id: "fast",
      permissions: skewedArgs(join(dir, "preload"), {
        id: "fast",
        skewMs: SKEW_MS,
      }, ["-P=worker"]),
    };
    await withCluster({ workers: [fast] }, async (c) => {
      const before = Date.now();
      const id = await c.submit({
        tasks: [{
          backend: "test",
          action: "fail",
          params: { message: "always" },
          max_retries: 1,
        }],
      });
      // Attempt 2 is due a second after attempt 1 failed; timed from the
      // worker's clock it would be due in 10 minutes.
      const job = await c.waitJob(id, 20_000);
      const r = job.results["0"]["fast"];
      assert.equal(job.status, "failed");
      assert.equal(r.attempts ?? r.attempt, 2, JSON.stringify(r));
      const finished = Date.parse(r.finished_at);
      assert.ok(
        finished >= before - 1000 && finished <= Date.now() + 1000,
        `finished_at ${r.finished_at} is not on the server's clock`,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
