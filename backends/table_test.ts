/**
 * The backend table against what follows it: the backends' definitions,
 * the worker config's defaults and the worker's permission set in deno.json.
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import {
  BACKEND_NAMES,
  BACKEND_TABLE,
  type BackendBinaries,
  type BackendEntry,
  BINARY_KEYS,
  binaryPaths,
  DEFAULT_BINARIES,
  DEFAULT_RKE2_INSTALLER_DIRS,
  KILL_PATH,
  workerPrograms,
  workerRunPermission,
} from "../models/backend_table.ts";
import { WorkerConfig } from "../models/config.ts";
import { backendDefinitions } from "./mod.ts";

// Paths unlike the defaults, so a backend that hard-codes one is caught.
const BIN: BackendBinaries = {
  "apt-get": "/t/apt-get",
  systemctl: "/t/systemctl",
  rke2: "/t/rke2",
};

/** Programs that would let a task run anything: never in the worker's run list. */
const SHELLS = new Set([
  "sh",
  "bash",
  "dash",
  "zsh",
  "ksh",
  "csh",
  "tcsh",
  "fish",
  "busybox",
  "env",
  "sudo",
  "su",
  "xargs",
  "deno",
  "python3",
  "perl",
]);

function entry(name: keyof typeof BACKEND_TABLE): BackendEntry {
  return BACKEND_TABLE[name];
}

function workerPermissions(): Record<string, unknown> {
  const url = new URL("../deno.json", import.meta.url);
  return JSON.parse(Deno.readTextFileSync(url)).permissions.worker;
}

Deno.test("table - each backend defines exactly the table's actions and requires its binaries", () => {
  const defs = backendDefinitions(BIN);
  assert.deepEqual(Object.keys(defs), BACKEND_NAMES);
  for (const name of BACKEND_NAMES) {
    const want = entry(name);
    const forms = [want, ...(want.fallback ? [want.fallback] : [])];
    const got = defs[name];
    assert.equal(got.length, forms.length, name);
    forms.forEach((form, i) => {
      const def = got[i]!;
      assert.equal(def.name, name);
      assert.deepEqual(Object.keys(def.actions), form.actions, name);
      assert.deepEqual(
        def.requires ?? [],
        binaryPaths(form.binaries, BIN),
        name,
      );
    });
  }
});

Deno.test("table - every binary is run by some backend, and the config defaults are the table's", () => {
  const used = new Set(
    BACKEND_NAMES.flatMap((n) => [
      ...entry(n).binaries,
      ...(entry(n).fallback?.binaries ?? []),
    ]),
  );
  assert.deepEqual([...used].sort(), [...BINARY_KEYS].sort());
  const config = WorkerConfig.parse({ nats: { name: "n" } });
  assert.deepEqual(config.worker.binaries, DEFAULT_BINARIES);
  assert.deepEqual(config.worker.rke2_installer_dirs, [
    ...DEFAULT_RKE2_INSTALLER_DIRS,
  ]);
  assert.deepEqual(workerPrograms(BIN), [...Object.values(BIN), KILL_PATH]);
});

Deno.test("table - rke2's installer grant lies in its default installer directory", () => {
  for (const p of entry("rke2").run ?? []) {
    assert.ok(
      DEFAULT_RKE2_INSTALLER_DIRS.some((d) => p.startsWith(`${d}/`)),
      p,
    );
  }
});

Deno.test("table - deno.json's worker run permission is exactly the table's", () => {
  const run = workerPermissions().run;
  assert.ok(Array.isArray(run), "permissions.worker.run must be a list");
  assert.equal(new Set(run).size, run.length, "no program listed twice");
  assert.deepEqual([...run].sort(), [...workerRunPermission()].sort());
});

Deno.test("table - the worker may not write, and may run no shell", () => {
  const perms = workerPermissions();
  assert.ok(!("write" in perms), "permissions.worker must not grant write");
  const run = [...(perms.run as string[]), ...workerRunPermission()];
  for (const p of run) {
    assert.ok(p.startsWith("/"), `${p} must be an absolute path`);
    assert.ok(!SHELLS.has(basename(p)), `${p} must not be in the run list`);
  }
});
