import assert from "node:assert/strict";
import { rke2Backend } from "./rke2.ts";
import { runAction } from "./run.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";
import type { BackendDef } from "./types.ts";

const CTL = "/usr/bin/systemctl";
const PATHS = { systemctl: CTL, rke2: "/usr/local/bin/rke2" };
const PROPS = "--property=ActiveState,SubState,LoadState,UnitFileState";

function run(
  backend: BackendDef,
  action: string,
  params: Record<string, string>,
  reply: Reply = {},
) {
  const exec = recordingExec(reply);
  return runAction(
    { rke2: backend },
    { backend: "rke2", action, params },
    fakeContext({ exec }),
  )
    .then((o) => ({ ...o, calls: exec.calls }));
}

Deno.test("rke2 - service actions go through systemctl", async () => {
  const b = rke2Backend(PATHS);
  const table: [string, Record<string, string>, string[]][] = [
    ["start", {}, ["start", "--", "rke2-server.service"]],
    ["stop", { mode: "server" }, ["stop", "--", "rke2-server.service"]],
    ["restart", { mode: "agent" }, ["restart", "--", "rke2-agent.service"]],
    ["status", { mode: "agent" }, ["show", PROPS, "--", "rke2-agent.service"]],
  ];
  for (const [action, params, args] of table) {
    const r = await run(b, action, params, {
      stdout: "ActiveState=active\nSubState=running\n",
    });
    assert.equal(r.status, "success", `${action}: ${r.error}`);
    assert.deepEqual(r.calls, [{ argv: [CTL, ...args] }]);
  }
  const bad = await run(b, "start", { mode: "master" });
  assert.equal(
    bad.error,
    'invalid params: param "mode": must be "server" or "agent"',
  );
  assert.equal(bad.calls.length, 0);
});

/** A temp dir laid out like an operator's /opt/grid/rke2, plus an outside dir. */
async function withInstallerDir(
  fn: (dir: string, outside: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "grid-rke2-" });
  try {
    const dir = `${root}/rke2`;
    const outside = `${root}/elsewhere`;
    await Deno.mkdir(dir);
    await Deno.mkdir(outside);
    await Deno.writeTextFile(`${dir}/install.sh`, "#!/bin/sh\nexit 0\n", {
      mode: 0o755,
    });
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a program\n", {
      mode: 0o644,
    });
    await Deno.writeTextFile(`${outside}/evil.sh`, "#!/bin/sh\nexit 0\n", {
      mode: 0o755,
    });
    await Deno.symlink(`${outside}/evil.sh`, `${dir}/escape.sh`);
    await Deno.symlink(`${dir}/install.sh`, `${dir}/current.sh`);
    await Deno.symlink(dir, `${root}/rke2-link`);
    await Deno.mkdir(`${dir}/subdir`);
    await fn(dir, outside);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("rke2 - install runs the installer directly, never via a shell", async () => {
  await withInstallerDir(async (dir) => {
    const real = await Deno.realPath(`${dir}/install.sh`);
    const realDir = real.slice(0, real.lastIndexOf("/"));
    const b = rke2Backend(PATHS, { installerDirs: [dir] });
    for (
      const [params, mode] of [[{}, "server"], [
        { mode: "agent" },
        "agent",
      ]] as const
    ) {
      const r = await run(b, "install", {
        installer: `${dir}/install.sh`,
        ...params,
      }, { stdout: "ok\n" });
      assert.equal(r.status, "success", r.error);
      assert.deepEqual(r.calls, [{
        argv: [real],
        env: { INSTALL_RKE2_TYPE: mode, INSTALL_RKE2_ARTIFACT_PATH: realDir },
      }]);
      assert.equal(r.output, `ok\ninstalled rke2 ${mode} with ${real}`);
    }
    // A symlink that stays inside is fine; the resolved path is what runs.
    const linked = await run(b, "install", { installer: `${dir}/current.sh` });
    assert.deepEqual(linked.calls[0]!.argv, [real]);
    // So is an allowed directory that is itself reached through a symlink.
    const viaLink = rke2Backend(PATHS, { installerDirs: [`${dir}-link`] });
    const r = await run(viaLink, "install", {
      installer: `${dir}-link/install.sh`,
    });
    assert.equal(r.status, "success", r.error);
  });
});

Deno.test("rke2 - install refuses installers outside the allowed dirs", async () => {
  await withInstallerDir(async (dir, outside) => {
    const b = rke2Backend(PATHS, { installerDirs: [dir] });
    const attempts: [string, RegExp][] = [
      [`${dir}/escape.sh`, /resolves to .*elsewhere\/evil\.sh, outside /],
      [`${outside}/evil.sh`, /must be inside /],
      [
        `${dir}/../elsewhere/evil.sh`,
        /must not contain empty, "\." or "\.\." path segments/,
      ],
      [`${dir}//install.sh`, /path segments/],
      ["../../x", /must be an absolute path/],
      ["install.sh", /must be an absolute path/],
      [`${dir}/install.sh\n/bin/sh`, /control characters/],
      [dir, /must be inside /],
      [`${dir}/missing.sh`, /missing\.sh does not exist/],
      [`${dir}/notes.txt`, /notes\.txt is not executable/],
      [`${dir}/subdir`, /subdir is not a regular file/],
      ["/bin/sh", /must be inside /],
    ];
    for (const [installer, re] of attempts) {
      const r = await run(b, "install", { installer });
      assert.equal(r.status, "failed", installer);
      assert.equal(r.retryable, false, installer);
      assert.match(r.error!, /param "installer": /);
      assert.match(r.error!, re);
      assert.equal(r.calls.length, 0, `spawned for ${installer}`);
    }
    assert.match(
      (await run(b, "install", {})).error!,
      /param "installer": is required/,
    );
  });
});

Deno.test("rke2 - install reports the installer's failure", async () => {
  await withInstallerDir(async (dir) => {
    const b = rke2Backend(PATHS, { installerDirs: [dir] });
    const r = await run(b, "install", { installer: `${dir}/install.sh` }, {
      code: 1,
      stderr: "[ERROR] artifacts not found\n",
    });
    assert.match(
      r.error!,
      /^rke2 installer .*install\.sh failed \(exit code 1\): \[ERROR\] artifacts not found$/,
    );
    assert.equal(r.retryable, true);
  });
});

Deno.test("rke2 - options", () => {
  assert.deepEqual(
    Object.keys(rke2Backend(PATHS, { installOnly: true }).actions),
    ["install"],
  );
  assert.deepEqual(rke2Backend(PATHS).requires, [CTL, "/usr/local/bin/rke2"]);
  assert.throws(
    () => rke2Backend(PATHS, { installerDirs: ["opt/grid"] }),
    TypeError,
  );
  assert.throws(
    () => rke2Backend(PATHS, { installerDirs: ["/opt/../tmp"] }),
    TypeError,
  );
});
