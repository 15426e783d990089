/**
 * The worker's sandbox, from the outside: the real permission set, a
 * stand-in systemctl through a real worker, and (as root, with Debian's
 * packages reachable) a real apt-get install and remove.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Json, ROOT, withCluster } from "./harness.ts";
import { permissionFlags } from "./permissions.ts";

Deno.test("sandbox: the worker may run apt-get, systemctl, rke2 and nothing else", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-P=worker",
      "worker/main.ts",
      "--self-check",
      "--json",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const check: Json = JSON.parse(new TextDecoder().decode(out.stdout));
  for (
    const p of ["/usr/bin/apt-get", "/usr/bin/systemctl", "/usr/local/bin/rke2"]
  ) {
    assert.equal(check.allowed[p], "granted", p);
  }
  const refused = Object.entries(check.refused as Record<string, string>);
  assert.ok(refused.length >= 4);
  for (const [p, s] of refused) assert.notEqual(s, "RAN", `${p} must not run`);
  // sh, bash, ls and deno itself exist here and are refused, not merely absent.
  for (const name of ["/bin/sh", "/bin/bash", "/bin/ls"]) {
    assert.equal(check.refused[name], "refused");
  }
  assert.equal(
    Object.entries(check.refused).find(([p]) => p.endsWith("/deno"))?.[1],
    "refused",
  );
  assert.equal(check.write, "prompt");
  assert.equal(check.ok, true);
});

Deno.test("sandbox: systemd through a real worker, with a stand-in systemctl", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-systemctl-" });
  const stub = join(dir, "systemctl");
  const argvLog = join(dir, "argv.log");
  // A stand-in, not GRID code: it records its argv and answers like systemctl.
  await Deno.writeTextFile(
    stub,
    `#!/bin/sh
echo "$*" >> ${argvLog}
case "$*" in
  *broken.service*) echo "Job for broken.service failed." >&2; exit 1 ;;
  show*) printf 'ActiveState=active\\nSubState=running\\nLoadState=loaded\\nUnitFileState=enabled\\n' ;;
esac
exit 0
`,
  );
  await Deno.chmod(stub, 0o755);
  try {
    const worker = {
      id: "s1",
      extra: `  binaries:\n    systemctl: ${stub}\n`,
      permissions: permissionFlags("worker", { run: [stub] }),
    };
    await withCluster({ workers: [worker] }, async (c) => {
      const id = await c.submit({
        strategy: "continue",
        tasks: [
          { backend: "systemd", action: "restart", params: { unit: "nginx" } },
          {
            backend: "systemd",
            action: "status",
            params: { unit: "nginx.service" },
          },
          { backend: "systemd", action: "start", params: { unit: "broken" } },
        ],
      });
      const job = await c.waitJob(id);
      assert.equal(job.results["0"]["s1"].status, "success");
      assert.match(job.results["1"]["s1"].output, /ActiveState=active/);
      assert.match(job.results["1"]["s1"].output, /SubState=running/);
      assert.equal(job.results["2"]["s1"].status, "failed");
      assert.match(
        job.results["2"]["s1"].error,
        /broken\.service failed|exit/i,
      );
      const argv = (await Deno.readTextFile(argvLog)).trim().split("\n");
      assert.ok(
        argv[0]!.includes("restart") && argv[0]!.includes("nginx.service"),
        argv[0],
      );
      assert.ok(argv.every((line) => !line.includes(";")));

      // An injection attempt is refused at submit, against the schema the
      // worker advertised, and nothing runs.
      const before = argv.length;
      const bad = await c.request("POST", "/job", {
        tasks: [{
          backend: "systemd",
          action: "start",
          params: { unit: "nginx; rm -rf /" },
        }],
      });
      assert.equal(bad.status, 400, JSON.stringify(bad.json));
      assert.match(bad.json.error, /tasks\[0\]\.params\.unit/);
      assert.match(bad.json.error, /node s1/);
      assert.equal(
        (await Deno.readTextFile(argvLog)).trim().split("\n").length,
        before,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function aptReachable(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "not running as root";
  try {
    await Deno.stat("/usr/bin/apt-get");
  } catch {
    return "apt-get is not installed";
  }
  const out = await new Deno.Command("apt-cache", {
    args: ["policy", "hello"],
    stdout: "piped",
  })
    .output().catch(() => undefined);
  const text = out ? new TextDecoder().decode(out.stdout) : "";
  if (!/Candidate: (?!\(none\))/.test(text)) {
    return "Debian's package lists have no 'hello' (run apt-get update)";
  }
  if (/Installed: (?!\(none\))/.test(text)) {
    return "'hello' is already installed here";
  }
  return undefined;
}

Deno.test("sandbox: a real apt-get install and remove through a real worker", async (t) => {
  const skip = await aptReachable();
  if (skip) {
    console.log(`skipped: ${skip}`);
    return;
  }
  await withCluster(
    { workers: [{ id: "pkg" }], taskTimeout: "5m" },
    async (c) => {
      await t.step("install", async () => {
        const id = await c.submit({
          tasks: [{
            backend: "apt",
            action: "install",
            params: { package: "hello" },
          }],
        });
        const job = await c.waitJob(id, 300_000);
        assert.equal(job.status, "completed", JSON.stringify(job.results));
        assert.ok((await Deno.stat("/usr/bin/hello")).isFile);
      });
      await t.step("remove", async () => {
        const id = await c.submit({
          tasks: [{
            backend: "apt",
            action: "remove",
            params: { package: "hello" },
          }],
        });
        const job = await c.waitJob(id, 300_000);
        assert.equal(job.status, "completed", JSON.stringify(job.results));
        await assert.rejects(() => Deno.stat("/usr/bin/hello"));
      });
    },
  );
});
