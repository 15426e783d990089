/**
 * Narrowing the worker's Deno permissions, at start, to what its enabled
 * backends need. A compiled gridw carries the grants of every backend
 * (deno.json `permissions.worker`, fixed at compile time); a revoke drops
 * one listed program, path or sys name exactly, so what `worker.backends`
 * does not enable is gone before any task can run.
 *
 * What a revoke cannot do, and so what this refuses or reports instead:
 * narrow an unscoped grant (`--allow-write` stays total whatever is
 * revoked under it), or narrow a granted directory to a subdirectory (a
 * revoke under it drops the whole directory). See docs/SECURITY.md.
 */
import {
  type BackendBinaries,
  type BackendName,
  BINARY_KEYS,
  binaryPaths,
  WORKER_WRITE_GRANT,
  workerRunPermission,
  workerSysPermission,
} from "../models/backend_table.ts";
import {
  type BackendNeeds,
  backendNeeds,
  workerNeeds,
} from "../models/backend_needs.ts";

/** The worker cannot run as configured: exit 2, like a bad config file. */
export class SandboxError extends Error {
  override name = "SandboxError";
}

export interface Narrowed {
  /** What each enabled backend may do. */
  backends: Record<string, BackendNeeds>;
  /** What the worker kept: the union of its enabled backends' needs. */
  keeps: BackendNeeds;
  /** What it had and dropped. */
  dropped: { run: string[]; write: string[]; sys: string[] };
  /** Grants that were unscoped, which no revoke narrows. */
  unscoped: ("run" | "read" | "net")[];
}

const granted = (d: Deno.PermissionDescriptor) =>
  Deno.permissions.querySync(d).state === "granted";

/**
 * Revokes every program, written path and sys name no enabled backend
 * needs. Throws SandboxError when the grants cannot be made exact or
 * safe: an unscoped write grant with a backend that writes, an allowed
 * path that Deno does not grant, one that is a symlink, or one that holds
 * a program the worker may run.
 */
export function narrowPermissions(
  enabled: readonly BackendName[],
  binaries: BackendBinaries,
  allowedPaths: readonly string[],
  writeGrant: readonly string[] = WORKER_WRITE_GRANT,
): Narrowed {
  const keeps = workerNeeds(enabled, binaries, allowedPaths);
  const backends = Object.fromEntries(
    enabled.map((n) => [n, backendNeeds(n, binaries, allowedPaths)]),
  );
  return { backends, ...narrowTo(keeps, binaries, writeGrant) };
}

/**
 * Drops every grant beyond `keeps`; what narrowPermissions does.
 * `writeGrant` is what the process was started with (Deno has no way to
 * list it): the compiled-in WORKER_WRITE_GRANT.
 */
export function narrowTo(
  keeps: BackendNeeds,
  binaries: BackendBinaries,
  writeGrant: readonly string[] = WORKER_WRITE_GRANT,
): Omit<Narrowed, "backends"> {
  const unscoped: Narrowed["unscoped"] = [];
  if (granted({ name: "run" })) unscoped.push("run");
  if (granted({ name: "read" })) unscoped.push("read");
  if (granted({ name: "net" })) unscoped.push("net");

  const keepRun = new Set(keeps.run);
  const run = [
    ...new Set([
      ...workerRunPermission(),
      ...binaryPaths(BINARY_KEYS, binaries),
    ]),
  ].filter((p) => !keepRun.has(p));
  for (const p of run) Deno.permissions.revokeSync({ name: "run", command: p });

  const sys = workerSysPermission().filter((s) => !keeps.sys.includes(s));
  for (const kind of sys) Deno.permissions.revokeSync({ name: "sys", kind });

  const write = narrowWrite(keeps.write, writeGrant, keeps.run);
  return { keeps, dropped: { run, write, sys }, unscoped };
}

/** Leaves exactly `keep` writable, or throws; returns what it revoked. */
function narrowWrite(
  keep: readonly string[],
  writeGrant: readonly string[],
  programs: readonly string[],
): string[] {
  if (keep.length === 0) {
    // Nothing enabled writes: drop every write grant, listed or not.
    Deno.permissions.revokeSync({ name: "write" });
    return [...writeGrant];
  }
  if (granted({ name: "write" })) {
    throw new SandboxError(
      "worker.file.allowed_paths: this gridw may write anywhere (unscoped " +
        "--allow-write), which Deno cannot narrow to the allowed paths; " +
        "grant it exactly those directories",
    );
  }
  for (const p of keep) {
    let real: string;
    try {
      real = Deno.realPathSync(p);
    } catch (e) {
      throw new SandboxError(
        `worker.file.allowed_paths: ${p}: ${(e as Error).message}`,
      );
    }
    if (real !== p) {
      // Deno checks the path as written, the kernel writes where it leads.
      throw new SandboxError(
        `worker.file.allowed_paths: ${p} leads to ${real}; list the real directory`,
      );
    }
  }
  const under = (p: string, dir: string) => p.startsWith(`${dir}/`);
  for (const prog of programs) {
    const dir = keep.find((d) => under(prog, d));
    // A task could replace the program, then have it run: anything goes.
    if (dir) {
      throw new SandboxError(
        `worker.file.allowed_paths: ${dir} holds ${prog}, which the worker runs`,
      );
    }
  }
  const keepSet = new Set(keep);
  // Grants above an allowed path would let a task write beside it: a
  // revoke of each ancestor drops any such grant and leaves the path's own.
  const ancestors = keep.flatMap((p) => {
    const parts = p.split("/").slice(1, -1);
    return ["/", ...parts.map((_, i) => "/" + parts.slice(0, i + 1).join("/"))];
  });
  // Entries inside an allowed path add nothing, and revoking one would
  // drop the allowed path with it.
  const revoke = [
    ...new Set([...writeGrant, ...ancestors]),
  ].filter((p) => !keepSet.has(p) && !keep.some((d) => under(p, d)));
  const dropped: string[] = [];
  for (const path of revoke) {
    if (granted({ name: "write", path })) dropped.push(path);
    Deno.permissions.revokeSync({ name: "write", path });
  }
  const missing = keep.filter((path) => !granted({ name: "write", path }));
  if (missing.length) {
    throw new SandboxError(
      `worker.file.allowed_paths: Deno does not let this gridw write ${
        missing.join(", ")
      } by itself (list each exactly in deno.json permissions.worker.write ` +
        "and WORKER_WRITE_GRANT, then rebuild)",
    );
  }
  return dropped;
}

/** What one enabled backend may do, for `gridw --self-check`. */
export function describeNeeds(n: BackendNeeds): string {
  const parts = [
    `run ${n.run.join(" ") || "-"}`,
    `read ${n.read.join(" ") || "-"}`,
    `write ${n.write.join(" ") || "-"}`,
    `net ${n.net ? "yes" : "no"}`,
  ];
  if (n.sys.length) parts.push(`sys ${n.sys.join(" ")}`);
  return parts.join("; ");
}
