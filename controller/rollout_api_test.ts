/** `POST /job/:id/resume` and the rollout in `GET /job/:id`, over the in-memory API rig. */
import assert from "node:assert/strict";
import { routeTable } from "./api.ts";
import { apiRig } from "./api_testing.ts";

const JOB = JSON.stringify({
  tasks: [{ backend: "test", action: "succeed" }],
  rollout: { batch: 1, canary: 1 },
});

Deno.test("resume route: operate scope, audited, 404/409/200, and the view shows the rollout", async () => {
  const r = await apiRig();
  try {
    const route = routeTable(r.app).find((x) =>
      x.method === "POST" && x.path === "/job/:id/resume"
    );
    assert.equal(route?.scope, "operate");
    assert.equal(route?.action, "job.resume");

    const submitted = await r.call("POST", "/job", {
      scope: "operate",
      body: JOB,
      type: "application/json",
    });
    assert.equal(submitted.status, 202);
    const id = (await submitted.json()).id as string;
    await r.clock.advance(0);
    const resume = (scope: "read" | "operate", job = id) =>
      r.call("POST", `/job/${job}/resume`, { scope });

    assert.equal((await resume("operate", "nosuch")).status, 404);
    const early = await resume("operate");
    assert.equal(early.status, 409);
    assert.match(
      (await early.json()).error,
      /not paused for approval \(it is running, batch 1 of 2\)/,
    );

    await r.answer("web-01", "success");
    const view = await (await r.call("GET", `/job/${id}`, { scope: "read" }))
      .json();
    assert.equal(view.status, "running");
    assert.deepEqual(view.rollout_status, {
      batch: 1,
      batches: 2,
      paused: true,
      failed: 0,
      progress: [
        { nodes: 1, done: 1, failed: 0, pending: 0 },
        { nodes: 1, done: 0, failed: 0, pending: 1 },
      ],
    });
    assert.equal((await resume("read")).status, 403);

    const ok = resume("operate");
    await r.pass(1000, ["web-01", "web-02"]);
    const res = await ok;
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.rollout_status.batch, 2);
    assert.equal(body.rollout_status.paused, undefined);
    assert.equal(r.commands.runs("web-02").length, 1, "batch 2 was sent");
    const audited = r.audit.entries.filter((e) => e.action === "job.resume");
    assert.deepEqual(
      audited.map((e) => `${e.who} ${e.outcome}`),
      ["operator failed", "operator failed", "reader refused", "operator ok"],
    );
  } finally {
    await r.stop();
  }
});
