/**
 * Plans over the runner's fakes: which nodes run which steps in which
 * batch, which are skipped, what the budget means, and that neither a plan
 * nor a refused plan stores or sends anything.
 */
import assert from "node:assert/strict";
import { JobSpec } from "../models/job.ts";
import { packParams } from "../models/params.ts";
import { planJob } from "./plan_view.ts";
import { OFFLINE_AFTER_MS, runnerRig } from "./testing.ts";

const LABELS: Record<string, Record<string, string>> = {
  "web-01": { role: "web", env: "prod" },
  "web-02": { role: "web", env: "prod" },
  "web-03": { role: "web", env: "canary" },
  "web-04": { role: "web", env: "prod" },
  "web-05": { role: "web", env: "prod" },
  "db-01": { role: "db", env: "prod" },
};

async function fleetRig() {
  const r = await runnerRig({ nodes: Object.keys(LABELS) });
  for (const [id, labels] of Object.entries(LABELS)) {
    r.fleet.beat(id, { labels, groups: [labels.role!] });
  }
  return r;
}

const plan = (
  r: Awaited<ReturnType<typeof fleetRig>>,
  body: unknown,
) =>
  planJob(
    JobSpec.parse(body),
    r.fleet,
    r.clock.now(),
    OFFLINE_AFTER_MS,
  );

Deno.test("plan: a selector with an exclusion, batches, a canary and a budget", async () => {
  const r = await fleetRig();
  try {
    // web-05 stops heartbeating: matched, but offline and skipped.
    await r.pass(
      OFFLINE_AFTER_MS + 1000,
      Object.keys(LABELS).filter((n) => n !== "web-05"),
    );
    const p = plan(r, {
      target: { selector: "role=web,!node:web-03" },
      strategy: "continue",
      rollout: { batch: 2, canary: 1, max_failures: "50%" },
      tasks: [
        { backend: "test", action: "succeed" },
        {
          tasks: [
            { backend: "test", action: "succeed" },
            { backend: "test", action: "fail", condition: "on_failure" },
          ],
        },
      ],
    });
    assert.equal(p.valid, true, p.problem);
    assert.deepEqual(p.nodes, ["web-01", "web-02", "web-04"]);
    assert.deepEqual(p.offline, ["web-05"]);
    assert.deepEqual(p.batches, [
      { batch: 1, nodes: ["web-01"], canary: true },
      { batch: 2, nodes: ["web-02", "web-04"] },
    ]);
    assert.deepEqual(p.steps, [
      { step: 0, path: "tasks[0]", backend: "test", action: "succeed" },
      {
        step: 1,
        path: "tasks[1].tasks[0]",
        backend: "test",
        action: "succeed",
        pipeline: true,
      },
      {
        step: 2,
        path: "tasks[1].tasks[1]",
        backend: "test",
        action: "fail",
        condition: "on_failure",
        pipeline: true,
      },
    ]);
    assert.equal(p.budget.nodes, 1);
    assert.equal(p.budget.of, 3);
    assert.match(p.budget.says, /^1 of 3 nodes \(max_failures 50%\)/);
  } finally {
    await r.runner.stop();
  }
});

Deno.test("plan: the budget in words for each strategy", async () => {
  const r = await fleetRig();
  try {
    const tasks = [{ backend: "test", action: "succeed" }];
    const table: [unknown, number | null, RegExp][] = [
      [{ tasks }, 0, /first failure ends the job/],
      [{ strategy: "continue", tasks }, null, /^any number/],
      [
        { strategy: "continue", rollout: { batch: "50%" }, tasks },
        null,
        /^any number/,
      ],
      [
        {
          strategy: "continue",
          rollout: { batch: 1, max_failures: 0 },
          tasks,
        },
        0,
        /^0 of 6 nodes .*once more than 0 have failed/,
      ],
    ];
    for (const [body, nodes, says] of table) {
      const p = plan(r, body);
      assert.equal(p.budget.nodes, nodes, JSON.stringify(body));
      assert.match(p.budget.says, says);
    }
    // Without a rollout, every node is one batch.
    assert.deepEqual(plan(r, { tasks }).batches, [{
      batch: 1,
      nodes: ["db-01", "web-01", "web-02", "web-03", "web-04", "web-05"],
    }]);
  } finally {
    await r.runner.stop();
  }
});

Deno.test("plan: what a submit would refuse is the plan's problem, resolution still shown", async () => {
  const r = await fleetRig();
  try {
    const none = plan(r, {
      target: { selector: "role=cache" },
      tasks: [{ backend: "test", action: "succeed" }],
    });
    assert.equal(none.valid, false);
    assert.equal(
      none.problem,
      'target: no registered node matches selector "role=cache"',
    );
    assert.deepEqual(none.batches, []);

    r.fleet.described.set(
      "web-01",
      packParams({
        test: {
          succeed: { params: { message: { kind: "text", default: "ok" } } },
        },
      }),
    );
    const bad = plan(r, {
      target: { selector: "node:web-01,web-02" },
      tasks: [{
        backend: "test",
        action: "succeed",
        params: { nonsense: "1" },
      }],
    });
    assert.equal(bad.valid, false);
    assert.match(bad.problem!, /^tasks\[0\]\.params/);
    assert.deepEqual(bad.nodes, ["web-01", "web-02"]);

    // Nothing was stored or sent for any of it.
    assert.equal(r.store.count("pending") + r.store.count("running"), 0);
    for (const id of Object.keys(LABELS)) {
      assert.deepEqual(r.commands.runs(id), []);
    }
  } finally {
    await r.runner.stop();
  }
});

Deno.test("targets: a selector job runs exactly the selected nodes", async () => {
  const r = await fleetRig();
  try {
    const rec = await r.runner.submit(JobSpec.parse({
      target: { selector: "group:web,env=prod,!node:web-02,web-04" },
      tasks: [{ backend: "test", action: "succeed" }],
    }));
    assert.deepEqual(rec.expected, ["web-01", "web-05"]);
    await r.clock.advance(0);
    const sent = Object.keys(LABELS).filter((id) =>
      r.commands.runs(id).length > 0
    );
    assert.deepEqual(sent, ["web-01", "web-05"]);
  } finally {
    await r.runner.stop();
  }
});
