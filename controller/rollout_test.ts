/** Batches and failure budgets in nodes, and the rollout spec's checks. */
import assert from "node:assert/strict";
import { describeIssues, JobSpec } from "../models/job.ts";
import type { Rollout } from "../models/rollout.ts";
import { batchesOf, failureBudget } from "./rollout.ts";

const nodes = (n: number) =>
  Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, "0")}`);
const sizes = (bs: string[][]) => bs.map((b) => b.length);

Deno.test("batchesOf: sizes per rollout, canary first, order as given", () => {
  const cases: [string, number, Rollout | undefined, number[]][] = [
    ["no rollout: one batch", 5, undefined, [5]],
    ["no nodes: no batch", 0, { batch: 2 }, []],
    ["count", 5, { batch: 2 }, [2, 2, 1]],
    ["count larger than the fleet", 3, { batch: 10 }, [3]],
    ["percentage of all nodes", 10, { batch: "30%" }, [3, 3, 3, 1]],
    ["percentage rounds down, at least 1", 6, { batch: "10%" }, [
      1,
      1,
      1,
      1,
      1,
      1,
    ]],
    ["fractional percentage", 1000, { batch: "12.5%" }, Array(8).fill(125)],
    ["canary then batches", 6, { batch: 2, canary: 1 }, [1, 2, 2, 1]],
    ["canary covers the fleet", 2, { batch: 1, canary: 5 }, [2]],
    ["canary with percentage of all", 10, { batch: "50%", canary: 2 }, [
      2,
      5,
      3,
    ]],
  ];
  for (const [name, n, r, want] of cases) {
    const bs = batchesOf(nodes(n), r);
    assert.deepEqual(sizes(bs), want, name);
    assert.deepEqual(bs.flat(), nodes(n), `${name}: every node once, in order`);
  }
});

Deno.test("batchesOf keeps the order it is given, not sorted", () => {
  assert.deepEqual(batchesOf(["c", "a", "b"], { batch: 2, canary: 1 }), [
    ["c"],
    ["a", "b"],
  ]);
});

Deno.test("failureBudget: nodes that may fail", () => {
  const cases: [string, number, Rollout | undefined, number][] = [
    ["no rollout: unlimited", 10, undefined, Infinity],
    ["no max_failures: unlimited", 10, { batch: 1 }, Infinity],
    ["count", 10, { batch: 1, max_failures: 2 }, 2],
    ["zero", 10, { batch: 1, max_failures: 0 }, 0],
    ["percentage rounds down", 10, { batch: 1, max_failures: "25%" }, 2],
    ["small percentage of a small fleet is 0", 6, {
      batch: 1,
      max_failures: "5%",
    }, 0],
    ["percentage exact despite floats", 10, {
      batch: 1,
      max_failures: "30%",
    }, 3],
    ["100%", 7, { batch: 1, max_failures: "100%" }, 7],
  ];
  for (const [name, n, r, want] of cases) {
    assert.equal(failureBudget(n, r), want, name);
  }
});

const spec = (rollout: unknown, strategy = "continue") => ({
  strategy,
  tasks: [{ backend: "test", action: "ok" }],
  rollout,
});

Deno.test("rollout spec: accepted shapes", () => {
  for (
    const r of [
      { batch: 1 },
      { batch: "10%" },
      { batch: "2.5%", canary: 1, pause: "30s", max_failures: "5%" },
      { batch: 3, max_failures: 0 },
      { batch: "100%", pause: "24h" },
    ]
  ) {
    const got = JobSpec.safeParse(spec(r));
    assert.ok(got.success, `${JSON.stringify(r)}: ${got.error?.message}`);
    assert.deepEqual(got.data.rollout, r, "kept as written");
  }
});

Deno.test("rollout spec: errors name the field", () => {
  const cases: [unknown, string, string?][] = [
    [{}, "rollout.batch"],
    [{ batch: 0 }, "rollout.batch: must be a whole number of nodes"],
    [{ batch: 1.5 }, "rollout.batch: must be a whole number"],
    [{ batch: "0%" }, "rollout.batch: must be a percentage above 0%"],
    [{ batch: "150%" }, "rollout.batch: must be a percentage"],
    [
      { batch: "ten" },
      'rollout.batch: must be a whole number of nodes (at least 1) or a percentage such as "10%", got "ten"',
    ],
    [{ batch: true }, "rollout.batch: must be"],
    [{ batch: 1, canary: 0 }, "rollout.canary: must be at least 1"],
    [{ batch: 1, canary: "1" }, "rollout.canary: must be a whole number"],
    [
      { batch: 1, pause: "soon" },
      'rollout.pause: must be a duration such as "30s"',
    ],
    [{ batch: 1, pause: "25h" }, "rollout.pause: must be at most 24h"],
    [
      { batch: 1, max_failures: -1 },
      "rollout.max_failures: must be a whole number of nodes (0 or more)",
    ],
    [
      { batch: 1, max_failures: "101%" },
      "rollout.max_failures: must be a percentage",
    ],
    [{ batch: 1, extra: 1 }, "rollout"],
    [
      { batch: 1, max_failures: 1 },
      'rollout.max_failures: needs strategy "continue"',
      "fail-fast",
    ],
  ];
  for (const [r, want, strategy] of cases) {
    const got = JobSpec.safeParse(spec(r, strategy));
    assert.ok(!got.success, `${JSON.stringify(r)} should be refused`);
    const text = describeIssues(got.error);
    assert.ok(text.includes(want), `${JSON.stringify(r)}: ${text}`);
  }
});

Deno.test("a job without rollout parses as before", () => {
  const got = JobSpec.parse({ tasks: [{ backend: "test", action: "ok" }] });
  assert.equal(got.rollout, undefined);
  assert.ok(!("rollout" in got));
});
