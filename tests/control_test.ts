/**
 * Timeouts, cancellation, the queue and the API's error answers, through
 * real processes.
 */
import assert from "node:assert/strict";
import { waitFor, withCluster } from "./harness.ts";

const FLEET = [
  { id: "w1", groups: ["a"] },
  { id: "w2", groups: ["a"] },
];

Deno.test("control: timeouts, cancel and queue limits", async (t) => {
  await withCluster(
    { workers: FLEET, maxConcurrent: 1, maxPending: 2 },
    async (c) => {
      await t.step(
        "a task timeout kills the task and fails the job",
        async () => {
          const id = await c.submit({
            tasks: [
              {
                backend: "test",
                action: "sleep",
                params: { duration: "30s" },
                timeout: "500ms",
              },
              { backend: "ping", action: "echo", condition: "on_failure" },
            ],
          });
          const job = await c.waitJob(id, 10_000);
          assert.equal(job.status, "failed");
          for (const n of ["w1", "w2"]) {
            assert.equal(job.results["0"][n].status, "failed");
            assert.match(job.results["0"][n].error, /timed out after 500ms/);
            assert.equal(job.results["1"][n].status, "success");
          }
        },
      );

      await t.step(
        "a job timeout fails the job and still runs cleanup",
        async () => {
          const id = await c.submit({
            timeout: "1s",
            tasks: [
              { backend: "test", action: "sleep", params: { duration: "30s" } },
              { backend: "ping", action: "echo", params: { message: "never" } },
              {
                backend: "ping",
                action: "echo",
                params: { message: "cleanup" },
                condition: "on_failure",
              },
            ],
          });
          const job = await c.waitJob(id, 10_000);
          assert.equal(job.status, "failed");
          assert.match(job.error, /job timed out after 1s/);
          assert.match(job.results["0"]["w1"].error, /job timed out/);
          assert.equal(job.results["1"]["w1"].status, "skipped");
          assert.equal(job.results["2"]["w1"].output, "cleanup");
        },
      );

      await t.step(
        "cancel: a pending job never runs, a running one stops",
        async () => {
          const running = await c.submit({
            tasks: [
              { backend: "test", action: "sleep", params: { duration: "30s" } },
              { backend: "ping", action: "echo" },
            ],
          });
          await waitFor(
            "the first job to run",
            async () => (await c.job(running)).status === "running",
          );
          const pending = await c.submit({
            tasks: [{ backend: "ping", action: "echo" }],
          });
          const queued = await c.submit({
            tasks: [{ backend: "ping", action: "echo" }],
          });

          // max_pending is 2: a third waiting job is refused.
          const full = await c.request("POST", "/job", {
            tasks: [{ backend: "ping", action: "echo" }],
          });
          assert.equal(full.status, 429);
          assert.match(full.json.error, /queue full/);

          const p = await c.request("POST", `/job/${pending}/cancel`);
          assert.equal(p.status, 200);
          assert.equal(p.json.status, "cancelled");

          const started = Date.now();
          const r = await c.request("POST", `/job/${running}/cancel`);
          assert.equal(r.status, 200);
          const job = await c.waitJob(running, 5000);
          assert.equal(job.status, "cancelled");
          assert.equal(job.results["0"]["w1"].status, "cancelled");
          assert.equal(job.results["1"], undefined);
          assert.ok(Date.now() - started < 5000);

          // The worker was freed: the queued job runs and completes now.
          assert.equal((await c.waitJob(queued, 10_000)).status, "completed");
          const again = await c.request("POST", `/job/${running}/cancel`);
          assert.equal(again.status, 409);
          const never = await c.job(pending);
          assert.equal(never.status, "cancelled");
          assert.deepEqual(never.results, {});
        },
      );
    },
  );
});

