import assert from "node:assert/strict";
import type { z } from "zod";
import { ControllerConfig, WorkerConfig } from "../models/config.ts";
import { ConfigError, loadConfig, parseConfig } from "./config_file.ts";

/** The ConfigError message parseConfig throws for `text`. */
function problem(
  text: string,
  file = "grid.yaml",
  schema: z.ZodType = ControllerConfig,
): string {
  try {
    parseConfig(text, file, schema);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
    assert.equal(e.name, "ConfigError");
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

Deno.test("parseConfig: a controller file with defaults filled in", () => {
  const c = parseConfig(
    [
      "api:",
      "  port: 9000",
      "scheduler:",
      "  max_concurrent: 2",
      "  task_timeout: 90s",
      "",
    ].join("\n"),
    "controller.yaml",
    ControllerConfig,
  );
  assert.equal(c.api.port, 9000);
  assert.equal(c.api.max_body, 1024 * 1024);
  assert.equal(c.scheduler.max_concurrent, 2);
  assert.equal(c.scheduler.max_pending, 100);
  assert.equal(c.scheduler.task_timeout, 90_000);
  assert.equal(c.nodes.offline_after, 15_000);
});

Deno.test("parseConfig: an empty file or a comment-only file is all defaults", () => {
  const defaults = ControllerConfig.parse({});
  assert.deepEqual(parseConfig("", "c.yaml", ControllerConfig), defaults);
  assert.deepEqual(
    parseConfig("# nothing here\n", "c.yaml", ControllerConfig),
    defaults,
  );
});

Deno.test("parseConfig: the README worker file, urls as a string or a list", () => {
  const w = parseConfig(
    "nats:\n  name: web-01\n  client:\n    urls: nats://controller:4222\nworker:\n  groups:\n    - web\n    - prod\n",
    "worker.yaml",
    WorkerConfig,
  );
  assert.deepEqual(w.nats.client.urls, ["nats://controller:4222"]);
  assert.deepEqual(w.worker.groups, ["web", "prod"]);
  assert.equal(w.worker.heartbeat_interval, 5000);
  const l = parseConfig(
    "nats:\n  name: w\n  client:\n    urls:\n      - nats://a:4222\n      - nats://b:4222\n",
    "worker.yaml",
    WorkerConfig,
  );
  assert.deepEqual(l.nats.client.urls, ["nats://a:4222", "nats://b:4222"]);
});

Deno.test("parseConfig: a YAML syntax error gives file:line:col", () => {
  assert.match(
    problem("a: b: c\n", "bad.yaml"),
    /^bad\.yaml:1:4: invalid YAML: /,
  );
  assert.match(
    problem(
      "api:\n  port: 8765\nscheduler:\n  max_concurrent: [1\n",
      "ctl.yaml",
    ),
    /^ctl\.yaml:\d+:\d+: invalid YAML: /,
  );
  assert.match(
    problem("api:\n\tport: 1\n", "tabs.yaml"),
    /^tabs\.yaml:\d+:\d+: invalid YAML: /,
  );
});

Deno.test("parseConfig: a YAML syntax error message is a single line", () => {
  const msg = problem("a: b: c\n", "bad.yaml");
  assert.ok(!msg.includes("\n"), JSON.stringify(msg));
  assert.match(msg, /invalid YAML: \S/);
});

Deno.test("parseConfig: a bad value gives file:line: key.path: reason", () => {
  const text = [
    "api:", // 1
    "  port: 8765", // 2
    "scheduler:", // 3
    "  max_pending: 10", // 4
    "  max_concurrent: 0", // 5
    "",
  ].join("\n");
  assert.equal(
    problem(text, "/etc/grid/controller.yaml"),
    "/etc/grid/controller.yaml:5: scheduler.max_concurrent: must be at least 1",
  );
  assert.match(
    problem("nodes:\n  offline_after: soon\n", "c.yaml"),
    /^c\.yaml:2: nodes\.offline_after: "soon" is not a duration/,
  );
  assert.match(
    problem("api:\n  port: 99999\n", "c.yaml"),
    /^c\.yaml:2: api\.port: /,
  );
});

Deno.test("parseConfig: list items are reported on their own line with their index", () => {
  const text = [
    "nats:", // 1
    "  name: w1", // 2
    "  client:", // 3
    "    urls:", // 4
    "      - nats://a:4222", // 5
    "      - http://b", // 6
    "",
  ].join("\n");
  assert.match(
    problem(text, "w.yaml", WorkerConfig),
    /^w\.yaml:6: nats\.client\.urls\[1\]: must look like/,
  );
});

Deno.test("parseConfig: an unknown key is rejected, naming its section", () => {
  assert.match(
    problem("api:\n  port: 8765\n  enabled: true\n", "c.yaml"),
    /^c\.yaml:\d+: api: Unrecognized key: "enabled"$/,
  );
  assert.match(
    problem("api:\n  port: 8765\nbogus: 1\n", "c.yaml"),
    /^c\.yaml:\d+: .*"bogus"/,
  );
  assert.match(
    problem("nats:\n  jetstream:\n    store: /x\n", "c.yaml"),
    /^c\.yaml:3: nats\.jetstream: .*"store"/,
  );
});

Deno.test("parseConfig: an unknown key is reported on its own line", () => {
  // Line 3 is where the typo is; the section starts on line 1 and its first key on line 2.
  assert.equal(
    problem("api:\n  port: 8765\n  enabled: true\n", "c.yaml"),
    'c.yaml:3: api: Unrecognized key: "enabled"',
  );
  assert.equal(
    problem("api:\n  port: 8765\nbogus: 1\n", "c.yaml"),
    'c.yaml:3: (top level): Unrecognized key: "bogus"',
  );
});

Deno.test("parseConfig: duplicate keys are a YAML error with file:line:col", () => {
  assert.match(
    problem("api:\n  port: 1\n  port: 2\n", "c.yaml"),
    /^c\.yaml:3:3: invalid YAML: .*unique/,
  );
});

Deno.test("parseConfig: an unresolvable alias is a ConfigError, not a crash", () => {
  // problem() fails unless a ConfigError is thrown.
  assert.match(
    problem("api:\n  port: *nope\n", "c.yaml"),
    /^c\.yaml(:\d+(:\d+)?)?: invalid YAML: /,
  );
});

Deno.test("parseConfig: a missing required key is reported on its parent", () => {
  const msg = problem(
    "nats:\n  client:\n    urls: nats://a:4222\n",
    "w.yaml",
    WorkerConfig,
  );
  assert.match(msg, /^w\.yaml:2: nats\.name: /);
  assert.match(
    problem("worker:\n  groups: [web]\n", "w.yaml", WorkerConfig),
    /^w\.yaml(:\d+)?: nats: /,
  );
});

Deno.test("parseConfig: every problem is listed, one per line", () => {
  const msg = problem(
    "api:\n  port: -1\nscheduler:\n  max_concurrent: 0\n  task_timeout: x\n",
    "c.yaml",
  );
  const lines = msg.split("\n");
  assert.equal(lines.length, 3, msg);
  assert.match(lines[0]!, /^c\.yaml:2: api\.port: /);
  assert.match(lines[1]!, /^c\.yaml:4: scheduler\.max_concurrent: /);
  assert.match(lines[2]!, /^c\.yaml:5: scheduler\.task_timeout: /);
});

Deno.test("parseConfig: a document that is not a mapping is rejected", () => {
  assert.match(
    problem("- 1\n- 2\n", "c.yaml"),
    /^c\.yaml(:\d+)?: \(top level\): /,
  );
  assert.match(
    problem("just a string\n", "c.yaml"),
    /^c\.yaml(:\d+)?: \(top level\): /,
  );
});

Deno.test("loadConfig: reads a file; a missing file is a ConfigError naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-config-test-" });
  try {
    const file = `${dir}/worker.yaml`;
    await Deno.writeTextFile(file, "nats:\n  name: web-01\n");
    const w = await loadConfig(file, WorkerConfig);
    assert.equal(w.nats.name, "web-01");

    await Deno.writeTextFile(file, "nats:\n  name: web 01\n");
    await assert.rejects(
      () => loadConfig(file, WorkerConfig),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(`${file}:2: nats.name: `),
    );

    const missing = `${dir}/nope.yaml`;
    await assert.rejects(
      () => loadConfig(missing, WorkerConfig),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message === `${missing}: cannot read config: no such file`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
