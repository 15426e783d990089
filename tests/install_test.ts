/**
 * `deno task install`: gridc on PATH as a plain command, with the client
 * permission set and no Deno notice lines around its own output.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./harness.ts";

const dec = new TextDecoder();

async function run(cmd: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: "/",
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("deno task install puts a gridc on PATH that prints no Deno warnings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-install-" });
  try {
    const installed = await run(Deno.execPath(), [
      "task",
      "--quiet",
      "--config",
      join(ROOT, "deno.json"),
      "install",
      "--dir",
      dir,
    ], {});
    assert.equal(installed.code, 0, installed.stderr);
    const gridc = join(dir, "gridc");
    const text = await Deno.readTextFile(gridc);
    assert.match(text, / -P=client /);
    assert.match(text, / --no-prompt /);
    assert.equal((await Deno.stat(gridc)).mode! & 0o111, 0o111);

    const env = { PATH: `${dir}:/usr/bin:/bin`, HOME: dir };
    const version = await run("gridc", ["--version"], env);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^gridc \d+\.\d+\.\d+ \(deno /);
    assert.equal(version.stderr, "", "no Deno notice lines");

    // An error is gridc's one line, nothing of Deno's around it.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = l.addr.port;
    l.close();
    const down = await run("gridc", [
      "-a",
      `http://127.0.0.1:${port}`,
      "--token",
      "t",
      "status",
    ], env);
    assert.equal(down.code, 4);
    assert.match(
      down.stderr,
      /^gridc: cannot reach the controller at [^\n]+\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
