/**
 * Module boundaries, checked on the real module graph of each entrypoint
 * (`deno info --json`): what a binary imports is what it ships.
 */
import assert from "node:assert/strict";
import { ROOT } from "./harness.ts";

async function graph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  return info.modules.map((m: { specifier: string }) =>
    m.specifier.replace(`file://${ROOT}`, "").replace(/^npm:\/?/, "npm:")
  );
}

const folder = (spec: string) => spec.split("/")[0]!;

Deno.test("architecture: the worker never reaches controller or client code", async () => {
  const mods = await graph("worker/main.ts");
  assert.deepEqual(
    mods.filter((m) => ["controller", "client"].includes(folder(m))),
    [],
  );
  assert.ok(
    !mods.some((m) => m.startsWith("npm:hono")),
    "gridw must not carry hono",
  );
});

Deno.test("architecture: the CLI reaches only models, yaml and node builtins", async () => {
  const mods = await graph("client/main.ts");
  const foreign = mods.filter((m) =>
    !["client", "models"].includes(folder(m)) && !m.startsWith("node:") &&
    !m.startsWith("npm:yaml") && !m.startsWith("npm:zod")
  );
  assert.deepEqual(foreign, []);
});

Deno.test("architecture: models depend on nothing but zod", async () => {
  const mods = await graph("models/mod.ts");
  assert.deepEqual(
    mods.filter((m) => folder(m) !== "models" && !m.startsWith("npm:zod")),
    [],
  );
});

Deno.test("architecture: the controller never reaches worker, backend or client code", async () => {
  const mods = await graph("controller/main.ts");
  assert.deepEqual(
    mods.filter((m) => ["worker", "backends", "client"].includes(folder(m))),
    [],
  );
});

Deno.test("architecture: the root main.ts reaches no program ahead of time", async () => {
  // Each program is imported only when asked for, so running one from
  // source loads (and may reach) only its own graph.
  assert.deepEqual(await graph("main.ts"), ["main.ts"]);
});

Deno.test("architecture: main.ts refuses a worker with unrestricted run permission", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "worker", "--help"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 3);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /refusing to start a worker with unrestricted --allow-run/,
  );
});
