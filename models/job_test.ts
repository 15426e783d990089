import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { describeIssues, formatPath, JobSpec } from "./job.ts";

/** Parses a submission; returns the describeIssues text of a rejection. */
function reject(body: unknown): string {
  const r = JobSpec.safeParse(body);
  assert.ok(!r.success, `expected a rejection of ${JSON.stringify(body)}`);
  return describeIssues(r.error);
}

function accept(body: unknown): JobSpec {
  const r = JobSpec.safeParse(body);
  assert.ok(r.success, r.success ? "" : describeIssues(r.error));
  return r.data;
}

const ok = { backend: "test", action: "succeed" };

// ---- what the seed README shows ----

const README_YAML = {
  flat: `
target:
  scope: group
  value: web
tasks:
  - backend: apt
    action: update
  - backend: apt
    action: install
    params: { package: nginx }
  - backend: systemd
    action: start
    params: { unit: nginx }
`,
  pipeline: `
target:
  scope: group
  value: web
tasks:
  # Pipeline phase: each node runs these independently
  - tasks:
      - backend: apt
        action: update
      - backend: apt
        action: install
        params: { package: nginx }
      - backend: systemd
        action: enable
        params: { unit: nginx }
  # Barrier phase: all nodes sync before this runs
  - backend: systemd
    action: start
    params: { unit: nginx }
`,
  conditions: `
target:
  scope: all
strategy: fail-fast
tasks:
  - backend: apt
    action: install
    params: { package: myapp }
  - backend: systemd
    action: start
    params: { unit: myapp }
  - condition: on_failure
    tasks:
      - backend: apt
        action: remove
        params: { package: myapp }
      - backend: ping
        action: echo
        params: { message: "rollback complete" }
`,
};

Deno.test("JobSpec: accepts the README's YAML job examples", () => {
  const flat = accept(parseYaml(README_YAML.flat));
  assert.deepEqual(flat.target, { scope: "group", value: "web" });
  assert.equal(flat.tasks.length, 3);
  assert.deepEqual(flat.tasks[1]!.params, { package: "nginx" });

  const pipe = accept(parseYaml(README_YAML.pipeline));
  assert.equal(pipe.tasks[0]!.tasks!.length, 3);
  assert.equal(pipe.tasks[1]!.action, "start");

  const cond = accept(parseYaml(README_YAML.conditions));
  assert.equal(cond.strategy, "fail-fast");
  assert.equal(cond.tasks[2]!.condition, "on_failure");
  assert.equal(cond.tasks[2]!.tasks![1]!.params!.message, "rollback complete");
});

Deno.test("JobSpec: accepts the README's curl example", () => {
  const spec = accept(JSON.parse(`{
    "target": {"scope": "group", "value": "web"},
    "strategy": "fail-fast",
    "tasks": [
      {"backend": "apt", "action": "install", "params": {"package": "nginx"}},
      {"backend": "systemd", "action": "start", "params": {"unit": "nginx"}}
    ]
  }`));
  assert.equal(spec.tasks.length, 2);
});

Deno.test("JobSpec: accepts every job in scenarios/jobs (without its expect block)", async () => {
  const dir = new URL("../scenarios/jobs/", import.meta.url);
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.endsWith(".yaml")) continue;
    const { expect: _expect, ...job } = parseYaml(
      await Deno.readTextFile(new URL(e.name, dir)),
    ) as Record<string, unknown>;
    const r = JobSpec.safeParse(job);
    assert.ok(
      r.success,
      `${e.name}: ${r.success ? "" : describeIssues(r.error)}`,
    );
    n++;
  }
  assert.ok(n > 0, "no scenario files found");
});

Deno.test("JobSpec: defaults target to all and strategy to fail-fast", () => {
  const spec = accept({ tasks: [ok] });
  assert.deepEqual(spec.target, { scope: "all" });
  assert.equal(spec.strategy, "fail-fast");
  assert.equal(spec.timeout, undefined);
});

Deno.test("JobSpec: accepts the full set of leaf and job options", () => {
  const spec = accept({
    target: { scope: "node", value: "web-01.example.com" },
    strategy: "continue",
    timeout: "10m",
    tasks: [
      {
        ...ok,
        params: { a: "1" },
        timeout: "30s",
        max_retries: 3,
        condition: "always",
      },
      {
        condition: "on_success",
        tasks: [ok, { ...ok, condition: "on_failure" }],
      },
      { ...ok, condition: "on_failure", max_retries: 0 },
      { backend: "my_backend-2", action: "Do_It-3" },
    ],
  });
  assert.equal(spec.tasks.length, 4);
  accept({ target: { scope: "group", value: "web_prod-1" }, tasks: [ok] });
});

// ---- rejections, each naming the field ----

Deno.test("JobSpec: rejects a missing or empty task list", () => {
  assert.match(
    reject({ tasks: [] }),
    /^tasks: must contain at least one task$/,
  );
  assert.match(reject({}), /^tasks: /);
  assert.match(reject({ tasks: "ping" }), /^tasks: /);
  assert.match(reject({ tasks: null }), /^tasks: /);
});

