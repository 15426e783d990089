import assert from "node:assert/strict";
import { UsageError } from "./args.ts";
import { fileJob, shorthandJob } from "./jobspec.ts";

function usage(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, `not a UsageError: ${e}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

Deno.test("shorthandJob() builds a one-task job", () => {
  assert.deepEqual(shorthandJob("ping", "echo", { message: "hi" }, {}), {
    target: { scope: "all" },
    tasks: [{ backend: "ping", action: "echo", params: { message: "hi" } }],
  });
  assert.deepEqual(
    shorthandJob("apt", "update", {}, {
      target: { scope: "group", value: "web" },
      strategy: "continue",
      timeout: "30s",
    }),
    {
      target: { scope: "group", value: "web" },
      strategy: "continue",
      timeout: "30s",
      tasks: [{ backend: "apt", action: "update" }],
    },
  );
});

Deno.test("shorthandJob() checks names against the job schema", () => {
  usage(
    () => shorthandJob("ap.t", "install", {}, {}),
    /^invalid job: tasks\[0\]\.backend: must be 1-64 letters/,
  );
});

const DEPLOY = `
target:
  scope: group
  value: web
tasks:
  - backend: apt
    action: install
    max_retries: 2
    params: { package: nginx, version: 1.10, force: true, mode: 0o644, count: 3 }
  - tasks:
      - backend: test
        action: flaky
        params:
          rate: 50
          quoted: "007"
          anchor: &v 1.0
      - backend: ping
        action: echo
        params: { message: *v }
`;

Deno.test("fileJob() sends scalar params as strings, exactly as written", () => {
  const { body, ignored } = fileJob("deploy.yaml", DEPLOY, {});
  assert.deepEqual(ignored, []);
  assert.deepEqual(body, {
    target: { scope: "group", value: "web" },
    tasks: [
      {
        backend: "apt",
        action: "install",
        max_retries: 2,
        params: {
          package: "nginx",
          version: "1.10",
          force: "true",
          mode: "0o644",
          count: "3",
        },
      },
      {
        tasks: [
          {
            backend: "test",
            action: "flaky",
            params: { rate: "50", quoted: "007", anchor: "1.0" },
          },
          { backend: "ping", action: "echo", params: { message: "1.0" } },
        ],
      },
    ],
  });
});

Deno.test("fileJob() lets the command line override target, strategy and timeout", () => {
  const { body } = fileJob("deploy.yaml", DEPLOY, {
    target: { scope: "node", value: "web-01" },
    strategy: "continue",
    timeout: "5m",
  });
  assert.deepEqual(body.target, { scope: "node", value: "web-01" });
  assert.equal(body.strategy, "continue");
  assert.equal(body.timeout, "5m");
});

Deno.test("fileJob() reads JSON files", () => {
  const text =
    '{"tasks": [{"backend": "ping", "action": "echo", "params": {"n": 1.50}}]}';
  assert.deepEqual(fileJob("job.json", text, {}).body, {
    tasks: [{ backend: "ping", action: "echo", params: { n: "1.50" } }],
  });
});

Deno.test("fileJob() leaves out top-level keys that are not part of a job (expect quietly)", () => {
  const text =
    "tasks:\n  - {backend: ping, action: echo}\nexpect:\n  status: completed\nx: 1\n";
  assert.deepEqual(fileJob("s.yaml", text, {}), {
    body: { tasks: [{ backend: "ping", action: "echo" }] },
    ignored: ["x"],
  });
});

Deno.test("fileJob() reports syntax errors as file:line:col: reason", () => {
  usage(
    () =>
      fileJob(
        "deploy.yaml",
        "target:\n  scope: all\ntasks:\n  - backend: [ping\n",
        {},
      ),
    /^deploy\.yaml:5:1: Flow sequence in block collection must be/,
  );
  usage(
    () => fileJob("dup.yaml", "tasks: []\ntasks: []\n", {}),
    "dup.yaml:2:1: Map keys must be unique",
  );
  usage(
    () => fileJob("job.json", '{\n  "tasks": [\n}', {}),
    /^job\.json:3:1: /,
  );
  usage(
    () => fileJob("two.yaml", "a: 1\n---\nb: 2\n", {}),
    "two.yaml:2:1: a job file holds one YAML document (found a second '---')",
  );
});

Deno.test("fileJob() names the field that is wrong", () => {
  usage(() => fileJob("a.yaml", "", {}), "a.yaml: the file is empty");
  usage(
    () => fileJob("a.yaml", "- 1\n", {}),
    /^a\.yaml: a job file must be a mapping/,
  );
  usage(
    () => fileJob("a.yaml", "target: {scope: all}\n", {}),
    /^a\.yaml: tasks: /,
  );
  usage(
    () => fileJob("a.yaml", "tasks:\n  - backend: apt\n", {}),
    "a.yaml: tasks[0].action: is required",
  );
  usage(
    () =>
      fileJob(
        "a.yaml",
        "tasks:\n  - {backend: apt, action: install, params: {p: }}\n",
        {},
      ),
    "a.yaml: tasks[0].params.p: must be a string",
  );
  usage(
    () =>
      fileJob(
        "a.yaml",
        "tasks:\n  - {backend: a, action: b}\ntimeout: soon\n",
        {},
      ),
    /^a\.yaml: timeout: must be a duration/,
  );
});

Deno.test("fileJob: a rollout is sent as written, and checked", () => {
  const text = `tasks: [{backend: test, action: succeed}]
strategy: continue
rollout: {batch: 10%, canary: 1, pause: 30s, max_failures: 2}
`;
  const { body, ignored } = fileJob("r.yaml", text, {});
  assert.deepEqual(ignored, []);
  assert.deepEqual(body.rollout, {
    batch: "10%",
    canary: 1,
    pause: "30s",
    max_failures: 2,
  });
  assert.throws(
    () =>
      fileJob(
        "r.yaml",
        "tasks: [{backend: test, action: succeed}]\nrollout: {batch: 0}\n",
        {},
      ),
    /r\.yaml: rollout\.batch: must be a whole number of nodes/,
  );
});
