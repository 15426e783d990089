/**
 * The `rke2` backend: the RKE2 server or agent service, driven through
 * systemctl, and installation from an installer the operator has already
 * placed on the node.
 *
 * `install` never downloads anything and never goes through a shell. The
 * installer must sit (after resolving symlinks) inside one of the allowed
 * directories, and it is executed directly as argv [installer]. Because the
 * worker's --allow-run lists exact programs, the resolved installer path
 * must be in that list as well (e.g. `/opt/grid/rke2/install.sh`); an
 * absolute path is granted even before the file exists. If the installer is
 * a script, its interpreter (the #! line) runs outside Deno's sandbox.
 * With the upstream install.sh, INSTALL_RKE2_ARTIFACT_PATH (set to the
 * installer's directory) makes it install from the tarballs next to it
 * instead of fetching them.
 */
import { z } from "zod";
import {
  BACKEND_TABLE,
  type BinariesOf,
  binaryPaths,
  DEFAULT_RKE2_INSTALLER_DIRS,
} from "../models/backend_table.ts";
import { execOutput, failedRun } from "./output.ts";
import { described } from "./params.ts";
import { systemctl, unitStatus } from "./systemd.ts";
import {
  type ActionContext,
  ActionError,
  type ActionOutput,
  type BackendDef,
  defineAction,
} from "./types.ts";

export type Rke2Paths = BinariesOf<"rke2">;

export interface Rke2Options {
  /** Directories an installer may live in. @default ["/opt/grid/rke2"] */
  installerDirs?: string[];
  /**
   * Register only `install` (for nodes where rke2 is not installed yet).
   * @default false
   */
  installOnly?: boolean;
}

export const DEFAULT_INSTALLER_DIRS: string[] = [
  ...DEFAULT_RKE2_INSTALLER_DIRS,
];

const mode = described<"server" | "agent">({
  kind: "enum",
  values: ["server", "agent"],
}).default("server");

function unitFor(m: "server" | "agent"): string {
  return `rke2-${m}.service`;
}

/** "/a/./b", "/a/../b" and "//" are refused outright rather than normalised. */
const PATH_CHECKS = [
  { pattern: "^/", message: "must be an absolute path" },
  {
    pattern: "^[^\\0\\n\\r]*$",
    message: "must not contain control characters",
  },
  {
    pattern: "^(?![\\s\\S]*/(?:\\.\\.?)?(?:/|$))",
    message: 'must not contain empty, "." or ".." path segments',
  },
];

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The same checks, for the configured directories. */
function checkPathText(s: string): string | undefined {
  return PATH_CHECKS.find((c) => !new RegExp(c.pattern).test(s))?.message;
}

function inside(path: string, dir: string): boolean {
  const d = dir.endsWith("/") ? dir : `${dir}/`;
  return path.startsWith(d) && path.length > d.length;
}

/**
 * Resolves the installer and checks it is an executable file that stays
 * inside an allowed directory once every symlink is followed.
 */
async function resolveInstaller(path: string, dirs: string[]): Promise<string> {
  const bad = (why: string) =>
    new ActionError(`param "installer": ${why}`, false);
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw bad(`${path} does not exist`);
    throw bad(`cannot resolve ${path}: ${e instanceof Error ? e.message : e}`);
  }
  const realDirs = await Promise.all(
    dirs.map((d) => Deno.realPath(d).catch(() => undefined)),
  );
  if (!realDirs.some((d) => d !== undefined && inside(real, d))) {
    throw bad(`${path} resolves to ${real}, outside ${dirs.join(", ")}`);
  }
  const st = await Deno.stat(real);
  if (!st.isFile) throw bad(`${real} is not a regular file`);
  if (st.mode !== null && (st.mode & 0o111) === 0) {
    throw bad(`${real} is not executable`);
  }
  return real;
}

async function install(
  ctx: ActionContext,
  installer: string,
  m: "server" | "agent",
  dirs: string[],
): Promise<ActionOutput> {
  const real = await resolveInstaller(installer, dirs);
  const dir = real.slice(0, real.lastIndexOf("/")) || "/";
  const r = await ctx.exec({
    argv: [real],
    env: { INSTALL_RKE2_TYPE: m, INSTALL_RKE2_ARTIFACT_PATH: dir },
  }, ctx.signal);
  const output = execOutput(r);
  if (r.code !== 0) {
    throw new ActionError(
      failedRun(`rke2 installer ${real}`, r),
      true,
      output,
    );
  }
  return {
    output: [output, `installed rke2 ${m} with ${real}`].filter((s) => s).join(
      "\n",
    ),
  };
}

/**
 * Makes the `rke2` backend (start, stop, restart, status, install).
 * @throws {TypeError} when an installer directory is not a clean absolute path
 */
export function rke2Backend(
  paths: Rke2Paths,
  opts: Rke2Options = {},
): BackendDef {
  const dirs = opts.installerDirs ?? DEFAULT_INSTALLER_DIRS;
  for (const d of dirs) {
    const why = checkPathText(d.replace(/\/$/, ""));
    if (why) throw new TypeError(`installerDirs: ${JSON.stringify(d)} ${why}`);
  }
  const installer = described<string>({
    kind: "text",
    checks: [...PATH_CHECKS, {
      pattern: `^(?:${
        dirs.map((d) => escapeRe(d.replace(/\/?$/, "/"))).join("|")
      }).`,
      message: `must be inside ${dirs.join(" or ")}`,
    }],
  });
  const bin = paths.systemctl;
  const verb = (v: string) =>
    defineAction({
      params: z.strictObject({ mode }),
      run: (p, ctx) => systemctl(ctx, bin, v, unitFor(p.mode)),
    });
  const installAction = defineAction({
    params: z.strictObject({ installer, mode }),
    run: (p, ctx) => install(ctx, p.installer, p.mode, dirs),
  });
  if (opts.installOnly) {
    return {
      name: "rke2",
      requires: binaryPaths(BACKEND_TABLE.rke2.fallback.binaries, paths),
      actions: { install: installAction },
    };
  }
  return {
    name: "rke2",
    requires: binaryPaths(BACKEND_TABLE.rke2.binaries, paths),
    actions: {
      start: verb("start"),
      stop: verb("stop"),
      restart: verb("restart"),
      status: defineAction({
        params: z.strictObject({ mode }),
        run: (p, ctx) => unitStatus(ctx, bin, unitFor(p.mode)),
      }),
      install: installAction,
    },
  };
}