Deno.test("JobSpec: rejects pipelines nested more than one level", () => {
  const msg = reject({ tasks: [ok, { tasks: [{ tasks: [ok] }] }] });
  assert.match(msg, /^tasks\[1\]\.tasks\[0\]: /);
  assert.match(msg, /nested/);
});

Deno.test("JobSpec: rejects a task that is both a leaf and a pipeline", () => {
  const msg = reject({ tasks: [{ ...ok, tasks: [ok] }] });
  assert.match(msg, /^tasks\[0\]: /);
  assert.match(msg, /leaf.*pipeline|pipeline.*leaf/);
  assert.match(
    reject({ tasks: [{ action: "x", tasks: [ok] }] }),
    /^tasks\[0\]: /,
  );
});

Deno.test("JobSpec: rejects a task that is neither a leaf nor a pipeline", () => {
  assert.match(reject({ tasks: [{}] }), /^tasks\[0\]: .*backend/);
  assert.match(
    reject({ tasks: [ok, { condition: "always" }] }),
    /^tasks\[1\]: /,
  );
  assert.match(
    reject({ tasks: [{ tasks: [] }] }),
    /^tasks\[0\]\.tasks: must contain at least one task/,
  );
  assert.match(
    reject({ tasks: [{ tasks: [ok, {}] }] }),
    /^tasks\[0\]\.tasks\[1\]: /,
  );
});

Deno.test("JobSpec: a leaf needs both backend and action", () => {
  assert.match(
    reject({ tasks: [ok, { backend: "test" }] }),
    /^tasks\[1\]\.action: is required$/,
  );
  assert.match(
    reject({ tasks: [{ action: "x" }] }),
    /^tasks\[0\]\.backend: is required$/,
  );
  assert.match(
    reject({ tasks: [{ tasks: [ok, { action: "x" }] }] }),
    /^tasks\[0\]\.tasks\[1\]\.backend: is required$/,
  );
});

Deno.test("JobSpec: leaf-only options on a pipeline are rejected", () => {
  const msg = reject({
    tasks: [{ tasks: [ok], params: {}, timeout: "1s", max_retries: 1 }],
  });
  assert.match(msg, /tasks\[0\]\.params: /);
  assert.match(msg, /tasks\[0\]\.timeout: /);
  assert.match(msg, /tasks\[0\]\.max_retries: /);
});

Deno.test("JobSpec: rejects unknown scope, strategy and condition values", () => {
  assert.match(
    reject({ target: { scope: "rack" }, tasks: [ok] }),
    /^target\.scope: .*all/,
  );
  assert.match(
    reject({ strategy: "bogus", tasks: [ok] }),
    /^strategy: .*fail-fast/,
  );
  assert.match(reject({ strategy: "", tasks: [ok] }), /^strategy: /);
  assert.match(
    reject({ tasks: [ok, { ...ok, condition: "sometimes" }] }),
    /^tasks\[1\]\.condition: .*on_failure/,
  );
  assert.match(
    reject({ tasks: [{ tasks: [{ ...ok, condition: "maybe" }] }] }),
    /^tasks\[0\]\.tasks\[0\]\.condition: /,
  );
  assert.match(
    reject({ tasks: [{ condition: "never", tasks: [ok] }] }),
    /^tasks\[0\]\.condition: /,
  );
});

Deno.test("JobSpec: group and node scopes need a value", () => {
  assert.match(
    reject({ target: { scope: "group" }, tasks: [ok] }),
    /^target\.value: is required/,
  );
  assert.match(
    reject({ target: { scope: "node", value: "" }, tasks: [ok] }),
    /^target\.value: /,
  );
});

Deno.test("JobSpec: rejects bad durations for the job and the task", () => {
  for (const bad of ["abc", "5", "-1s", "", "1d"]) {
    assert.match(
      reject({ timeout: bad, tasks: [ok] }),
      /^timeout: must be a duration/,
      bad,
    );
    assert.match(
      reject({ tasks: [ok, { ...ok, timeout: bad }] }),
      /^tasks\[1\]\.timeout: must be a duration/,
      bad,
    );
  }
  assert.match(
    reject({ tasks: [{ tasks: [{ ...ok, timeout: "soon" }] }] }),
    /^tasks\[0\]\.tasks\[0\]\.timeout: /,
  );
  assert.match(reject({ timeout: 30, tasks: [ok] }), /^timeout: /);
});

Deno.test("JobSpec: max_retries must be a whole number from 0 to 100", () => {
  assert.match(
    reject({ tasks: [{ ...ok, max_retries: -1 }] }),
    /^tasks\[0\]\.max_retries: must not be negative$/,
  );
  assert.match(
    reject({ tasks: [{ ...ok, max_retries: 1.5 }] }),
    /^tasks\[0\]\.max_retries: must be a whole number$/,
  );
  assert.match(
    reject({ tasks: [{ ...ok, max_retries: 101 }] }),
    /^tasks\[0\]\.max_retries: /,
  );
  assert.match(
    reject({ tasks: [{ ...ok, max_retries: "3" }] }),
    /^tasks\[0\]\.max_retries: /,
  );
  accept({ tasks: [{ ...ok, max_retries: 100 }] });
});

