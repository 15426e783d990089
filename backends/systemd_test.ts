import assert from "node:assert/strict";
import { WORKER_UNIT } from "../models/backend_table.ts";
import { WorkerConfig } from "../models/config.ts";
import { createBackends } from "./mod.ts";
import { runAction } from "./run.ts";
import {
  BUILTIN_DENY_UNITS,
  denyRules,
  enforcedDenyList,
  systemdBackend,
  type SystemdOptions,
} from "./systemd.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";
import type { BackendDef } from "./types.ts";

const CTL = "/usr/bin/systemctl";
const backends = { systemd: systemdBackend({ systemctl: CTL }) };
const PROPS = "--property=ActiveState,SubState,LoadState,UnitFileState";
const ACTIONS = ["start", "stop", "restart", "enable", "disable", "status"];

function run(
  action: string,
  params: Record<string, string>,
  reply: Reply = {},
  on: Record<string, BackendDef> | Map<string, BackendDef> = backends,
) {
  const exec = recordingExec(reply);
  return runAction(
    on,
    { backend: "systemd", action, params },
    fakeContext({ exec }),
  )
    .then((o) => ({ ...o, calls: exec.calls }));
}

/** The systemd backend built with `opts`, as a worker's registry holds it. */
const withOpts = (opts: SystemdOptions) => ({
  systemd: systemdBackend({ systemctl: CTL }, opts),
});

/** Asserts `action` on `unit` is refused by the deny list with nothing run. */
async function assertDenied(
  action: string,
  unit: string,
  completed: string,
  on: Record<string, BackendDef> = backends,
): Promise<string> {
  const r = await run(action, { unit }, {}, on);
  const what = `${action} ${unit}`;
  assert.equal(r.status, "failed", what);
  assert.equal(r.retryable, false, what);
  assert.deepEqual(r.calls, [], `${what} must not run anything`);
  assert.ok(
    r.error!.startsWith(
      `refused: ${action} ${completed} — ${completed} is on this worker's systemd deny list (`,
    ),
    `${what}: ${r.error}`,
  );
  assert.match(r.error!, /nothing was run/, what);
  assert.match(r.error!, /worker\.systemd\.deny_units/, what);
  return r.error!;
}

/** Asserts `action` on `unit` reaches systemctl. */
async function assertAllowed(
  action: string,
  unit: string,
  on: Record<string, BackendDef> = backends,
): Promise<void> {
  const r = await run(action, { unit }, {
    stdout: "ActiveState=active\nLoadState=loaded\n",
  }, on);
  assert.equal(r.status, "success", `${action} ${unit}: ${r.error}`);
  assert.equal(r.calls.length, 1, `${action} ${unit}`);
}

Deno.test("systemd - argv for every action", async () => {
  const table: [string, string, string[]][] = [
    ["start", "nginx", ["start", "--", "nginx.service"]],
    ["stop", "nginx.service", ["stop", "--", "nginx.service"]],
    ["restart", "getty@tty1.service", ["restart", "--", "getty@tty1.service"]],
    ["enable", "docker.socket", ["enable", "--", "docker.socket"]],
    ["disable", "fstrim.timer", ["disable", "--", "fstrim.timer"]],
    ["start", "dev-disk-by\\x2duuid-1.swap", [
      "start",
      "--",
      "dev-disk-by\\x2duuid-1.swap",
    ]],
    ["stop", "foo.conf", ["stop", "--", "foo.conf.service"]],
    ["status", "nginx", ["show", PROPS, "--", "nginx.service"]],
  ];
  for (const [action, unit, args] of table) {
    const r = await run(action, { unit }, {
      stdout: "ActiveState=active\nLoadState=loaded\n",
    });
    assert.equal(r.status, "success", `${action} ${unit}: ${r.error}`);
    assert.deepEqual(r.calls, [{ argv: [CTL, ...args] }]);
  }
});

Deno.test("systemd - status reports the state, active or not", async () => {
  const active = await run("status", { unit: "nginx" }, {
    stdout:
      "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n",
  });
  assert.equal(
    active.output,
    "ActiveState=active\nSubState=running\nLoadState=loaded\nUnitFileState=enabled\nnginx.service is active (running)",
  );
  const inactive = await run("status", { unit: "nginx" }, {
    stdout:
      "ActiveState=inactive\nSubState=dead\nLoadState=loaded\nUnitFileState=disabled\n",
  });
  assert.equal(inactive.status, "success");
  assert.match(inactive.output, /^ActiveState=inactive\n/);
  assert.match(
    inactive.output,
    /nginx\.service is not running: inactive \(dead\)$/,
  );
  const failed = await run("status", { unit: "nginx" }, {
    stdout:
      "ActiveState=failed\nSubState=failed\nLoadState=loaded\nUnitFileState=enabled\n",
  });
  assert.equal(failed.status, "success");
  assert.match(failed.output, /is not running: failed \(failed\)$/);
});

