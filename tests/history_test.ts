/**
 * Retention on a real controller: finished jobs past `history.max_jobs`
 * disappear with their claims; pending and running ones stay, and so does
 * what is left after a restart (which starts from the index checkpoint).
 */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { BUCKET_CLAIMS } from "../lib/topology.ts";
import {
  connectAsController,
  keysDirOf,
  waitFor,
  withCluster,
} from "./harness.ts";

Deno.test("history: finished jobs past max_jobs go with their claims; pending and running ones stay", async () => {
  await withCluster({
    workers: [{ id: "n1" }],
    maxConcurrent: 1,
    history: { maxJobs: 3 },
  }, async (c) => {
    const quick = { tasks: [{ backend: "test", action: "succeed" }] };
    const done: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await c.submit(quick);
      assert.equal((await c.waitJob(id)).status, "completed");
      done.push(id);
    }
    const running = await c.submit({
      tasks: [{ backend: "test", action: "sleep", params: { duration: "5m" } }],
    });
    await waitFor(
      "the long job to run",
      async () => (await c.job(running)).status === "running",
    );
    // max_concurrent is 1: these wait.
    const pending = [await c.submit(quick), await c.submit(quick)];

    const nc = await connectAsController(keysDirOf(c.dir), {
      servers: [c.natsUrl],
      name: "history-test",
    });
    try {
      const claims = await new Kvm(nc).open(BUCKET_CLAIMS);
      const claimKeys = async () => {
        const keys: string[] = [];
        for await (const k of await claims.keys()) keys.push(k);
        return keys.sort();
      };
      const listed = async () =>
        ((await c.request("GET", "/jobs")).json as { id: string }[]).map((
          j,
        ) => j.id);
      const kept = [
        ...pending.toReversed(),
        running,
        ...done.slice(2).reverse(),
      ];
      // The sweeper looks every 10 s; a loaded machine may delay a round.
      let last: string[] = [];
      await waitFor(
        "the two oldest finished jobs to go",
        async () => {
          last = await listed();
          return JSON.stringify(last) === JSON.stringify(kept);
        },
        90_000,
        200,
      ).catch(async (e) => {
        const st = (await c.request("GET", "/status")).json.jobs;
        const all = (await c.request("GET", "/jobs?limit=100")).json as {
          id: string;
          status: string;
        }[];
        throw new Error(
          `${e.message}: listed ${last.join(",")}, want ${
            kept.join(",")
          }; done ${done.join(",")}; status ${JSON.stringify(st)}; all ${
            all.map((j) => `${j.id}:${j.status}`).join(",")
          }`,
        );
      });
      for (const id of done.slice(0, 2)) {
        assert.equal((await c.request("GET", `/job/${id}`)).status, 404);
      }
      assert.deepEqual(
        await claimKeys(),
        [...done.slice(2), running].map((id) => `${id}.1`).sort(),
        "the removed jobs' claims went with them; pending ones have none",
      );
      const counts = (await c.request("GET", "/status")).json.jobs;
      assert.deepEqual(counts, { completed: 3, running: 1, pending: 2 });

      // A restart reads the index from its checkpoint: the same jobs.
      await c.controller!.stop("SIGTERM");
      await c.startController();
      assert.ok(
        c.controller!.log.some((l) =>
          /job records read .*from_checkpoint=revision/.test(l)
        ),
        "started from a checkpoint",
      );
      assert.deepEqual(await listed(), kept);
      assert.equal((await c.job(done[2]!)).status, "completed");
      assert.equal((await c.request("GET", `/job/${done[0]}`)).status, 404);
      await waitFor(
        "the long job to be running again",
        async () => (await c.job(running)).status === "running",
      );
      assert.deepEqual((await c.request("GET", "/status")).json.jobs, counts);
    } finally {
      await nc.close();
    }
  });
});