Deno.test("api: bad requests get clear errors", async (t) => {
  await withCluster(
    { workers: [{ id: "w1", groups: ["a"] }], maxBody: 4096 },
    async (c) => {
      const cases: [string, unknown, number, RegExp][] = [
        [
          "empty tasks",
          { tasks: [] },
          400,
          /tasks: must contain at least one task/,
        ],
        [
          "unknown action",
          {
            tasks: [{ backend: "ping", action: "echo" }, {
              backend: "ping",
              action: "ech",
            }],
          },
          400,
          /tasks\[1\]\.action: unknown action "ech" for backend "ping"/,
        ],
        [
          "unknown backend",
          { tasks: [{ backend: "nope", action: "x" }] },
          400,
          /tasks\[0\]\.backend: unknown backend "nope"/,
        ],
        [
          "no matching node",
          {
            target: { scope: "group", value: "zzz" },
            tasks: [{ backend: "ping", action: "echo" }],
          },
          400,
          /target: no registered node/,
        ],
        [
          "unknown strategy",
          { strategy: "yolo", tasks: [{ backend: "ping", action: "echo" }] },
          400,
          /strategy/,
        ],
        [
          "bad duration",
          {
            tasks: [{ backend: "ping", action: "echo", timeout: "5 minutes" }],
          },
          400,
          /tasks\[0\]\.timeout/,
        ],
        [
          "negative retries",
          { tasks: [{ backend: "ping", action: "echo", max_retries: -1 }] },
          400,
          /tasks\[0\]\.max_retries/,
        ],
        [
          "non-string params",
          { tasks: [{ backend: "ping", action: "echo", params: { n: 1 } }] },
          400,
          /tasks\[0\]\.params\.n/,
        ],
        [
          "subject-breaking group",
          {
            target: { scope: "group", value: "a.*" },
            tasks: [{ backend: "ping", action: "echo" }],
          },
          400,
          /target\.value/,
        ],
        [
          "nested pipeline",
          {
            tasks: [{
              tasks: [{ tasks: [{ backend: "ping", action: "echo" }] }],
            }],
          },
          400,
          /nested/,
        ],
        [
          "leaf and branch",
          {
            tasks: [{
              backend: "ping",
              action: "echo",
              tasks: [{ backend: "ping", action: "echo" }],
            }],
          },
          400,
          /not both/,
        ],
        ["invalid JSON", "{nope", 400, /not valid JSON/],
        [
          "too large",
          {
            tasks: [{
              backend: "ping",
              action: "echo",
              params: { message: "x".repeat(10_000) },
            }],
          },
          413,
          /max_body/,
        ],
      ];
      for (const [name, body, status, message] of cases) {
        await t.step(name, async () => {
          const r = await c.request("POST", "/job", body);
          assert.equal(r.status, status, JSON.stringify(r.json));
          assert.match(r.json.error, message);
        });
      }
      await t.step("unknown ids are 404", async () => {
        assert.equal((await c.request("GET", "/job/nope")).status, 404);
        assert.equal((await c.request("POST", "/job/nope/cancel")).status, 404);
        assert.equal((await c.request("GET", "/node/nope")).status, 404);
      });
      await t.step("jobs are listed newest first and paged", async () => {
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          ids.push(
            await c.submit({ tasks: [{ backend: "ping", action: "echo" }] }),
          );
        }
        const first = await c.request("GET", "/jobs?limit=2");
        assert.deepEqual(first.json.map((j: { id: string }) => j.id), [
          ids[2],
          ids[1],
        ]);
        const second = await c.request(
          "GET",
          `/jobs?limit=2&before=${ids[1]}`,
        );
        assert.equal(second.json[0].id, ids[0]);
        assert.equal((await c.request("GET", "/jobs?limit=0")).status, 400);
      });
      await t.step("nodes and status", async () => {
        const n = await c.request("GET", "/node/w1");
        assert.equal(n.json.status, "online");
        assert.deepEqual(n.json.groups, ["a"]);
        assert.ok(n.json.backends.includes("ping"));
        assert.ok(n.json.actions.ping.includes("echo"));
        const s = await c.request("GET", "/status");
        assert.equal(s.json.status, "active");
        assert.equal(s.json.nodes.online, 1);
      });
    },
  );
});
