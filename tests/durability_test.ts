/**
 * Crashes: the controller SIGKILLed mid-job and started again, a worker
 * SIGKILLed mid-task, nodes going offline.
 */
import assert from "node:assert/strict";
import { waitFor, withCluster } from "./harness.ts";

Deno.test("durability: a controller crash mid-job loses and repeats nothing", async () => {
  const workers = [{ id: "n1" }, { id: "n2" }];
  await withCluster({ workers, offlineAfter: "3s" }, async (c) => {
    const id = await c.submit({
      tasks: [
        { backend: "ping", action: "echo", params: { message: "before" } },
        { backend: "test", action: "sleep", params: { duration: "3s" } },
        { backend: "ping", action: "echo", params: { message: "after" } },
      ],
    });
    await waitFor("step 1 to be running on both nodes", async () => {
      const nodes = (await c.request("GET", `/nodes`)).json;
      return nodes.every((n: { running?: { step: number } }) =>
        n.running?.step === 1
      );
    });
    const crashedAt = Date.now();
    await c.crashController();
    await c.startController();
    const job = await c.waitJob(id, 30_000);
    assert.equal(job.status, "completed", JSON.stringify(job));
    for (const n of ["n1", "n2"]) {
      assert.equal(job.results["0"][n].output, "before");
      const slept = job.results["1"][n];
      assert.equal(slept.status, "success");
      assert.equal(slept.attempts, 1);
      // The task was adopted, not started again after the restart.
      assert.ok(Date.parse(slept.started_at) < crashedAt, `${n} re-ran step 1`);
      assert.equal(job.results["2"][n].output, "after");
    }
  });
});

Deno.test("durability: a worker killed mid-task is reported lost; the job goes on", async () => {
  const workers = [{ id: "n1" }, { id: "n2" }];
  await withCluster({ workers, offlineAfter: "2s" }, async (c) => {
    const id = await c.submit({
      strategy: "continue",
      tasks: [
        { backend: "test", action: "sleep", params: { duration: "4s" } },
        { backend: "ping", action: "echo", params: { message: "survivor" } },
      ],
    });
    await waitFor("the task to be running on n2", async () => {
      const n = (await c.request("GET", `/node/n2`)).json;
      return n.running?.job === id;
    });
    await c.workers.get("n2")!.stop("SIGKILL");
    const job = await c.waitJob(id, 20_000);
    assert.equal(job.status, "completed");
    assert.equal(job.results["0"]["n2"].status, "failed");
    assert.match(job.results["0"]["n2"].error, /node lost/);
    assert.equal(job.results["0"]["n1"].status, "success");
    assert.equal(job.results["1"]["n1"].output, "survivor");
    assert.equal(job.results["1"]["n2"].status, "skipped");
    const n2 = (await c.request("GET", `/node/n2`)).json;
    assert.equal(n2.status, "offline");
  });
});

Deno.test("durability: offline nodes are listed, not dispatched to", async () => {
  const workers = [{ id: "n1", groups: ["g"] }, { id: "n2", groups: ["g"] }];
  await withCluster({ workers }, async (c) => {
    await c.workers.get("n2")!.stop();
    await waitFor("n2 offline", async () => {
      const n = (await c.request("GET", `/node/n2`)).json;
      return n.status === "offline";
    });
    const id = await c.submit({
      target: { scope: "group", value: "g" },
      tasks: [{ backend: "ping", action: "echo" }],
    });
    const job = await c.waitJob(id);
    assert.equal(job.status, "completed");
    assert.deepEqual(job.expected, ["n1"]);
    assert.deepEqual(job.offline, ["n2"]);
    assert.deepEqual(Object.keys(job.results["0"]), ["n1"]);

    // It comes back when it restarts, and takes work again.
    await c.startWorker({ id: "n2", groups: ["g"] });
    await c.waitOnline(["n2"]);
    const again = await c.waitJob(
      await c.submit({
        target: { scope: "node", value: "n2" },
        tasks: [{ backend: "ping", action: "echo" }],
      }),
    );
    assert.equal(again.status, "completed");
  });
});

Deno.test("durability: a restarted worker catches up on commands sent while it was down, once", async () => {
  await withCluster(
    { workers: [{ id: "n1" }], offlineAfter: "30s" },
    async (c) => {
      // Warm up so the worker has taken a command before it goes down.
      await c.waitJob(
        await c.submit({ tasks: [{ backend: "ping", action: "echo" }] }),
      );
      await c.workers.get("n1")!.stop("SIGKILL");
      // Within offline_after the node still counts as online: the command is
      // stored in the stream with nobody listening.
      const id = await c.submit({
        tasks: [{
          backend: "ping",
          action: "echo",
          params: { message: "caught up" },
        }],
      });
      await waitFor(
        "the job to run",
        async () => (await c.job(id)).status === "running",
      );
      const back = await c.startWorker({ id: "n1" });
      const job = await c.waitJob(id);
      assert.equal(job.status, "completed");
      assert.equal(job.results["0"]["n1"].output, "caught up");
      assert.equal(job.results["0"]["n1"].attempts, 1);
      assert.equal(
        back.log.filter((l) =>
          l.includes(`job=${id}`) && l.includes("task started")
        ).length,
        1,
      );

      // Restarting again must not run it a second time.
      await back.stop();
      const again = await c.startWorker({ id: "n1" });
      await c.waitJob(
        await c.submit({ tasks: [{ backend: "ping", action: "echo" }] }),
      );
      assert.equal(
        again.log.some((l) => l.includes(`job=${id}`)),
        false,
      );
    },
  );
});

Deno.test("durability: SIGTERM drains a worker: its running task finishes, then it deregisters", async () => {
  await withCluster({ workers: [{ id: "n1", drain: "20s" }] }, async (c) => {
    const id = await c.submit({
      tasks: [{ backend: "test", action: "sleep", params: { duration: "2s" } }],
    });
    await waitFor("the task to run", async () => {
      const n = (await c.request("GET", `/node/n1`)).json;
      return n.running?.job === id;
    });
    const status = await c.workers.get("n1")!.stop("SIGTERM", 30_000);
    assert.equal(status.code, 0);
    const job = await c.waitJob(id);
    assert.equal(job.status, "completed");
    assert.equal(job.results["0"]["n1"].status, "success");
    const n1 = (await c.request("GET", `/node/n1`)).json;
    assert.equal(n1.status, "offline");
  });
});
