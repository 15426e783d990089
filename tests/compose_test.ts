/**
 * Our machines have no Docker engine, so compose.yaml is checked for what
 * can be checked without one: it parses, every config it names exists and
 * is a valid GRID config, and the tasks it runs exist.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { join } from "node:path";
import { ControllerConfig, WorkerConfig } from "../models/config.ts";
import { parseConfig } from "../lib/config_file.ts";
import { ROOT } from "./harness.ts";

Deno.test("compose.yaml: parses and names only files and tasks that exist", async () => {
  const compose = parse(await Deno.readTextFile(join(ROOT, "compose.yaml")));
  const tasks =
    JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;
  const services = Object.entries(compose.services) as [
    string,
    { command: string },
  ][];
  assert.deepEqual(services.map(([n]) => n).sort(), [
    "controller",
    "web-01",
    "web-02",
  ]);
  for (const [name, svc] of services) {
    const m = /deno task (\w+) -c ([^\s"]+)/.exec(svc.command);
    assert.ok(m, `${name}: runs a deno task with a config`);
    assert.ok(m[1]! in tasks, `${name}: task ${m[1]} exists`);
    const file = join(ROOT, m[2]!);
    const text = await Deno.readTextFile(file);
    const schema = m[1] === "controller" ? ControllerConfig : WorkerConfig;
    parseConfig(text, file, schema);
  }
});