Deno.test("systemd - status of an unknown unit fails", async () => {
  const r = await run("status", { unit: "nginxx" }, {
    stdout:
      "ActiveState=inactive\nSubState=dead\nLoadState=not-found\nUnitFileState=\n",
  });
  assert.equal(r.status, "failed");
  assert.equal(r.error, "Unit nginxx.service not found");
  assert.equal(r.retryable, false);
  assert.match(r.output, /LoadState=not-found/);
});

Deno.test("systemd - failures carry systemctl's reason", async () => {
  const r = await run("start", { unit: "nginx" }, {
    code: 5,
    stderr: "Failed to start nginx.service: Unit nginx.service not found.\n",
  });
  assert.equal(
    r.error,
    "systemctl start nginx.service failed (exit code 5): Failed to start nginx.service: Unit nginx.service not found.",
  );
  assert.equal(r.retryable, false);
  const busy = await run("restart", { unit: "nginx" }, {
    code: 1,
    stderr:
      "Job for nginx.service failed because the control process exited with error code.",
  });
  assert.equal(busy.retryable, true);
  const noBus = await run("status", { unit: "nginx" }, {
    code: 1,
    stderr: "Failed to connect to bus: Host is down",
  });
  assert.equal(
    noBus.error,
    "systemctl show nginx.service failed (exit code 1): Failed to connect to bus: Host is down",
  );
});

Deno.test("systemd - bad unit names are refused and nothing runs", async () => {
  const attempts: [string, RegExp][] = [
    ["../../etc/passwd", /param "unit": must not contain "\/"/],
    ["/etc/systemd/system/x.service", /must not contain "\/"/],
    ["-H", /must not start with "-"/],
    ["--host=evil", /must not start with "-"/],
    ["nginx; rm -rf /", /must not contain "\/"/],
    ["nginx; reboot", /"nginx; reboot" may only contain/],
    ["nginx\nsshd", /may only contain/],
    ["nginx sshd", /may only contain/],
    ["nginx*", /may only contain/],
    ["", /must not be empty/],
    ["a".repeat(250), /at most 255 characters/],
  ];
  for (const action of ["start", "status"]) {
    for (const [unit, re] of attempts) {
      const r = await run(action, { unit });
      assert.equal(r.status, "failed");
      assert.equal(r.retryable, false);
      assert.match(r.error!, /^invalid params: param "unit": /);
      assert.match(r.error!, re);
      assert.equal(r.calls.length, 0);
    }
  }
  assert.match((await run("start", {})).error!, /param "unit": is required/);
  assert.match(
    (await run("start", { unit: "x", now: "1" })).error!,
    /param "now": is not a param/,
  );
});

// ---- the deny list (the worker's safety net) ----

