import assert from "node:assert/strict";
import { JobSpec, type Phase } from "../models/job.ts";
import { backoffMs, countSteps, planJob } from "./plan.ts";

const leaf = (action: string, extra: Partial<Phase> = {}): Phase => ({
  backend: "test",
  action,
  ...extra,
});

Deno.test("planJob: leaves are numbered depth-first; a pipeline takes one index per leaf", () => {
  const tasks = [
    leaf("a"),
    { tasks: [leaf("b"), leaf("c")] },
    leaf("d"),
  ];
  const plan = planJob(tasks);
  assert.equal(plan.length, 3);
  assert.deepEqual(
    plan.map((p) => p.leaves.map((l) => l.index)),
    [[0], [1, 2], [3]],
  );
  assert.deepEqual(plan.map((p) => p.first), [0, 1, 3]);
  assert.deepEqual(plan.map((p) => p.pipeline), [false, true, false]);
  assert.deepEqual(
    plan.flatMap((p) => p.leaves.map((l) => l.action)),
    ["a", "b", "c", "d"],
  );
  assert.equal(countSteps(tasks), 4);
});

Deno.test("planJob: indices keep counting across several pipelines", () => {
  const tasks = [
    { tasks: [leaf("a"), leaf("b"), leaf("c")] },
    { tasks: [leaf("d")] },
    leaf("e"),
    { tasks: [leaf("f"), leaf("g")] },
  ];
  const plan = planJob(tasks);
  assert.deepEqual(plan.map((p) => p.first), [0, 3, 4, 5]);
  assert.deepEqual(
    plan.map((p) => p.leaves.map((l) => l.index)),
    [[0, 1, 2], [3], [4], [5, 6]],
  );
  assert.equal(countSteps(tasks), 7);
});

Deno.test("planJob: planning twice gives the same indices (no shared counter)", () => {
  const tasks = [leaf("a"), { tasks: [leaf("b"), leaf("c")] }];
  assert.deepEqual(planJob(tasks), planJob(tasks));
  assert.equal(planJob(tasks)[1]!.first, 1);
});

Deno.test("planJob: a pipeline step without a condition inherits the pipeline's", () => {
  const plan = planJob([
    leaf("top"),
    leaf("guarded", { condition: "on_success" }),
    {
      condition: "on_failure",
      tasks: [
        leaf("inherits"),
        leaf("own", { condition: "always" }),
        leaf("own2", { condition: "on_success" }),
      ],
    },
    { tasks: [leaf("plain")] },
  ]);
  assert.equal(plan[0]!.leaves[0]!.condition, undefined);
  assert.equal(plan[1]!.leaves[0]!.condition, "on_success");
  assert.deepEqual(
    plan[2]!.leaves.map((l) => l.condition),
    ["on_failure", "always", "on_success"],
  );
  assert.equal(plan[3]!.leaves[0]!.condition, undefined);
});

Deno.test("planJob: timeouts are parsed to milliseconds; absent means undefined", () => {
  const plan = planJob([
    leaf("a", { timeout: "30s" }),
    {
      tasks: [
        leaf("b", { timeout: "1m30s" }),
        leaf("c", { timeout: "500ms" }),
        leaf("d"),
      ],
    },
    leaf("e"),
  ]);
  assert.deepEqual(
    plan.flatMap((p) => p.leaves.map((l) => l.timeoutMs)),
    [30_000, 90_000, 500, undefined, undefined],
  );
});

Deno.test("planJob: backend, action, params and max_retries are carried with defaults", () => {
  const plan = planJob([
    {
      backend: "apt",
      action: "install",
      params: { package: "nginx" },
      max_retries: 3,
    },
    { backend: "ping", action: "echo" },
  ]);
  const [a, b] = plan.flatMap((p) => p.leaves);
  assert.equal(a!.backend, "apt");
  assert.equal(a!.action, "install");
  assert.deepEqual(a!.params, { package: "nginx" });
  assert.equal(a!.maxRetries, 3);
  assert.deepEqual(b!.params, {});
  assert.equal(b!.maxRetries, 0);
});

Deno.test("planJob: works on a validated JobSpec (README pipeline example)", () => {
  const spec = JobSpec.parse({
    target: { scope: "group", value: "web" },
    tasks: [
      {
        tasks: [
          { backend: "apt", action: "update" },
          { backend: "apt", action: "install", params: { package: "nginx" } },
          { backend: "systemd", action: "enable", params: { unit: "nginx" } },
        ],
      },
      { backend: "systemd", action: "start", params: { unit: "nginx" } },
    ],
  });
  const plan = planJob(spec.tasks);
  assert.deepEqual(plan.map((p) => [p.first, p.pipeline, p.leaves.length]), [
    [0, true, 3],
    [3, false, 1],
  ]);
  assert.equal(countSteps(spec.tasks), 4);
});

Deno.test("backoffMs: 1s, 2s, 4s, … doubling per failed attempt, capped at 30s", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map(backoffMs),
    [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
  );
  assert.equal(backoffMs(50), 30_000);
  assert.equal(backoffMs(1000), 30_000);
  for (let n = 1; n < 40; n++) {
    assert.ok(backoffMs(n + 1) >= backoffMs(n), `non-decreasing at ${n}`);
    assert.ok(backoffMs(n) <= 30_000);
  }
});
