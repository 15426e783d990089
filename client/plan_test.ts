/**
 * gridc's targeting and plan: --selector, --label, `job plan`, and
 * `job run --confirm` (asks on a terminal, refuses off one without --yes).
 */
import assert from "node:assert/strict";
import type { PlanView } from "../models/job_plan.ts";
import { parseCli } from "./args.ts";
import { renderPlan } from "./render_plan.ts";
import { renderNodes } from "./render.ts";
import { fakeController, gridc, job, node, NOW } from "./testing.ts";

const PLAN: PlanView = {
  valid: true,
  target: { scope: "all", selector: "role=web,!node:web-03" },
  strategy: "continue",
  rollout: { batch: 2, canary: 1, max_failures: 1 },
  nodes: ["web-01", "web-02", "web-04"],
  offline: ["web-05"],
  steps: [
    { step: 0, path: "tasks[0]", backend: "apt", action: "update" },
    {
      step: 1,
      path: "tasks[1].tasks[0]",
      backend: "systemd",
      action: "restart",
      pipeline: true,
      condition: "on_failure",
    },
  ],
  batches: [
    { batch: 1, nodes: ["web-01"], canary: true },
    { batch: 2, nodes: ["web-02", "web-04"] },
  ],
  budget: { nodes: 1, of: 3, says: "1 of 3 nodes (max_failures 1)" },
};

const view = { width: 80, color: false, now: NOW };

function planController(plan: PlanView = PLAN) {
  return fakeController((req, url) => {
    if (req.method === "POST" && url.pathname === "/job/plan") {
      return Response.json(plan);
    }
    if (req.method === "POST" && url.pathname === "/job") {
      return Response.json(job({ status: "pending" }), { status: 202 });
    }
  });
}

const run = (api: string, ...more: string[]) => [
  "-a",
  api,
  "job",
  "run",
  "--selector",
  "role=web",
  "apt",
  "update",
  ...more,
];

Deno.test("args: --selector is checked and becomes the target; -t and --selector exclude each other", () => {
  const cmd = parseCli(["job", "plan", "--selector", "role=web", "a", "b"])
    .command;
  assert.equal(cmd.kind, "job plan");
  assert.deepEqual(
    cmd.kind === "job plan" ? cmd.target : undefined,
    { scope: "all", selector: "role=web" },
  );
  const table: [string[], RegExp][] = [
    [
      ["job", "run", "--selector", "role=web,,x", "a", "b"],
      /--selector "role=web,,x": term 2 "" \(column 10\): empty term/,
    ],
    [
      ["job", "run", "-t", "all", "--selector", "role=web", "a", "b"],
      /-t and --selector both say where the job runs/,
    ],
    [["job", "run", "--yes", "a", "b"], /--yes answers --confirm/],
    [["job", "plan", "--wait", "a", "b"], /unknown option --wait/],
    [["node", "enroll", "n1", "--label", "role"], /"role" is not key=value/],
  ];
  for (const [argv, want] of table) {
    assert.throws(() => parseCli(argv), want, argv.join(" "));
  }
});

Deno.test("args: --label may be repeated and lists pairs", () => {
  const cmd = parseCli([
    "node",
    "enroll",
    "n1",
    "-l",
    "role=web",
    "--label",
    "env=prod,zone=eu-1",
  ]).command;
  assert.deepEqual(cmd, {
    kind: "node enroll",
    id: "n1",
    groups: [],
    labels: { role: "web", env: "prod", zone: "eu-1" },
  });
  assert.throws(
    () => parseCli(["node", "enroll", "n1", "-l", "role=web", "-l", "role=db"]),
    /label "role" is given twice/,
  );
});

