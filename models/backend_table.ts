/**
 * Every backend a worker can offer, as data: its actions, the programs it
 * runs and what else it needs Deno to let it run. The worker config's
 * `worker.binaries`, the backends' `requires`, `gridw --self-check` and the
 * worker's run permission in deno.json all follow from this table (a test
 * holds deno.json to it), so a new backend or program starts here.
 *
 * Data only: the backends' code lives in backends/, which models/ may not
 * import.
 */

/**
 * The programs the system backends run, by their key under the worker
 * config's `worker.binaries`, with the absolute path each has by default.
 */
export const DEFAULT_BINARIES = {
  "apt-get": "/usr/bin/apt-get",
  systemctl: "/usr/bin/systemctl",
  rke2: "/usr/local/bin/rke2",
} as const;

export type BinaryKey = keyof typeof DEFAULT_BINARIES;

/** The worker config's `worker.binaries`: absolute paths. */
export type BackendBinaries = Record<BinaryKey, string>;

export const BINARY_KEYS = Object.keys(DEFAULT_BINARIES) as BinaryKey[];

/**
 * kill(1): the worker signals a task's whole process group through it,
 * because Deno.kill would need unrestricted --allow-run.
 */
export const KILL_PATH = "/usr/bin/kill";

/**
 * The unit gridw runs as (release/gridw.service, installed under this name),
 * which the systemd backend lets a task only read the status of.
 */
export const WORKER_UNIT = "gridw.service";

/** Directories an rke2 `installer` may live in, unless configured. */
export const DEFAULT_RKE2_INSTALLER_DIRS = ["/opt/grid/rke2"] as const;

export interface BackendEntry {
  /** The actions a node offers, in the order the backend defines them. */
  readonly actions: readonly string[];
  /** Keys of `worker.binaries` that must all be usable to register it. */
  readonly binaries: readonly BinaryKey[];
  /**
   * Registered instead when `binaries` are not all usable but these are,
   * with only these actions.
   */
  readonly fallback?: {
    readonly actions: readonly string[];
    readonly binaries: readonly BinaryKey[];
  };
  /** Programs beyond `binaries` it starts, which --allow-run must list. */
  readonly run?: readonly string[];
}

/** The backends, in the order a worker registers them. */
export const BACKEND_TABLE = {
  ping: { actions: ["echo", "hostname", "sleep"], binaries: [] },
  test: {
    actions: ["succeed", "fail", "sleep", "flaky", "output", "stream"],
    binaries: [],
  },
  apt: {
    actions: ["update", "install", "remove", "upgrade"],
    binaries: ["apt-get"],
  },
  systemd: {
    actions: ["start", "stop", "restart", "enable", "disable", "status"],
    binaries: ["systemctl"],
  },
  rke2: {
    actions: ["start", "stop", "restart", "status", "install"],
    binaries: ["systemctl", "rke2"],
    // A node without rke2 yet can still be bootstrapped through GRID.
    fallback: { actions: ["install"], binaries: ["systemctl"] },
    // The installer runs as argv [installer], so its exact path needs a grant.
    run: ["/opt/grid/rke2/install.sh"],
  },
} as const satisfies Record<string, BackendEntry>;

export type BackendName = keyof typeof BACKEND_TABLE;

export const BACKEND_NAMES = Object.keys(BACKEND_TABLE) as BackendName[];

/** The `worker.binaries` entries backend `N` runs. */
export type BinariesOf<N extends BackendName> = Record<
  (typeof BACKEND_TABLE)[N]["binaries"][number],
  string
>;

/** The paths of `keys` in `binaries`, in order: what a backend `requires`. */
export function binaryPaths<K extends BinaryKey>(
  keys: readonly K[],
  binaries: Record<K, string>,
): string[] {
  return keys.map((k) => binaries[k]);
}

/** The programs a worker with these binaries runs itself: each binary, then kill(1). */
export function workerPrograms(binaries: BackendBinaries): string[] {
  return [...binaryPaths(BINARY_KEYS, binaries), KILL_PATH];
}

/**
 * What the worker's run permission (deno.json `permissions.worker.run`)
 * must list: the default programs and every backend's extra run needs.
 */
export function workerRunPermission(): string[] {
  const entries: readonly BackendEntry[] = Object.values(BACKEND_TABLE);
  return [
    ...workerPrograms(DEFAULT_BINARIES),
    ...entries.flatMap((b) => b.run ?? []),
  ];
}
