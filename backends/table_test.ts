/**
 * The backend table against what follows it: the backends' definitions,
 * the worker config's defaults and the worker's permission set in deno.json.
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import {
  ALLOWED_PATHS,
  BACKEND_NAMES,
  BACKEND_TABLE,
  type BackendBinaries,
  type BackendEntry,
  BINARY_KEYS,
  binaryPaths,
  DEFAULT_BINARIES,
  DEFAULT_RKE2_INSTALLER_DIRS,
  KILL_PATH,
  WORKER_WRITE_GRANT,
  workerPrograms,
  workerRunPermission,
  workerSysPermission,
} from "../models/backend_table.ts";
import {
  backendNeeds,
  binaryKeysOf,
  workerNeeds,
} from "../models/backend_needs.ts";
import { WorkerConfig } from "../models/config.ts";
import { backendDefinitions } from "./mod.ts";

// Paths unlike the defaults, so a backend that hard-codes one is caught.
const BIN = Object.fromEntries(
  Object.keys(DEFAULT_BINARIES).map((k) => [k, `/t/${k}`]),
) as BackendBinaries;

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
    // oneOf: one form per program, in order, each needing it too.
    const forms = want.oneOf
      ? want.oneOf.map((k) => ({ ...want, binaries: [...want.binaries, k] }))
      : [want, ...(want.fallback ? [want.fallback] : [])];
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
  const used = new Set(BACKEND_NAMES.flatMap(binaryKeysOf));
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

Deno.test("table - the worker writes only the site's grant, and may run no shell", () => {
  const perms = workerPermissions();
  if (WORKER_WRITE_GRANT.length === 0) {
    assert.ok(!("write" in perms), "permissions.worker must not grant write");
  } else {
    assert.deepEqual(perms.write, [...WORKER_WRITE_GRANT]);
  }
  const run = [...(perms.run as string[]), ...workerRunPermission()];
  for (const p of run) {
    assert.ok(p.startsWith("/"), `${p} must be an absolute path`);
    assert.ok(!SHELLS.has(basename(p)), `${p} must not be in the run list`);
  }
});

Deno.test("table - deno.json's worker sys permission is exactly the table's", () => {
  const sys = workerPermissions().sys;
  assert.ok(Array.isArray(sys), "permissions.worker.sys must be a list");
  assert.deepEqual([...sys].sort(), [...workerSysPermission()].sort());
});

Deno.test("table - each entry's needs are well formed", () => {
  for (const name of BACKEND_NAMES) {
    const e = entry(name);
    assert.ok(!(e.oneOf && e.fallback), `${name}: oneOf or fallback, not both`);
    for (const k of e.oneOf ?? []) assert.ok(BINARY_KEYS.includes(k), k);
    for (const p of [...(e.read ?? []), ...(e.write ?? [])]) {
      assert.ok(
        p === ALLOWED_PATHS || p.startsWith("/"),
        `${name}: ${p} must be absolute or ${ALLOWED_PATHS}`,
      );
    }
    // A written path that holds a program the worker may run would let a
    // task replace that program and so run anything.
    for (const w of (e.write ?? []).filter((p) => p !== ALLOWED_PATHS)) {
      for (const r of workerRunPermission()) {
        assert.ok(
          !r.startsWith(`${w}/`) && r !== w,
          `${name}: ${w} holds ${r}`,
        );
      }
    }
  }
});

Deno.test("table - a worker's needs are the union of its enabled backends'", () => {
  const needs = workerNeeds(["ping", "systemd"], BIN, ["/srv/a"]);
  // kill(1) and ps(1) stop a task's whole tree, whatever is enabled.
  assert.deepEqual(needs.run, [BIN.systemctl, KILL_PATH, BIN.ps]);
  assert.deepEqual(needs.write, []);
  assert.equal(needs.net, false);
  assert.deepEqual(needs.sys, ["hostname"]);
  const all = workerNeeds(BACKEND_NAMES, BIN, ["/srv/a"]);
  // Every program some backend runs, at this node's paths, and kill(1).
  assert.deepEqual(
    [...all.run].sort(),
    [
      ...new Set([
        ...BACKEND_NAMES.flatMap((n) => binaryPaths(binaryKeysOf(n), BIN)),
        ...BACKEND_NAMES.flatMap((n) => entry(n).run ?? []),
        KILL_PATH,
        BIN.ps,
      ]),
    ].sort(),
  );
  const writers = BACKEND_NAMES.filter((n) =>
    (entry(n).write ?? []).includes(ALLOWED_PATHS)
  );
  if (writers.length) assert.ok(all.write.includes("/srv/a"));
  assert.deepEqual(
    backendNeeds("rke2", BIN, []).run,
    [BIN.systemctl, BIN.rke2, ...(entry("rke2").run ?? [])],
  );
});