Deno.test("systemd deny - every action on every built-in unit is refused, nothing runs", async () => {
  const expected = [
    ...[
      "reboot",
      "poweroff",
      "halt",
      "kexec",
      "soft-reboot",
      "emergency",
      "rescue",
      "ctrl-alt-del",
      "shutdown",
      "exit",
      "sleep",
      "suspend",
      "hibernate",
      "hybrid-sleep",
      "suspend-then-hibernate",
    ].flatMap((s) => [`${s}.target`, `${s}.service`]),
    ...[
      "reboot",
      "poweroff",
      "halt",
      "kexec",
      "soft-reboot",
      "exit",
      "suspend",
      "hibernate",
      "hybrid-sleep",
      "suspend-then-hibernate",
    ].map((s) => `systemd-${s}.service`),
    "runlevel0.target",
    "runlevel1.target",
    "runlevel6.target",
  ];
  assert.deepEqual([...BUILTIN_DENY_UNITS].sort(), expected.sort());
  for (const unit of BUILTIN_DENY_UNITS) {
    for (const action of ACTIONS) {
      const error = await assertDenied(action, unit, unit);
      assert.match(error, /\(built in: it can reboot, power off/);
    }
  }
});

Deno.test("systemd deny - bare names are completed as systemctl does, then refused", async () => {
  // "systemctl start reboot" acts on reboot.service: that form is denied too.
  for (const name of ["reboot", "poweroff", "halt", "kexec", "rescue"]) {
    await assertDenied("start", name, `${name}.service`);
  }
  await assertDenied("start", "emergency", "emergency.service");
  await assertDenied("start", "systemd-reboot", "systemd-reboot.service");
  await assertDenied("stop", "gridw", "gridw.service");
  // A suffix systemctl does not know is part of the name, as in systemctl.
  await assertAllowed("start", "reboot.conf");
});

Deno.test("systemd deny - the refusal says what, why and which key extends it", async () => {
  const r = await run("start", { unit: "reboot.target" });
  assert.equal(
    r.error,
    "refused: start reboot.target — reboot.target is on this worker's systemd deny list (built in: it can reboot, power off, suspend or isolate the node; config cannot lift it); nothing was run. worker.systemd.deny_units in the worker config adds units to the list",
  );
  const own = await run("stop", { unit: "gridw.service" });
  assert.equal(
    own.error,
    `refused: stop gridw.service — gridw.service is on this worker's systemd deny list (it is the worker's own unit (worker.systemd.own_unit): only "status" is allowed on it, so no task can cut the node off from GRID); nothing was run. worker.systemd.deny_units in the worker config adds units to the list`,
  );
  const cfg = await run(
    "stop",
    { unit: "nats-server" },
    {},
    withOpts({
      denyUnits: ["nats*"],
    }),
  );
  assert.equal(
    cfg.error,
    `refused: stop nats-server.service — nats-server.service is on this worker's systemd deny list (matches "nats*" in worker.systemd.deny_units); nothing was run. worker.systemd.deny_units in the worker config adds units to the list`,
  );
});

Deno.test("systemd deny - the worker's own unit: status only", async () => {
  assert.equal(WORKER_UNIT, "gridw.service");
  // The default must be the name the release installs the unit under.
  const unitFile = new URL(`../release/${WORKER_UNIT}`, import.meta.url);
  assert.ok((await Deno.stat(unitFile)).isFile);
  for (const action of ACTIONS.filter((a) => a !== "status")) {
    const error = await assertDenied(action, "gridw", "gridw.service");
    assert.match(error, /worker's own unit \(worker\.systemd\.own_unit\)/);
  }
  await assertAllowed("status", "gridw");
  await assertAllowed("status", "gridw.service");
  // Other units of the same stem are not the worker.
  await assertAllowed("restart", "gridw.socket");
  await assertAllowed("restart", "gridw-other");

  const moved = withOpts({ ownUnit: "grid-worker" });
  for (const action of ACTIONS.filter((a) => a !== "status")) {
    await assertDenied(
      action,
      "grid-worker",
      "grid-worker.service",
      moved,
    );
  }
  await assertAllowed("status", "grid-worker", moved);
  await assertAllowed("stop", "gridw", moved);
});

Deno.test("systemd deny - config adds names and globs; the built-in list stays", async () => {
  const on = withOpts({
    denyUnits: ["nats*", "nginx", "ssh?.socket", "db.target", "a.b*"],
  });
  for (const action of ACTIONS) {
    await assertDenied(action, "nats-server", "nats-server.service", on);
    await assertDenied(action, "nats.socket", "nats.socket", on);
    await assertDenied(action, "nginx", "nginx.service", on);
    await assertDenied(action, "sshd.socket", "sshd.socket", on);
    await assertDenied(action, "db.target", "db.target", on);
    await assertDenied(action, "reboot.target", "reboot.target", on);
    await assertDenied(action, "poweroff", "poweroff.service", on);
  }
  await assertDenied("stop", "gridw", "gridw.service", on);
  // A name is completed like a task's unit, so it denies only the service.
  await assertAllowed("start", "nginx.socket", on);
  // "?" is exactly one character; "." is literal; matching is whole-name.
  await assertAllowed("start", "ssh.socket", on);
  await assertAllowed("start", "sshdd.socket", on);
  await assertAllowed("start", "aXb.service", on);
  await assertAllowed("start", "my-nats.service", on);
  // Case-sensitive, as systemd: NATS.service is another (unknown) unit.
  await assertAllowed("start", "NATS.service", on);
  // Without the config entries the same units run.
  await assertAllowed("stop", "nats-server");
  await assertAllowed("stop", "nginx");
});

Deno.test("systemd deny - matching is case-sensitive like systemd", async () => {
  // Reboot.target is not reboot.target to systemd: it fails as not found.
  const r = await run("start", { unit: "Reboot.target" }, {
    code: 5,
    stderr: "Failed to start Reboot.target: Unit Reboot.target not found.\n",
  });
  assert.equal(r.calls.length, 1);
  assert.match(r.error!, /not found/);
  assert.equal(r.retryable, false);
  await assertAllowed("start", "REBOOT");
});

Deno.test("systemd deny - tricked names are refused before anything runs", async () => {
  const tricks = [
    "reboot.target ",
    " reboot.target",
    "reboot.target\n",
    "reboot.target\r",
    "reboot.target\t",
    "reboot.target\0",
    "./reboot.target",
    "../reboot.target",
    "/lib/systemd/system/reboot.target",
    "reboot.target;",
    "reboot.target reboot.target",
    "--force reboot.target",
    "-reboot.target",
    "gridw.service ",
    "./gridw.service",
    "gridw\n",
  ];
  for (const unit of tricks) {
    for (const action of ACTIONS) {
      const r = await run(action, { unit });
      assert.equal(r.status, "failed", JSON.stringify(unit));
      assert.equal(r.retryable, false);
      assert.match(r.error!, /^invalid params: param "unit": /);
      assert.deepEqual(r.calls, [], JSON.stringify(unit));
    }
  }
});

Deno.test("systemd deny - the worker's config keys reach the backend it builds", async () => {
  const config = WorkerConfig.parse({
    nats: { name: "w1" },
    worker: {
      systemd: { deny_units: ["nats*", "nginx"], own_unit: "grid-worker" },
    },
  });
  assert.deepEqual(config.worker.systemd, {
    deny_units: ["nats*", "nginx"],
    own_unit: "grid-worker",
  });
  const built = await createBackends(config.worker.binaries, {
    systemd: {
      denyUnits: config.worker.systemd.deny_units,
      ownUnit: config.worker.systemd.own_unit,
    },
    usable: () => Promise.resolve(true),
  });
  const list = enforcedDenyList(built.get("systemd"))!;
  assert.deepEqual(
    list,
    denyRules({
      denyUnits: ["nats*", "nginx"],
      ownUnit: "grid-worker",
    }),
  );
  assert.deepEqual(list.slice(-3), [
    { unit: "nats*", allows: [], from: "worker.systemd.deny_units" },
    { unit: "nginx.service", allows: [], from: "worker.systemd.deny_units" },
    {
      unit: "grid-worker.service",
      allows: ["status"],
      from: "worker.systemd.own_unit",
    },
  ]);
  const on = Object.fromEntries(built);
  await assertDenied("restart", "nats-server", "nats-server.service", on);
  await assertDenied("start", "reboot.target", "reboot.target", on);
  assert.equal(enforcedDenyList(built.get("apt")), undefined);

  const defaults = WorkerConfig.parse({ nats: { name: "w1" } });
  assert.deepEqual(defaults.worker.systemd, {
    deny_units: [],
    own_unit: "gridw.service",
  });
});

Deno.test("systemd deny - bad config entries are refused", () => {
  const bad = (systemd: unknown) => {
    const r = WorkerConfig.safeParse({
      nats: { name: "w1" },
      worker: { systemd },
    });
    assert.equal(r.success, false, JSON.stringify(systemd));
    return r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`)
      .join("\n");
  };
  assert.match(
    bad({ deny_units: ["/etc/x.service"] }),
    /^worker\.systemd\.deny_units\.0: must be a unit name or a glob/,
  );
  assert.match(bad({ deny_units: ["-x"] }), /deny_units\.0: /);
  assert.match(bad({ deny_units: ["a b"] }), /deny_units\.0: /);
  assert.match(bad({ deny_units: [""] }), /deny_units\.0: /);
  assert.match(bad({ deny_units: "nats*" }), /deny_units: /);
  assert.match(
    bad({ own_unit: "gridw*" }),
    /^worker\.systemd\.own_unit: must be a unit name \(/,
  );
  assert.match(bad({ allow_units: [] }), /allow_units/);
  assert.throws(() => denyRules({ denyUnits: ["a/b"] }), RangeError);
  assert.throws(() => denyRules({ ownUnit: "grid*" }), RangeError);
});
