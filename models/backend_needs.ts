/**
 * What backends need from Deno, from their table entries: per backend, and
 * the union a worker with some backends enabled keeps (worker/sandbox.ts
 * drops the rest at start).
 */
import {
  ALLOWED_PATHS,
  BACKEND_TABLE,
  type BackendBinaries,
  type BackendEntry,
  type BackendName,
  type BinaryKey,
  binaryPaths,
  KILL_PATH,
  type SysName,
  WORKER_SYS,
} from "./backend_table.ts";

/** What one backend, or a worker's enabled backends together, may do. */
export interface BackendNeeds {
  /** Absolute paths of the programs it may start. */
  run: string[];
  read: string[];
  write: string[];
  net: boolean;
  sys: SysName[];
}

/** Every `worker.binaries` key a backend may run, in any of its forms. */
export function binaryKeysOf(name: BackendName): BinaryKey[] {
  const e: BackendEntry = BACKEND_TABLE[name];
  return unique([
    ...e.binaries,
    ...(e.fallback?.binaries ?? []),
    ...(e.oneOf ?? []),
  ]);
}

/** What backend `name` needs, with this node's binaries and allowed paths. */
export function backendNeeds(
  name: BackendName,
  binaries: BackendBinaries,
  allowedPaths: readonly string[],
): BackendNeeds {
  const e: BackendEntry = BACKEND_TABLE[name];
  return {
    run: unique([...binaryPaths(binaryKeysOf(name), binaries), ...e.run ?? []]),
    read: [...(e.read ?? [])],
    write: unique(
      (e.write ?? []).flatMap((w) => w === ALLOWED_PATHS ? allowedPaths : [w]),
    ),
    net: e.net === true,
    sys: [...(e.sys ?? [])],
  };
}

/**
 * The union of what `enabled` backends need, plus what the worker needs
 * itself (kill(1) and ps(1) to stop a task's whole process tree, its
 * hostname): exactly what it keeps of its grants.
 */
export function workerNeeds(
  enabled: readonly BackendName[],
  binaries: BackendBinaries,
  allowedPaths: readonly string[],
): BackendNeeds {
  const all = enabled.map((n) => backendNeeds(n, binaries, allowedPaths));
  return {
    run: unique([...all.flatMap((n) => n.run), KILL_PATH, binaries.ps]),
    read: unique(all.flatMap((n) => n.read)),
    write: unique(all.flatMap((n) => n.write)),
    net: all.some((n) => n.net),
    sys: unique([...WORKER_SYS, ...all.flatMap((n) => n.sys)]),
  };
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