Deno.test("JobSpec: params values must be strings", () => {
  assert.match(
    reject({ tasks: [{ ...ok, params: { a: 1 } }] }),
    /^tasks\[0\]\.params\.a: must be a string$/,
  );
  assert.match(
    reject({
      tasks: [ok, { tasks: [ok, { ...ok, params: { ok: "x", flag: true } }] }],
    }),
    /^tasks\[1\]\.tasks\[1\]\.params\.flag: must be a string$/,
  );
  assert.match(
    reject({ tasks: [{ ...ok, params: ["a"] }] }),
    /^tasks\[0\]\.params: /,
  );
  // A YAML job with an unquoted number is rejected, not silently coerced.
  assert.match(
    reject(
      parseYaml(
        "tasks:\n  - backend: test\n    action: x\n    params: { rate: 50 }\n",
      ),
    ),
    /^tasks\[0\]\.params\.rate: must be a string$/,
  );
});

Deno.test("JobSpec: names that would break NATS subjects are rejected", () => {
  const subject = /NATS subjects/;
  const m1 = reject({ tasks: [{ backend: "a.b", action: "x" }] });
  assert.match(m1, /^tasks\[0\]\.backend: /);
  assert.match(m1, subject);
  const m2 = reject({
    target: { scope: "group", value: "web.*" },
    tasks: [ok],
  });
  assert.match(m2, /^target\.value: /);
  assert.match(m2, subject);
  const m3 = reject({ tasks: [ok, { backend: "test", action: "has space" }] });
  assert.match(m3, /^tasks\[1\]\.action: /);
  assert.match(m3, subject);
  for (const bad of ["*", ">", "a>", "x y", "", "a\tb", "ü", "a".repeat(65)]) {
    assert.match(
      reject({ tasks: [{ backend: bad, action: "x" }] }),
      /^tasks\[0\]\.backend: /,
      bad,
    );
    assert.match(
      reject({ tasks: [{ backend: "x", action: bad }] }),
      /^tasks\[0\]\.action: /,
      bad,
    );
    assert.match(
      reject({ target: { scope: "group", value: bad }, tasks: [ok] }),
      /^target\.value: /,
      bad,
    );
  }
  for (const bad of ["web-01.*", "web-01.>", "a..b", ".a", "a.", "a b"]) {
    assert.match(
      reject({ target: { scope: "node", value: bad }, tasks: [ok] }),
      /^target\.value: /,
      bad,
    );
  }
  assert.match(
    reject({ tasks: [{ tasks: [{ backend: "a.b", action: "x" }] }] }),
    /^tasks\[0\]\.tasks\[0\]\.backend: /,
  );
});

Deno.test("JobSpec: unknown keys are rejected at every level", () => {
  assert.match(reject({ tasks: [ok], id: "mine" }), /"id"/);
  assert.match(
    reject({ tasks: [ok], target: { scope: "all", extra: 1 } }),
    /^target: .*"extra"/,
  );
  assert.match(
    reject({ tasks: [ok, { ...ok, retries: 3 }] }),
    /^tasks\[1\]: .*"retries"/,
  );
  assert.match(
    reject({ tasks: [{ tasks: [{ ...ok, cmd: "x" }] }] }),
    /^tasks\[0\]\.tasks\[0\]: .*"cmd"/,
  );
  assert.match(
    reject({ tasks: [{ tasks: [ok], name: "p" }] }),
    /^tasks\[0\]: .*"name"/,
  );
});

Deno.test("describeIssues: one `path: message` per issue, joined by '; '", () => {
  const msg = reject({
    strategy: "bogus",
    tasks: [ok, { backend: "test", action: "has space", max_retries: -2 }],
  });
  const parts = msg.split("; ");
  assert.equal(parts.length, 3, msg);
  assert.ok(parts.some((p) => p.startsWith("strategy: ")), msg);
  assert.ok(parts.some((p) => p.startsWith("tasks[1].action: ")), msg);
  assert.ok(parts.some((p) => p.startsWith("tasks[1].max_retries: ")), msg);
});

Deno.test("formatPath: renders paths the way operators write them", () => {
  assert.equal(formatPath([]), "");
  assert.equal(formatPath(["tasks"]), "tasks");
  assert.equal(formatPath(["tasks", 1, "action"]), "tasks[1].action");
  assert.equal(
    formatPath(["tasks", 0, "tasks", 2, "params", "a"]),
    "tasks[0].tasks[2].params.a",
  );
  assert.equal(
    formatPath(["nats", "client", "urls", 0]),
    "nats.client.urls[0]",
  );
  assert.equal(formatPath([3]), "[3]");
});
