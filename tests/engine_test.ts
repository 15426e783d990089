/**
 * End to end through real processes: a controller with its nats-server and
 * three workers. Barrier and pipeline execution, strategies, conditions,
 * retries and the shape of what the API returns.
 */
import assert from "node:assert/strict";
import { withCluster } from "./harness.ts";

const FLEET = [
  { id: "web-01", groups: ["web", "prod"] },
  { id: "web-02", groups: ["web", "prod"] },
  { id: "db-01", groups: ["db", "prod"] },
];

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

Deno.test("engine: jobs run across a real fleet", async (t) => {
  await withCluster({ workers: FLEET }, async (c) => {
    await t.step(
      "a barrier job completes with full per-node results",
      async () => {
        const id = await c.submit({
          target: { scope: "group", value: "web" },
          tasks: [
            { backend: "ping", action: "echo", params: { message: "hello" } },
            { backend: "ping", action: "hostname" },
          ],
        });
        const job = await c.waitJob(id);
        assert.equal(job.status, "completed", JSON.stringify(job));
        assert.deepEqual(job.expected, ["web-01", "web-02"]);
        assert.deepEqual(job.offline, []);
        assert.equal(job.step, 1);
        assert.deepEqual(Object.keys(job.results), ["0", "1"]);
        for (const node of ["web-01", "web-02"]) {
          const r = job.results["0"][node];
          assert.equal(r.status, "success");
          assert.equal(r.output, "hello");
          assert.equal(r.attempts, 1);
          assert.match(r.duration, /^\d+(\.\d+)?(µs|ms|s)$/);
          assert.match(r.started_at, ISO);
          assert.match(r.finished_at, ISO);
          // Barrier: step 1 starts on no node before step 0 ended on every node.
          const lastEnd = Math.max(
            ...["web-01", "web-02"].map((n) =>
              Date.parse(job.results["0"][n].finished_at)
            ),
          );
          assert.ok(Date.parse(job.results["1"][node].started_at) >= lastEnd);
        }
        assert.match(job.created_at, ISO);
        assert.match(job.updated_at, ISO);
      },
    );

    await t.step(
      "a pipeline lets each node advance on its own, then a barrier",
      async () => {
        const id = await c.submit({
          target: { scope: "group", value: "prod" },
          tasks: [
            {
              tasks: [
                {
                  backend: "test",
                  action: "succeed",
                  params: { delay: "10ms" },
                },
                {
                  backend: "ping",
                  action: "echo",
                  params: { message: "second" },
                },
              ],
            },
            {
              backend: "test",
              action: "succeed",
              params: { message: "synced" },
            },
          ],
        });
        const job = await c.waitJob(id);
        assert.equal(job.status, "completed", JSON.stringify(job));
        for (const n of ["web-01", "web-02", "db-01"]) {
          assert.equal(job.results["0"][n].status, "success");
          assert.equal(job.results["1"][n].output, "second");
          assert.equal(job.results["2"][n].output, "synced");
          assert.ok(
            Date.parse(job.results["1"][n].started_at) >=
              Date.parse(job.results["0"][n].finished_at),
          );
        }
      },
    );

    await t.step(
      "fail-fast: later steps skipped, on_failure and always still run",
      async () => {
        const id = await c.submit({
          target: { scope: "all" },
          strategy: "fail-fast",
          tasks: [
            {
              backend: "test",
              action: "fail",
              params: { nodes: "db-01", message: "boom" },
            },
            { backend: "ping", action: "echo" },
            { backend: "ping", action: "echo", condition: "on_success" },
            {
              condition: "on_failure",
              tasks: [{
                backend: "ping",
                action: "echo",
                params: { message: "rollback" },
              }],
            },
            {
              backend: "ping",
              action: "echo",
              params: { message: "tidy" },
              condition: "always",
            },
          ],
        });
        const job = await c.waitJob(id);
        assert.equal(job.status, "failed");
        assert.match(job.error, /db-01/);
        assert.match(job.error, /boom/);
        assert.equal(job.results["0"]["db-01"].status, "failed");
        assert.equal(job.results["0"]["db-01"].error, "boom");
        assert.equal(job.results["0"]["web-01"].status, "success");
        for (const n of ["web-01", "web-02", "db-01"]) {
          assert.equal(job.results["1"][n].status, "skipped");
          assert.equal(job.results["2"][n].status, "skipped");
          assert.equal(job.results["3"][n].output, "rollback");
          assert.equal(job.results["4"][n].output, "tidy");
        }
      },
    );

    await t.step(
      "continue: the failed node drops out, the others go on",
      async () => {
        const id = await c.submit({
          target: { scope: "all" },
          strategy: "continue",
          tasks: [
            { backend: "test", action: "fail", params: { nodes: "web-02" } },
            { backend: "ping", action: "echo", params: { message: "next" } },
            {
              backend: "ping",
              action: "echo",
              params: { message: "fix" },
              condition: "on_failure",
            },
          ],
        });
        const job = await c.waitJob(id);
        assert.equal(job.status, "completed");
        assert.equal(job.results["0"]["web-02"].status, "failed");
        assert.equal(job.results["1"]["web-02"].status, "skipped");
        assert.equal(job.results["1"]["web-01"].output, "next");
        assert.equal(job.results["1"]["db-01"].output, "next");
        // Cleanup runs where the failure was, and only there.
        assert.equal(job.results["2"]["web-02"].output, "fix");
        assert.equal(job.results["2"]["web-01"].status, "skipped");
      },
    );

    await t.step("continue: the job fails when every node failed", async () => {
      const id = await c.submit({
        target: { scope: "group", value: "web" },
        strategy: "continue",
        tasks: [{ backend: "test", action: "fail" }, {
          backend: "ping",
          action: "echo",
        }],
      });
      const job = await c.waitJob(id);
      assert.equal(job.status, "failed");
      assert.equal(job.results["1"]["web-01"].status, "skipped");
    });

    await t.step(
      "retries re-run only the failed node, with attempts recorded",
      async () => {
        const id = await c.submit({
          target: { scope: "group", value: "web" },
          strategy: "continue",
          tasks: [{
            backend: "test",
            action: "fail",
            params: { nodes: "web-01" },
            max_retries: 2,
          }],
        });
        const job = await c.waitJob(id);
        const bad = job.results["0"]["web-01"];
        const good = job.results["0"]["web-02"];
        assert.equal(bad.status, "failed");
        assert.equal(bad.attempts, 3);
        assert.equal(good.status, "success");
        assert.equal(good.attempts, 1);
        // Backoff 1s then 2s between the three attempts.
        const firstStart = Date.parse(job.started_at);
        assert.ok(Date.parse(bad.finished_at) - firstStart >= 3000);
      },
    );

    await t.step("a node target runs on that node only", async () => {
      const id = await c.submit({
        target: { scope: "node", value: "db-01" },
        tasks: [{ backend: "ping", action: "hostname" }],
      });
      const job = await c.waitJob(id);
      assert.deepEqual(Object.keys(job.results["0"]), ["db-01"]);
    });

    await t.step("output over 256 KiB is capped and says so", async () => {
      const id = await c.submit({
        target: { scope: "node", value: "web-01" },
        tasks: [{
          backend: "test",
          action: "output",
          params: { lines: "5000", width: "100" },
        }],
      });
      const job = await c.waitJob(id);
      const out: string = job.results["0"]["web-01"].output;
      assert.equal(job.status, "completed");
      assert.ok(new TextEncoder().encode(out).length <= 262_144 + 200);
      assert.match(out, /truncated/);
    });
  });
});
