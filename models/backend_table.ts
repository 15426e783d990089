/**
 * Every backend a worker can offer, as data: its actions, the programs it
 * runs and what else it needs Deno to let it run. The worker config's
 * `worker.binaries`, the backends' `requires`, `gridw --self-check` and the
 * worker's permission set in deno.json all follow from this table (a test
 * holds deno.json to it), so a new backend or program starts here.
 *
 * Data only: the backends' code lives in backends/, which models/ may not
 * import.
 *
 * Adding a backend (what follows from an entry: models/backend_needs.ts):
 * 1. A program it runs gets a key in DEFAULT_BINARIES (absolute path);
 *    deno.json `permissions.worker.run` then lists it too (table_test).
 * 2. Its entry below: `actions` in the order the backend defines them;
 *    `binaries` it needs all of; or `oneOf` when any one will do (package:
 *    apt-get/dnf/yum/apk) — backends/mod.ts then tries one form per key, in
 *    order, and the backend's factory is told the key it got; `read`,
 *    `write` (absolute paths, or ALLOWED_PATHS for the worker config's
 *    `worker.file.allowed_paths`), `net: true`, `sys` (Deno sys names, also
 *    listed in deno.json `permissions.worker.sys`).
 * 3. One import and one line in backends/mod.ts `backendDefinitions`.
 * A worker runs with the union of what its enabled backends (`worker.backends`)
 * declare and drops the rest at start (worker/sandbox.ts), so what is not
 * declared here fails with NotCapable on a real node.
 */

/**
 * The programs the system backends run, by their key under the worker
 * config's `worker.binaries`, with the absolute path each has by default.
 */
export const DEFAULT_BINARIES = {
  "apt-get": "/usr/bin/apt-get",
  systemctl: "/usr/bin/systemctl",
  rke2: "/usr/local/bin/rke2",
  ping: "/usr/bin/ping",
  // tracepath(8) takes the same `-m HOPS -n HOST`: a site may point this at it.
  traceroute: "/usr/bin/traceroute",
  journalctl: "/usr/bin/journalctl",
  dnf: "/usr/bin/dnf",
  yum: "/usr/bin/yum",
  apk: "/sbin/apk",
  useradd: "/usr/sbin/useradd",
  userdel: "/usr/sbin/userdel",
  groupadd: "/usr/sbin/groupadd",
  id: "/usr/bin/id",
  ufw: "/usr/sbin/ufw",
  nft: "/usr/sbin/nft",
  iptables: "/usr/sbin/iptables",
  // health `process`: Deno cannot list processes, nor read /proc without --allow-all.
  pgrep: "/usr/bin/pgrep",
  // proc: the process table, for the same reason.
  ps: "/usr/bin/ps",
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

/**
 * Where the `cert` backend reads certificates (Debian, RHEL, Let's
 * Encrypt, kubeadm and rke2 layouts), besides `worker.file.allowed_paths`.
 */
export const CERT_DIRS = [
  "/etc/ssl",
  "/etc/pki",
  "/etc/letsencrypt",
  "/usr/local/share/ca-certificates",
  "/usr/share/ca-certificates",
  "/etc/kubernetes/pki",
  "/var/lib/rancher/rke2/server/tls",
  "/var/lib/rancher/rke2/agent",
] as const;

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
  /**
   * Keys of `worker.binaries` of which the first usable one is enough (a
   * package manager, a firewall tool); on top of `binaries`. Not with
   * `fallback`.
   */
  readonly oneOf?: readonly BinaryKey[];
  /** Paths it reads (shown by --self-check; Deno's read grant is unscoped). */
  readonly read?: readonly string[];
  /** Paths it writes: absolute, or ALLOWED_PATHS. */
  readonly write?: readonly string[];
  /** It opens network connections of its own (beyond the worker's NATS). */
  readonly net?: true;
  /** Deno sys permission names it uses (Deno.osRelease → "osRelease"). */
  readonly sys?: readonly SysName[];
}

/** In a `write` list: the worker config's `worker.file.allowed_paths`. */
export const ALLOWED_PATHS = "allowed_paths";

/** A Deno `--allow-sys` name. */
export type SysName = NonNullable<Deno.SysPermissionDescriptor["kind"]>;

