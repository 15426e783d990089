import assert from "node:assert/strict";
import { runAction } from "./run.ts";
import { systemdBackend } from "./systemd.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";

const CTL = "/usr/bin/systemctl";
const backends = { systemd: systemdBackend({ systemctl: CTL }) };
const PROPS = "--property=ActiveState,SubState,LoadState,UnitFileState";

function run(
  action: string,
  params: Record<string, string>,
  reply: Reply = {},
) {
  const exec = recordingExec(reply);
  return runAction(
    backends,
    { backend: "systemd", action, params },
    fakeContext({ exec }),
  )
    .then((o) => ({ ...o, calls: exec.calls }));
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
