/**
 * Rollouts on a real fleet of six workers: the canary pauses until resumed
 * through the API, batches run one after another, a spent failure budget
 * stops new batches, and an offline node is skipped.
 */
import assert from "node:assert/strict";
import { span, touched, waitFor, withCluster } from "./harness.ts";
import { batchesOf } from "../controller/rollout.ts";

const FLEET = ["w1", "w2", "w3", "w4", "w5", "w6"].map((id) => ({ id }));

Deno.test("rollout: canary, resume, batches in order, failure budget, offline nodes", async (t) => {
  await withCluster({ workers: FLEET }, async (c) => {
    await t.step(
      "the canary pauses until resumed through the API; batches run in order",
      async () => {
        const rollout = { batch: 2, canary: 1 };
        const id = await c.submit({
          rollout,
          tasks: [
            { backend: "test", action: "succeed", params: { delay: "200ms" } },
            { backend: "test", action: "succeed" },
          ],
        });
        const early = await c.request("POST", `/job/${id}/resume`);
        assert.equal(early.status, 409, "not paused while the canary runs");
        assert.match(early.json.error, /not paused for approval/);

        const paused = await waitFor(
          "the canary to pause",
          async () => {
            const j = await c.job(id);
            return j.rollout_status?.paused ? j : undefined;
          },
          20_000,
        );
        assert.equal(paused.status, "running");
        assert.deepEqual(touched(paused), ["w1"], "only the canary ran");
        assert.equal(paused.rollout_status.batch, 1);
        assert.equal(paused.rollout_status.batches, 4);
        assert.deepEqual(paused.rollout_status.progress[0], {
          nodes: 1,
          done: 1,
          failed: 0,
          pending: 0,
        });
        // Paused means paused: nothing else runs meanwhile. (Absence has no
        // condition to wait on; a second is many batches' worth of time here.)
        await new Promise((r) => setTimeout(r, 1000));
        assert.deepEqual(touched(await c.job(id)), ["w1"]);

        const resumedAt = Date.now();
        const r = await c.request("POST", `/job/${id}/resume`);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.rollout_status.paused, undefined);
        const job = await c.waitJob(id, 30_000);
        assert.equal(job.status, "completed");
        assert.deepEqual(touched(job), FLEET.map((w) => w.id));

        const batches = batchesOf(job.expected, rollout);
        assert.deepEqual(batches, [["w1"], ["w2", "w3"], ["w4", "w5"], ["w6"]]);
        assert.ok(
          span(job, "w2").start >= resumedAt - 50,
          "batch 2 after resume",
        );
        for (let k = 1; k < batches.length; k++) {
          const prevEnd = Math.max(
            ...batches[k - 1]!.map((n) => span(job, n).end),
          );
          const start = Math.min(...batches[k]!.map((n) => span(job, n).start));
          assert.ok(
            start >= prevEnd,
            `batch ${k + 1} started ${
              start - prevEnd
            }ms before batch ${k} ended`,
          );
        }
        assert.equal(job.rollout_status.batch, 4);
        assert.equal(
          (await c.request("POST", `/job/${id}/resume`)).status,
          409,
          "a finished job cannot be resumed",
        );
        assert.equal(
          (await c.request("POST", "/job/nosuchjob/resume")).status,
          404,
        );
      },
    );

    await t.step(
      "a spent failure budget stops new batches; the batch's cleanup runs",
      async () => {
        const id = await c.submit({
          strategy: "continue",
          rollout: { batch: 2, max_failures: 1 },
          tasks: [
            { backend: "test", action: "fail", params: { nodes: "w2,w3" } },
            { backend: "test", action: "succeed", condition: "on_failure" },
          ],
        });
        const job = await c.waitJob(id, 30_000);
        assert.equal(job.status, "failed");
        assert.match(
          job.error,
          /^failure budget spent: 2 of 6 nodes failed, at most 1 may/,
        );
        assert.deepEqual(
          touched(job),
          ["w1", "w2", "w3", "w4"],
          "batch 3 never ran",
        );
        assert.equal(
          job.results["1"]["w3"].status,
          "success",
          "w3's cleanup ran",
        );
        assert.equal(job.results["1"]["w4"].status, "skipped");
        assert.equal(job.rollout_status.batch, 2);
        assert.equal(job.rollout_status.failed, 2);
        assert.equal(job.rollout_status.max_failures, 1);
        assert.match(job.rollout_status.stopped, /failure budget spent/);
        assert.deepEqual(job.rollout_status.progress[2], {
          nodes: 2,
          done: 0,
          failed: 0,
          pending: 2,
        });
      },
    );

    await t.step(
      "an offline node is skipped: in no batch, not in the budget",
      async () => {
        await c.workers.get("w6")!.stop();
        await waitFor(
          "w6 offline",
          async () =>
            (await c.nodes()).some((n) =>
              n.id === "w6" && n.status === "offline"
            ),
          20_000,
        );
        const id = await c.submit({
          strategy: "continue",
          rollout: { batch: "40%", max_failures: "50%" },
          tasks: [{ backend: "test", action: "succeed" }],
        });
        const job = await c.waitJob(id, 30_000);
        assert.equal(job.status, "completed");
        assert.deepEqual(job.offline, ["w6"]);
        assert.deepEqual(touched(job), ["w1", "w2", "w3", "w4", "w5"]);
        assert.equal(
          job.rollout_status.batches,
          3,
          "40% of 5 online nodes is 2",
        );
        assert.equal(
          job.rollout_status.max_failures,
          2,
          "50% of 5, rounded down",
        );
      },
    );
  });
});
