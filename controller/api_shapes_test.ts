/**
 * The API's shapes where the reference's dashboard reads them: bare lists,
 * paging by `Link`, node backends as names, list rows with progress and no
 * outputs; and job ids named by a unique prefix.
 */
import assert from "node:assert/strict";
import { JobList } from "../models/job.ts";
import { NodeView } from "../models/node.ts";
import { apiRig } from "./api_testing.ts";
import { steps } from "./testing.ts";

type Rig = Awaited<ReturnType<typeof apiRig>>;

async function withRig(fn: (r: Rig) => Promise<void>): Promise<void> {
  const r = await apiRig();
  try {
    await fn(r);
  } finally {
    await r.stop();
  }
}

async function submit(r: Rig, body: unknown): Promise<string> {
  const res = await r.call("POST", "/job", {
    scope: "operate",
    type: "application/json",
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 202);
  return (await res.json()).id;
}

const get = async (r: Rig, path: string) => {
  const res = await r.call("GET", path, { scope: "read" });
  return { res, body: await res.json() };
};

Deno.test("GET /jobs: a bare array of rows with tasks and per-step counts, paged by Link", () =>
  withRig(async (r) => {
    const job = { target: { scope: "group", value: "web" }, tasks: steps(2) };
    const first = await submit(r, job);
    await r.clock.advance(0);
    await r.answer("web-01", "success");
    await r.answer("web-02", "failed");
    const second = await submit(r, { ...job, tasks: steps(3) });

    const { res, body } = await get(r, "/jobs?limit=1");
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(body), "a bare array");
    JobList.parse(body);
    assert.equal(body.length, 1);
    assert.equal(body[0].id, second);
    assert.equal(
      res.headers.get("link"),
      `</jobs?limit=1&before=${second}>; rel="next"`,
    );
    const { res: last, body: older } = await get(
      r,
      `/jobs?limit=1&before=${second}`,
    );
    assert.equal(older[0].id, first);
    assert.equal(last.headers.get("link"), null, "no page after the last");

    // Its tasks, and how its nodes ended each step (fail-fast skipped step 1).
    const row = older[0];
    assert.equal(row.status, "failed");
    assert.equal(row.steps, 2);
    assert.equal(row.tasks.length, 2);
    assert.deepEqual(row.results, {
      "0": { success: 1, failed: 1 },
      "1": { skipped: 2 },
    });
    assert.deepEqual(body[0].results, {}, "pending: nothing yet");
    assert.ok(!JSON.stringify(body).includes("output"), "no outputs in rows");
    // The status filter goes into the next link too.
    const filtered = await get(r, "/jobs?limit=1&status=failed");
    assert.deepEqual(filtered.body.map((j: { id: string }) => j.id), [first]);
    assert.equal(filtered.res.headers.get("link"), null);
  }));

Deno.test("GET /nodes and /controllers are bare arrays; backends are names, actions apart", () =>
  withRig(async (r) => {
    const { body } = await get(r, "/nodes");
    assert.ok(Array.isArray(body));
    const web = NodeView.parse(body[0]);
    assert.deepEqual(web.backends, ["test"]);
    assert.deepEqual(web.actions, { test: ["succeed", "fail", "sleep"] });
    const one = await get(r, "/node/web-01");
    assert.deepEqual(one.body.backends, ["test"]);
    const ctl = await get(r, "/controllers");
    assert.ok(Array.isArray(ctl.body));
  }));

Deno.test("a job id prefix shared by several jobs is 409 naming them; an unknown one 404", () =>
  withRig(async (r) => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await submit(r, { target: { scope: "all" }, tasks: steps(1) }));
    }
    // Made in the same millisecond: the time part is common to all three.
    const common = ids[0]!.slice(0, 11);
    assert.ok(ids.every((id) => id.startsWith(common)));
    const amb = await get(r, `/job/${common}`);
    assert.equal(amb.res.status, 409);
    assert.match(amb.body.error, /ambiguous/);
    for (const id of ids) {
      assert.ok(amb.body.error.includes(id), amb.body.error);
    }
    assert.equal((await get(r, `/job/${ids[1]}`)).body.id, ids[1]);
    assert.equal((await get(r, "/job/ffffffff")).res.status, 404);
    const cancel = await r.call("POST", `/job/${common}/cancel`, {
      scope: "operate",
    });
    assert.equal(cancel.status, 409, "a cancel never guesses");
    await cancel.body?.cancel();
  }));
