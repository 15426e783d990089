/**
 * The backend registry a worker starts with. `ping` and `test` need nothing
 * from the host and are always there; the system backends are registered
 * only when the programs they run exist and Deno may run them, so a node
 * never advertises an action that is bound to fail.
 */
import {
  BACKEND_NAMES,
  type BackendBinaries,
  type BackendName,
} from "../models/backend_table.ts";
import { aptBackend } from "./apt.ts";
import { pingBackend } from "./ping.ts";
import { rke2Backend, type Rke2Options } from "./rke2.ts";
import { systemdBackend, type SystemdOptions } from "./systemd.ts";
import { testBackend, type TestBackendOptions } from "./test_actions.ts";
import type { BackendDef } from "./types.ts";

export interface BackendOptions {
  rke2?: Omit<Rke2Options, "installOnly">;
  /** The systemd backend's deny list, beyond the built-in one. */
  systemd?: SystemdOptions;
  test?: TestBackendOptions;
  /** Decides whether a program can be run; a seam for tests. @default isUsable */
  usable?: (path: string) => Promise<boolean>;
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
 * could never be bootstrapped through GRID.
 */
export function backendDefinitions(
  binaries: BackendBinaries,
  opts: Omit<BackendOptions, "usable"> = {},
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
  for (const name of BACKEND_NAMES) {
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
