/**
 * Paths a task names, for the backends that open files (file, config,
 * cert). The schema refuses what can never be right (relative paths, "."
 * and ".." segments, control characters); `PathPolicy` then resolves the
 * path on disk and refuses any whose real location lies outside the
 * allowed roots, so a symlink cannot lead a task out of them.
 *
 * This is the backend's own check. The worker's Deno --allow-write is
 * narrowed to the same roots as well, which refuses any write outside them
 * by path; but Deno judges a path as written, so a symlink already inside
 * an allowed root is followed (tests/backend_sandbox_test.ts shows it).
 * Between this check and the write only someone who can write to the root
 * could swap one in: allowed roots must be writable by root alone
 * (docs/SECURITY.md).
 */
import { dirname, join } from "node:path";
import { described } from "./params.ts";
import { ActionError } from "./types.ts";

/** PATH_MAX on Linux. */
export const MAX_PATH = 4096;

/** The worker config key the roots come from, named in refusals. */
export const ALLOWED_PATHS_KEY = "worker.file.allowed_paths";

/** An absolute path in canonical form, as a task may name it. */
export function absolutePath() {
  return described<string>({
    kind: "text",
    checks: [
      { pattern: "^/", message: "must be an absolute path, got %s" },
      {
        pattern: `^[\\s\\S]{1,${MAX_PATH}}$`,
        message: `must be at most ${MAX_PATH} characters`,
      },
      {
        pattern: "^[^\\x00-\\x1f\\x7f]*$",
        message: "must not contain control characters",
      },
      {
        pattern: "^(?!.*/\\.{1,2}(?:/|$))",
        message: 'must not contain "." or ".." segments, got %s',
      },
      {
        pattern: "^(?!.*//)",
        message: 'must not contain "//", got %s',
      },
    ],
  });
}

/** Whether `path` is `root` or lies under it (both absolute, canonical). */
export function isUnder(path: string, root: string): boolean {
  if (root === "/") return true;
  return path === root || path.startsWith(`${root}/`);
}

async function realRoot(root: string): Promise<string | undefined> {
  try {
    return await Deno.realPath(root);
  } catch {
    return undefined;
  }
}

/**
 * The real location of `path`: the real path of its longest existing
 * ancestor, with the parts that do not exist yet appended. A dangling
 * symlink anywhere is refused, since where it leads could be created later.
 */
export async function resolvePath(path: string): Promise<string> {
  const missing: string[] = [];
  let at = path;
  for (;;) {
    try {
      const real = await Deno.realPath(at);
      return missing.length ? join(real, ...missing.reverse()) : real;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const link = await Deno.lstat(at).then((s) => s.isSymlink, () => false);
      if (link) {
        throw new ActionError(
          `refused: ${at} is a symlink to nothing; nothing was done`,
          false,
        );
      }
      if (at === "/") throw e;
      missing.push(at.slice(dirname(at).length).replace(/^\//, ""));
      at = dirname(at);
    }
  }
}

export class PathPolicy {
  readonly roots: readonly string[];

  /** `roots`: absolute directories a task may touch (and what lies under them). */
  constructor(roots: readonly string[]) {
    for (const r of roots) {
      if (!r.startsWith("/")) {
        throw new RangeError(`${ALLOWED_PATHS_KEY}: ${r} is not absolute`);
      }
    }
    this.roots = roots.map((r) => r.length > 1 ? r.replace(/\/+$/, "") : r);
  }

  /**
   * The real path of `path` once it is known to lie under a root; refused
   * otherwise. Roots are resolved on each call: one may itself be a
   * symlink (/var/run), or appear after the worker started.
   */
  async check(path: string): Promise<string> {
    const listed = `[${this.roots.join(", ")}]`;
    if (this.roots.length === 0) {
      throw new ActionError(
        `refused: ${path} — this worker allows no paths (${ALLOWED_PATHS_KEY} is empty); nothing was done`,
        false,
      );
    }
    const real = await resolvePath(path);
    const roots = await Promise.all(this.roots.map(realRoot));
    if (roots.some((r) => r !== undefined && isUnder(real, r))) return real;
    const via = real === path ? "" : ` (it resolves to ${real})`;
    throw new ActionError(
      `refused: ${path}${via} is not under any allowed path ${listed} (${ALLOWED_PATHS_KEY}); nothing was done`,
      false,
    );
  }
}