/** Sys names the worker itself uses, whatever its backends. */
export const WORKER_SYS: readonly SysName[] = ["hostname"];

/**
 * Directories deno.json's worker permission set may write (and so a
 * compiled gridw): Deno fixes grants at compile time and a revoke can drop
 * a listed directory but not narrow it, so a site that enables `file` or
 * `config` lists its `worker.file.allowed_paths` here and in deno.json
 * `permissions.worker.write`, and builds. Empty: a stock gridw writes
 * nothing (docs/SECURITY.md, "Backends and the sandbox").
 */
export const WORKER_WRITE_GRANT: readonly string[] = [];

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
  // Host facts through Deno and /proc; runs nothing.
  sysinfo: {
    actions: ["os", "cpu", "memory", "disk", "load", "uptime"],
    binaries: [],
    sys: [
      "cpus",
      "hostname",
      "osRelease",
      "osUptime",
      "systemMemoryInfo",
      "loadavg",
      "statfs",
    ],
  },
  file: {
    actions: ["read", "write", "stat", "exists", "mkdir", "delete", "checksum"],
    binaries: [],
    write: [ALLOWED_PATHS],
  },
  config: {
    actions: ["get", "set", "validate", "diff"],
    binaries: [],
    write: [ALLOWED_PATHS],
  },
  // Processes from ps (Deno cannot read /proc), user names from /etc/passwd.
  proc: {
    actions: ["list", "top", "find", "count"],
    binaries: ["ps"],
    read: ["/etc/passwd"],
  },
  net: {
    actions: ["ping", "resolve", "port", "interfaces", "traceroute"],
    binaries: ["ping", "traceroute"],
    // Without the programs, the checks done through Deno alone remain.
    fallback: { actions: ["resolve", "port", "interfaces"], binaries: [] },
    read: ["/sys/class/net"],
    net: true,
    sys: ["networkInterfaces"],
  },
  journald: {
    actions: ["logs", "tail", "boots", "disk_usage"],
    binaries: ["journalctl"],
  },
  package: {
    actions: [
      "install",
      "remove",
      "update",
      "upgrade",
      "info",
      "list",
      "search",
    ],
    binaries: [],
    oneOf: ["apt-get", "dnf", "yum", "apk"],
    // apt-get's form reads dpkg's database and apt's cache through these.
    run: ["/usr/bin/dpkg-query", "/usr/bin/apt-cache"],
  },
  user: {
    actions: ["list", "exists", "create", "delete", "groups", "group_create"],
    binaries: ["useradd", "userdel", "groupadd", "id"],
    read: ["/etc/passwd"],
  },
  firewall: {
    actions: ["list", "allow", "deny", "remove", "status"],
    binaries: [],
    oneOf: ["ufw", "nft", "iptables"],
  },
  cert: {
    actions: ["inspect", "verify", "expiry", "remote", "fingerprint"],
    binaries: [],
    read: CERT_DIRS,
    // `remote` opens a TLS connection to the host a task names.
    net: true,
  },
  dns: {
    actions: ["lookup", "reverse", "resolvers", "check"],
    binaries: [],
    read: ["/etc/resolv.conf", "/etc/hosts"],
    net: true,
  },
  health: {
    actions: ["http", "tcp", "disk_space", "memory", "load", "process"],
    binaries: ["pgrep"],
    // Without pgrep every check but `process` still works.
    fallback: {
      actions: ["http", "tcp", "disk_space", "memory", "load"],
      binaries: [],
    },
    net: true,
    sys: ["systemMemoryInfo", "loadavg", "statfs"],
  },
} as const satisfies Record<string, BackendEntry>;

export type BackendName = keyof typeof BACKEND_TABLE;

export const BACKEND_NAMES = Object.keys(BACKEND_TABLE) as BackendName[];

/** What a worker enables unless its config's `worker.backends` says otherwise. */
export const DEFAULT_BACKENDS: readonly BackendName[] = [
  "ping",
  "test",
  "apt",
  "systemd",
  "rke2",
];

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

/** What deno.json `permissions.worker.sys` must list: every backend's, the worker's own. */
export function workerSysPermission(): SysName[] {
  const entries: readonly BackendEntry[] = Object.values(BACKEND_TABLE);
  return unique([...WORKER_SYS, ...entries.flatMap((b) => b.sys ?? [])]);
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