Deno.test("render: a plan shows nodes, skipped ones, steps, batches and the budget", () => {
  const text = renderPlan(PLAN, view);
  for (
    const want of [
      /Target: +role=web,!node:web-03/,
      /Nodes: +3 online would run it; 1 offline would be skipped/,
      /Skipped: +web-05/,
      /Failure budget: +1 of 3 nodes/,
      /each batch runs all of them, in order/,
      /1 +tasks\[1\]\.tasks\[0\] +systemd restart +pipeline, on_failure/,
      /2 batches:/,
      /1 +1 +web-01 \(canary: waits for job resume\)/,
      /2 +2 +web-02, web-04/,
    ]
  ) assert.match(text, want);
  assert.doesNotMatch(text, /refused/);
  const refused = renderPlan(
    { ...PLAN, valid: false, problem: "tasks[0].params: nope", batches: [] },
    view,
  );
  assert.match(refused, /Would be refused: tasks\[0\]\.params: nope/);
  assert.match(refused, /No node would run it/);
});

Deno.test("render: node list shows labels only when some node has them", () => {
  const text = renderNodes([
    node({ labels: { role: "web", env: "prod" } }),
    node({ id: "db-01", labels: {} }),
  ], { ...view, width: 120 });
  assert.match(text, /LABELS/);
  assert.match(text, /web-01 .* env=prod,role=web /);
  assert.doesNotMatch(renderNodes([node()], view), /LABELS/);
});

Deno.test("job plan: prints the plan, sends only the plan request, exit 1 when it would be refused", async () => {
  await using c = planController();
  const r = await gridc([
    "-a",
    c.url,
    "job",
    "plan",
    "--selector",
    "role=web",
    "apt",
    "update",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /2 batches:/);
  assert.deepEqual(c.requests, ["POST /job/plan"]);
  assert.deepEqual((c.bodies[0] as { target: unknown }).target, {
    scope: "all",
    selector: "role=web",
  });
  const json = await gridc([
    "-a",
    c.url,
    "-o",
    "json",
    "job",
    "plan",
    "a",
    "b",
  ]);
  assert.deepEqual(JSON.parse(json.out), PLAN);

  await using bad = planController({ ...PLAN, valid: false, problem: "no" });
  const refused = await gridc(["-a", bad.url, "job", "plan", "a", "b"]);
  assert.equal(refused.code, 1);
  assert.match(refused.out, /Would be refused: no/);
});

Deno.test("job run --confirm: asks on a terminal; y submits, anything else does not", async () => {
  for (
    const [answer, submits] of [["y", true], ["YES", true], ["", false], [
      "n",
      false,
    ], [null, false]] as const
  ) {
    await using c = planController();
    const r = await gridc(run(c.url, "--confirm"), {
      tty: { stdout: true, stderr: true, stdin: true },
      readLine: () => Promise.resolve(answer),
    });
    assert.match(r.err, /2 batches:[\s\S]*Submit this job\? \[y\/N\]/);
    assert.deepEqual(
      c.requests,
      submits ? ["POST /job/plan", "POST /job"] : ["POST /job/plan"],
      String(answer),
    );
    assert.equal(r.code, submits ? 0 : 2);
    if (!submits) assert.match(r.err, /not submitted/);
  }
});

Deno.test("job run --confirm: off a terminal it refuses unless --yes; a refused plan is never submitted", async () => {
  await using c = planController();
  const off = await gridc(run(c.url, "--confirm"), {
    readLine: () => Promise.resolve("y"),
  });
  assert.equal(off.code, 3);
  assert.match(off.err, /add --yes/);
  assert.deepEqual(c.requests, []);

  const yes = await gridc(run(c.url, "--confirm", "--yes"));
  assert.equal(yes.code, 0, yes.err);
  assert.match(yes.err, /Failure budget/);
  assert.deepEqual(c.requests, ["POST /job/plan", "POST /job"]);

  await using bad = planController({ ...PLAN, valid: false, problem: "nope" });
  const refused = await gridc(run(bad.url, "--confirm", "--yes"));
  assert.equal(refused.code, 4);
  assert.match(refused.err, /the job would be refused: nope/);
  assert.deepEqual(bad.requests, ["POST /job/plan"]);
});
