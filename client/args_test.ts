import assert from "node:assert/strict";
import {
  type Invocation,
  parseCli,
  parseParams,
  parseTarget,
  UsageError,
} from "./args.ts";

function usage(argv: string[], message: string | RegExp): void {
  assert.throws(() => parseCli(argv), (e: unknown) => {
    assert.ok(e instanceof UsageError, `not a UsageError: ${e}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

Deno.test("parseCli() reads the shorthand job form", () => {
  const inv = parseCli([
    "job",
    "run",
    "-t",
    "group:web",
    "apt",
    "install",
    "package=nginx",
    "opts=--a=b",
    "--wait",
  ]);
  assert.deepEqual(
    inv,
    {
      output: "table",
      command: {
        kind: "job run",
        source: {
          kind: "shorthand",
          backend: "apt",
          action: "install",
          params: { package: "nginx", opts: "--a=b" },
        },
        target: { scope: "group", value: "web" },
        wait: true,
      },
    } satisfies Invocation,
  );
});

Deno.test("parseCli() reads a job file with overrides and global flags anywhere", () => {
  const inv = parseCli([
    "-a",
    "http://ctl:8765",
    "job",
    "run",
    "-f",
    "deploy.yaml",
    "--strategy=continue",
    "--timeout",
    "1m30s",
    "-o",
    "json",
    "-w",
  ]);
  assert.deepEqual(
    inv,
    {
      api: "http://ctl:8765",
      output: "json",
      command: {
        kind: "job run",
        source: { kind: "file", path: "deploy.yaml" },
        strategy: "continue",
        timeout: "1m30s",
        wait: true,
      },
    } satisfies Invocation,
  );
});

Deno.test("parseCli() reads every other command", () => {
  const cmd = (argv: string[]) => parseCli(argv).command;
  assert.deepEqual(cmd(["job", "get", "abc"]), {
    kind: "job get",
    id: "abc",
    wait: false,
  });
  assert.deepEqual(cmd(["job", "get", "-w", "abc"]), {
    kind: "job get",
    id: "abc",
    wait: true,
  });
  assert.deepEqual(cmd(["job", "list"]), { kind: "job list" });
  assert.deepEqual(
    cmd(["job", "list", "--status", "failed", "-n", "5", "--before", "j9"]),
    { kind: "job list", status: "failed", limit: 5, before: "j9" },
  );
  assert.deepEqual(cmd(["job", "cancel", "abc"]), {
    kind: "job cancel",
    id: "abc",
  });
  assert.deepEqual(cmd(["node", "list"]), { kind: "node list" });
  assert.deepEqual(cmd(["node", "info", "web-01.example"]), {
    kind: "node info",
    id: "web-01.example",
  });
  assert.deepEqual(cmd(["status"]), { kind: "status" });
  assert.deepEqual(cmd(["--version"]), { kind: "version" });
});

Deno.test("parseCli() answers --help for every command and group, even with bad flags", () => {
  const topic = (argv: string[]) => {
    const c = parseCli(argv).command;
    assert.equal(c.kind, "help");
    return c.kind === "help" ? c.topic : undefined;
  };
  assert.equal(topic(["--help"]), "");
  assert.equal(topic(["-h"]), "");
  assert.equal(topic(["job", "--help"]), "job");
  assert.equal(topic(["node", "-h"]), "node");
  assert.equal(topic(["job", "run", "--help", "--bogus"]), "job run");
  assert.equal(topic(["job", "get", "-h"]), "job get");
  assert.equal(topic(["job", "list", "-h"]), "job list");
  assert.equal(topic(["job", "cancel", "-h"]), "job cancel");
  assert.equal(topic(["node", "list", "-h"]), "node list");
  assert.equal(topic(["node", "info", "-h"]), "node info");
  assert.equal(topic(["status", "--help"]), "status");
  assert.equal(topic(["help"]), "");
  assert.equal(topic(["help", "job"]), "job");
  assert.equal(topic(["help", "job", "run"]), "job run");
  usage(["help", "jobs"], `unknown command "jobs" (see 'gridc --help')`);
});

Deno.test("parseCli() rejects unknown and missing commands", () => {
  usage(
    [],
    "missing command: job, node, token, audit, controllers or status (see 'gridc --help')",
  );
  usage(["jobs"], `unknown command "jobs" (see 'gridc --help')`);
  usage(
    ["job"],
    "missing job command: run, plan, get, logs, list, cancel, resume (see 'gridc job --help')",
  );
  usage(
    ["node"],
    "missing node command: list, info, enroll, revoke (see 'gridc node --help')",
  );
  usage(
    ["job", "delete", "x"],
    `unknown command "job delete" (see 'gridc job --help')`,
  );
  usage(["foo", "--help"], `unknown command "foo" (see 'gridc --help')`);
});

Deno.test("parseCli() rejects unknown, repeated and malformed options", () => {
  usage(
    ["job", "list", "--bogus"],
    `unknown option --bogus for "job list" (see 'gridc job list --help')`,
  );
  usage(
    ["status", "-x"],
    `unknown option -x for "status" (see 'gridc status --help')`,
  );
  usage(["job", "list", "--wait"], /^unknown option --wait for "job list"/);
  usage(["node", "list", "-t", "all"], /^unknown option -t for "node list"/);
  usage(
    ["job", "run", "-t", "all", "-t", "group:x", "a", "b"],
    "option -t is given more than once",
  );
  usage(
    ["job", "run", "--wait=yes", "a", "b"],
    "option --wait does not take a value",
  );
  usage(["job", "run", "a", "b", "-t"], "option -t needs a value");
  usage(["job", "run", "-t", "-w", "a", "b"], "option -t needs a value");
  usage(["status", "-o", "yaml"], `-o "yaml": use table or json`);
  usage(["status", "-a"], "option -a needs a value");
});

Deno.test("parseCli() checks the number of arguments", () => {
  usage(["job", "get"], "missing job ID (see 'gridc job get --help')");
  usage(["job", "cancel"], "missing job ID (see 'gridc job cancel --help')");
  usage(["node", "info"], "missing node ID (see 'gridc node info --help')");
  usage(
    ["job", "get", "a", "b"],
    `unexpected argument "b" (see 'gridc job get --help')`,
  );
  usage(
    ["status", "now"],
    `unexpected argument "now" (see 'gridc status --help')`,
  );
  usage(
    ["job", "list", "x"],
    `unexpected argument "x" (see 'gridc job list --help')`,
  );
  usage(
    ["node", "list", "x"],
    `unexpected argument "x" (see 'gridc node list --help')`,
  );
});

Deno.test("parseCli() checks job run's arguments and values", () => {
  usage(
    ["job", "run"],
    "missing BACKEND and ACTION, or -f FILE (see 'gridc job run --help')",
  );
  usage(["job", "run", "ping"], /^missing BACKEND and ACTION/);
  usage(
    ["job", "run", "-f", "x.yaml", "ping", "echo"],
    `-f takes the tasks from the file: remove "ping echo"`,
  );
  usage(
    ["job", "run", "ping", "echo", "message"],
    `argument "message" is not key=value`,
  );
  usage(["job", "run", "ping", "echo", "=x"], `argument "=x" has an empty key`);
  usage(
    ["job", "run", "ping", "echo", "a=1", "a=2"],
    `argument "a=2": parameter "a" is given twice`,
  );
  usage(
    ["job", "run", "-s", "yolo", "a", "b"],
    `--strategy "yolo": use fail-fast or continue`,
  );
  usage(
    ["job", "run", "--timeout", "5 minutes", "a", "b"],
    /^--timeout "5 minutes": not a duration/,
  );
  usage(
    ["job", "run", "-t", "web", "a", "b"],
    `-t "web": use all, group:NAME or node:ID`,
  );
});

Deno.test("parseCli() checks job list's values", () => {
  usage(
    ["job", "list", "--status", "done"],
    `--status "done": use one of pending, running, completed, failed, cancelled`,
  );
  usage(
    ["job", "list", "-n", "0"],
    `--limit "0": must be a whole number of at least 1`,
  );
  usage(
    ["job", "list", "--limit", "ten"],
    `--limit "ten": must be a whole number of at least 1`,
  );
  usage(["job", "list", "--limit", "1.5"], /^--limit "1\.5"/);
});

Deno.test("parseCli() reads job logs: -f is --follow there, before or after the id", () => {
  const logs = (argv: string[]) => parseCli(["job", "logs", ...argv]).command;
  assert.deepEqual(logs(["j1"]), { kind: "job logs", id: "j1", follow: false });
  for (const argv of [["-f", "j1"], ["j1", "-f"], ["--follow", "j1"]]) {
    assert.deepEqual(logs(argv), { kind: "job logs", id: "j1", follow: true });
  }
  assert.deepEqual(
    parseCli([
      "-a",
      "h:1",
      "job",
      "logs",
      "-f",
      "j1",
      "--node",
      "web-01",
      "--step",
      "2",
    ]),
    {
      api: "h:1",
      output: "table",
      command: {
        kind: "job logs",
        id: "j1",
        follow: true,
        node: "web-01",
        step: 2,
      },
    },
  );
  // Elsewhere -f is still the job file.
  const run = parseCli(["job", "run", "-f", "deploy.yaml"]).command;
  assert.deepEqual(run.kind === "job run" && run.source, {
    kind: "file",
    path: "deploy.yaml",
  });
  usage(["job", "logs"], "missing job ID (see 'gridc job logs --help')");
  usage(
    ["job", "logs", "j1", "--step", "x"],
    `--step "x": must be a step number: 0, 1, …`,
  );
  usage(["job", "logs", "j1", "--step", "-1"], "option --step needs a value");
  usage(
    ["job", "logs", "j1", "--node", "a b"],
    /^--node "a b": must be letters/,
  );
  usage(
    ["job", "logs", "j1", "--wait"],
    `unknown option --wait for "job logs" (see 'gridc job logs --help')`,
  );
  usage(
    ["job", "get", "j1", "--follow"],
    /^unknown option --follow for "job get"/,
  );
});

Deno.test("parseTarget() accepts all, group:NAME and node:ID", () => {
  assert.deepEqual(parseTarget("all"), { scope: "all" });
  assert.deepEqual(parseTarget("group:web"), { scope: "group", value: "web" });
  assert.deepEqual(parseTarget("node:web-01.example"), {
    scope: "node",
    value: "web-01.example",
  });
  for (const bad of ["all:x", "group", "node", "rack:1", ""]) {
    assert.throws(() => parseTarget(bad), /use all, group:NAME or node:ID/);
  }
  assert.throws(
    () => parseTarget("group:"),
    /^UsageError: -t "group:": group name is required/,
  );
  assert.throws(
    () => parseTarget("group:a.b"),
    /-t "group:a\.b": group name must be 1-64/,
  );
  assert.throws(
    () => parseTarget("node:a b"),
    /-t "node:a b": node id must be/,
  );
});

Deno.test("parseParams() splits at the first '='", () => {
  assert.deepEqual(parseParams(["a=1", "b=x=y", "c="]), {
    a: "1",
    b: "x=y",
    c: "",
  });
  assert.deepEqual(parseParams([]), {});
});
