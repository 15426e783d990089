/**
 * The backend registry a worker starts with. `ping` and `test` need nothing
 * from the host and are always there; the system backends are registered
 * only when the programs they run exist and Deno may run them, so a node
 * never advertises an action that is bound to fail.
 */
import {
  BACKEND_NAMES,
  BACKEND_TABLE,
  type BackendBinaries,
  type BackendEntry,
  type BackendName,
  type BinaryKey,
} from "../models/backend_table.ts";
import { aptBackend } from "./apt.ts";
import { certBackend } from "./cert.ts";
import { configBackend } from "./config.ts";
import { dnsBackend } from "./dns.ts";
import { fileBackend } from "./file.ts";
import { healthBackend } from "./health.ts";
import { pingBackend } from "./ping.ts";
import { rke2Backend, type Rke2Options } from "./rke2.ts";
import { systemdBackend, type SystemdOptions } from "./systemd.ts";
import { sysinfoBackend } from "./sysinfo.ts";
import { testBackend, type TestBackendOptions } from "./test_actions.ts";
import { firewallBackend } from "./firewall.ts";
import { journaldBackend } from "./journald.ts";
import { netBackend } from "./net.ts";
import { packageBackend } from "./package.ts";
import { procBackend } from "./proc.ts";
import { userBackend } from "./user.ts";
import type { BackendDef } from "./types.ts";

export interface BackendOptions {
  rke2?: Omit<Rke2Options, "installOnly">;
  /** The systemd backend's deny list, beyond the built-in one. */
  systemd?: SystemdOptions;
  test?: TestBackendOptions;
  /** Decides whether a program can be run; a seam for tests. @default isUsable */
  usable?: (path: string) => Promise<boolean>;
  /** The worker config's `worker.backends`: only these register. @default all */
  enabled?: readonly BackendName[];
  /** The worker config's `worker.file.allowed_paths`. */
  allowedPaths?: readonly string[];
}

/**
 * The forms of a backend whose table entry has `oneOf`: one per key, in the
 * table's order, each built knowing the program it got (and requiring it).
 */
export function oneOfForms(
  name: BackendName,
  build: (key: BinaryKey) => BackendDef,
): BackendDef[] {
  const entry: BackendEntry = BACKEND_TABLE[name];
  return (entry.oneOf ?? []).map(build);
}

/**
 * True when `path` is an existing file this process may run. A stat that
 * is NotCapable (no --allow-read) counts as unusable.
 */
export async function isUsable(path: string): Promise<boolean> {
  try {
    if (!(await Deno.stat(path)).isFile) return false;
    const perm = await Deno.permissions.query({ name: "run", command: path });
    return perm.state === "granted";
  } catch {
    return false;
  }
}

/**
 * Each backend of the table as the definitions to try, in order: the full
 * one, then its fallback if the table gives one. rke2 falls back to only
 * `install` where systemctl exists but rke2 does not yet: otherwise a node
 * could never be bootstrapped through GRID. A backend with `oneOf` in the
 * table gives `oneOfForms(name, (key) => itsBackend(binaries, key))`; one
 * that writes gets `opts.allowedPaths`.
 */
export function backendDefinitions(
  binaries: BackendBinaries,
  opts: Omit<BackendOptions, "usable" | "enabled"> = {},
): Record<BackendName, BackendDef[]> {
  return {
    ping: [pingBackend()],
    test: [testBackend(opts.test)],
    apt: [aptBackend(binaries)],
    systemd: [systemdBackend(binaries, opts.systemd)],
    rke2: [
      rke2Backend(binaries, opts.rke2),
      rke2Backend(binaries, { ...opts.rke2, installOnly: true }),
    ],
    sysinfo: [sysinfoBackend()],
    file: [fileBackend({ allowedPaths: opts.allowedPaths })],
    config: [configBackend({ allowedPaths: opts.allowedPaths })],
    proc: [procBackend(binaries)],
    net: [netBackend(binaries), netBackend(binaries, { localOnly: true })],
    journald: [journaldBackend(binaries)],
    package: oneOfForms("package", (k) => packageBackend(binaries, k)),
    user: [userBackend(binaries)],
    firewall: oneOfForms("firewall", (k) => firewallBackend(binaries, k)),
    cert: [certBackend({ allowedPaths: opts.allowedPaths })],
    dns: [dnsBackend()],
    health: [
      healthBackend(binaries),
      healthBackend(binaries, { withoutProcess: true }),
    ],
  };
}

/** Builds the backends this node can run, each in its first usable form. */
export async function createBackends(
  binaries: BackendBinaries,
  opts: BackendOptions = {},
): Promise<Map<string, BackendDef>> {
  const usable = opts.usable ?? isUsable;
  const definitions = backendDefinitions(binaries, opts);
  const backends = new Map<string, BackendDef>();
  const enabled = new Set(opts.enabled ?? BACKEND_NAMES);
  for (const name of BACKEND_NAMES) {
    if (!enabled.has(name)) continue;
    for (const b of definitions[name]) {
      const ok = await Promise.all((b.requires ?? []).map(usable));
      if (ok.every((x) => x)) {
        backends.set(b.name, b);
        break;
      }
    }
  }
  return backends;
}

/** Backend name → its sorted action names, as a node registers them. */
export function describeBackends(
  backends: Map<string, BackendDef> | Record<string, BackendDef>,
): Record<string, string[]> {
  const entries = backends instanceof Map
    ? [...backends]
    : Object.entries(backends);
  return Object.fromEntries(
    entries.map(([name, b]) => [name, Object.keys(b.actions).sort()]),
  );
}

export { aptBackend, pingBackend, rke2Backend, systemdBackend, testBackend };
export type {
  BackendBinaries,
  Rke2Options,
  SystemdOptions,
  TestBackendOptions,
};
export { describeParams, paramsDigest } from "./describe.ts";
export { createExec, type ExecOptions } from "./exec.ts";
export {
  runAction,
  type RunOptions,
  type RunOutcome,
  type RunRequest,
} from "./run.ts";
export * from "./types.ts";
