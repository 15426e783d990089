import assert from "node:assert/strict";
import { aptBackend, isDebianVersion, PACKAGE_RE } from "./apt.ts";
import { runAction } from "./run.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";

const APT = "/usr/bin/apt-get";
const backends = { apt: aptBackend({ "apt-get": APT }) };
const KEEP = [
  "-o",
  "Dpkg::Options::=--force-confdef",
  "-o",
  "Dpkg::Options::=--force-confold",
];

function run(
  action: string,
  params: Record<string, string>,
  reply: Reply = {},
) {
  const exec = recordingExec(reply);
  const outcome = runAction(
    backends,
    { backend: "apt", action, params },
    fakeContext({ exec }),
  );
  return outcome.then((o) => ({ ...o, calls: exec.calls }));
}

Deno.test("apt - argv for every action", async () => {
  const table: [string, Record<string, string>, string[]][] = [
    ["update", {}, ["-y", "-q", "update"]],
    ["install", { package: "nginx" }, [
      "-y",
      "-q",
      ...KEEP,
      "install",
      "--",
      "nginx",
    ]],
    ["install", { package: "nginx curl,libc6-dev g++ " }, [
      "-y",
      "-q",
      ...KEEP,
      "install",
      "--",
      "nginx",
      "curl",
      "libc6-dev",
      "g++",
    ]],
    ["install", { package: "nginx", version: "1.22.1-9+deb12u1" }, [
      "-y",
      "-q",
      ...KEEP,
      "install",
      "--",
      "nginx=1.22.1-9+deb12u1",
    ]],
    ["remove", { package: "nginx, nginx" }, [
      "-y",
      "-q",
      "remove",
      "--",
      "nginx",
    ]],
    ["upgrade", {}, ["-y", "-q", ...KEEP, "upgrade"]],
    ["upgrade", { package: "openssl libssl3" }, [
      "-y",
      "-q",
      ...KEEP,
      "install",
      "--only-upgrade",
      "--",
      "openssl",
      "libssl3",
    ]],
    ["upgrade", { package: "openssl", version: "3.0.15-1~deb12u1" }, [
      "-y",
      "-q",
      ...KEEP,
      "install",
      "--only-upgrade",
      "--",
      "openssl=3.0.15-1~deb12u1",
    ]],
  ];
  for (const [action, params, args] of table) {
    const r = await run(action, params, { stdout: "done\n" });
    assert.equal(
      r.status,
      "success",
      `${action} ${JSON.stringify(params)}: ${r.error}`,
    );
    assert.equal(r.output, "done");
    assert.deepEqual(r.calls, [{
      argv: [APT, ...args],
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }]);
  }
});

Deno.test("apt - injection attempts are refused and nothing runs", async () => {
  const attempts: [string, Record<string, string>, RegExp][] = [
    [
      "install",
      { package: "nginx; rm -rf /" },
      /param "package": "nginx;" is not a valid Debian package name/,
    ],
    [
      "install",
      { package: "-oAPT::Update::Pre-Invoke::=touch /tmp/x" },
      /param "package": "-oAPT::Update::Pre-Invoke::=touch"/,
    ],
    ["install", { package: "--allow-unauthenticated" }, /param "package"/],
    ["install", { package: "../../x" }, /param "package": "..\/..\/x"/],
    ["install", { package: "nginx\nrm" }, /param "package": "nginx\\nrm"/],
    ["install", { package: "nginx\trm" }, /param "package"/],
    ["install", { package: "Nginx" }, /param "package"/],
    ["install", { package: "x" }, /param "package"/],
    [
      "install",
      { package: " , " },
      /param "package": must name at least one package/,
    ],
    ["install", {}, /param "package": is required/],
    [
      "install",
      { package: "nginx", version: "1.0; rm -rf /" },
      /param "version": is not a valid Debian version/,
    ],
    ["install", { package: "nginx", version: "-1" }, /param "version"/],
    [
      "install",
      { package: "nginx curl", version: "1.0" },
      /param "version": pins one package, but 2 were listed/,
    ],
    [
      "install",
      { package: "nginx", options: "-o x" },
      /param "options": is not a param of this action \(accepted: package, version\)/,
    ],
    [
      "upgrade",
      { version: "1.0" },
      /param "version": needs a "package" to pin/,
    ],
    [
      "remove",
      { package: "nginx", version: "1.0" },
      /param "version": is not a param/,
    ],
    [
      "update",
      { package: "nginx" },
      /param "package": is not a param of this action \(accepted: none\)/,
    ],
  ];
  for (const [action, params, re] of attempts) {
    const r = await run(action, params);
    assert.equal(r.status, "failed");
    assert.equal(r.retryable, false);
    assert.match(r.error!, /^invalid params: /);
    assert.match(r.error!, re);
    assert.equal(r.calls.length, 0, `spawned for ${JSON.stringify(params)}`);
  }
});

Deno.test("apt - a held dpkg lock is retryable", async () => {
  for (
    const stderr of [
      "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 123 (apt-get)",
      "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?",
    ]
  ) {
    const r = await run("install", { package: "nginx" }, { code: 100, stderr });
    assert.equal(r.status, "failed");
    assert.match(r.error!, /^dpkg lock held by another process/);
    assert.equal(r.retryable, true);
    assert.match(r.output, /Could not get lock|Unable to acquire/);
  }
});

Deno.test("apt - failures carry apt-get's reason", async () => {
  const missing = await run("install", { package: "nginxx" }, {
    code: 100,
    stdout: "Reading package lists...\n",
    stderr: "E: Unable to locate package nginxx\n",
  });
  assert.equal(
    missing.error,
    "apt-get install failed (exit code 100): E: Unable to locate package nginxx",
  );
  assert.equal(missing.retryable, false);
  assert.equal(
    missing.output,
    "Reading package lists...\nE: Unable to locate package nginxx",
  );

  const net = await run("update", {}, {
    code: 100,
    stderr: "E: Failed to fetch http://deb.debian.org/...",
  });
  assert.equal(net.retryable, true);
  const killed = await run("update", {}, { code: null, signal: "SIGKILL" });
  assert.equal(killed.error, "apt-get update failed (killed by SIGKILL)");
});

Deno.test("apt - name and version rules", () => {
  for (
    const ok of ["nginx", "g++", "libc6-dev", "0ad", "python3.11", "xz-utils"]
  ) {
    assert.ok(PACKAGE_RE.test(ok), ok);
  }
  for (
    const bad of [
      "a",
      "-x",
      ".x",
      "+x",
      "Nginx",
      "a_b",
      "a/b",
      "a b",
      "a:amd64",
      "",
    ]
  ) {
    assert.ok(!PACKAGE_RE.test(bad), bad);
  }
  for (
    const ok of [
      "1.0",
      "1:2.3-4",
      "2.30-1+deb12u1",
      "1.2~rc1",
      "0",
      "1:1.2:3",
      "1.2-3-4",
      "7.88.1-10+deb12u8",
    ]
  ) {
    assert.ok(isDebianVersion(ok), ok);
  }
  for (
    const bad of [
      "",
      "a1.0",
      "1.0-",
      "x:1.0",
      "1.0:2",
      "1.0 ",
      "-1",
      "1.0-a_b",
      "1.0/2",
      ":1",
    ]
  ) {
    assert.ok(!isDebianVersion(bad), bad);
  }
});
