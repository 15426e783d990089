/**
 * The `package` backend: one set of actions (install, remove, update,
 * upgrade, info, list, search) over whichever package manager the node
 * has: apt-get, dnf, yum or apk, tried in that order (backends/mod.ts makes
 * one form per manager and registers the first usable). Names and versions
 * are checked by that manager's rules before anything runs; what each
 * action runs is in package_argv.ts.
 */
import { z } from "zod";
import { execOutput, failedRun, lastLine } from "./output.ts";
import { described } from "./params.ts";
import {
  type Installed,
  LIST_PATTERN_RE,
  NAME_RULES,
  PACKAGE_MANAGERS,
  type PackageManager,
  parseInfo,
  parseList,
  type Step,
  steps,
  UPDATES_AVAILABLE,
} from "./package_argv.ts";
import {
  type ActionContext,
  ActionError,
  type ActionOutput,
  type BackendDef,
  defineAction,
  type ExecResult,
} from "./types.ts";

export { PACKAGE_MANAGERS, type PackageManager } from "./package_argv.ts";

export type PackagePaths = Record<PackageManager, string>;

/** apt's helpers: dpkg and apt ship them wherever apt-get is. */
export interface PackageHelpers {
  /** @default "/usr/bin/dpkg-query" */
  "dpkg-query"?: string;
  /** @default "/usr/bin/apt-cache" */
  "apt-cache"?: string;
}

export const DEFAULT_APT_HELPERS = {
  "dpkg-query": "/usr/bin/dpkg-query",
  "apt-cache": "/usr/bin/apt-cache",
} as const;

export const ListData = z.array(
  z.object({ name: z.string(), version: z.string() }),
);
export const InfoData = z.object({
  name: z.string(),
  installed: z.boolean(),
  version: z.string().optional(),
});

/** A lock held by another run: the next try may get it. */
const LOCK_RE =
  /Could not get lock|dpkg frontend lock|unable to lock database|another app is currently holding|Waiting for process with pid/i;
/** Failures a retry cannot fix: the request itself is wrong for this host. */
const PERMANENT_RE =
  /Unable to locate package|has no installation candidate|Version '.*' for '.*' was not found|No match for argument|Unable to find a match|unable to select packages|are you root|Permission denied|not installed/i;

function nameParam(pm: PackageManager) {
  const r = NAME_RULES[pm];
  return described<string>({
    kind: "text",
    checks: [{ pattern: r.name.source, message: `%s is not ${r.nameHelp}` }],
  });
}

function versionParam(pm: PackageManager) {
  const r = NAME_RULES[pm];
  return described<string>({
    kind: "text",
    checks: [{
      pattern: r.version.source,
      message: `%s is not ${r.versionHelp}`,
    }],
  });
}

const pattern = described<string>({
  kind: "text",
  checks: [{
    pattern: LIST_PATTERN_RE.source,
    message:
      '%s is not a package name pattern (letters, digits, ".+_-" and the globs "*" and "?")',
  }],
});

/**
 * Makes the `package` backend for the manager `key` names (one of
 * PACKAGE_MANAGERS), with the paths of the config.
 * @throws {RangeError} for any other key
 */
export function packageBackend(
  paths: PackagePaths,
  key: string,
  helpers: PackageHelpers = {},
): BackendDef {
  const manager = PACKAGE_MANAGERS.find((m) => m === key);
  if (!manager) {
    throw new RangeError(
      `package: ${JSON.stringify(key)} is not a package manager`,
    );
  }
  const programs: Record<Step["program"], string> = {
    ...paths,
    "dpkg-query": helpers["dpkg-query"] ?? DEFAULT_APT_HELPERS["dpkg-query"],
    "apt-cache": helpers["apt-cache"] ?? DEFAULT_APT_HELPERS["apt-cache"],
  };
  const env = manager === "apt-get"
    ? { DEBIAN_FRONTEND: "noninteractive" }
    : undefined;
  const exec = (ctx: ActionContext, s: Step) =>
    ctx.exec(
      { argv: [programs[s.program], ...s.args], ...(env ? { env } : {}) },
      ctx.signal,
    );
  const fail = (s: Step, r: ExecResult): never => {
    const seen = `${r.stderr}\n${r.stdout}`;
    if (LOCK_RE.test(seen)) {
      throw new ActionError(
        `${manager}: the package database is locked by another process; try again later`,
        true,
        execOutput(r),
      );
    }
    throw new ActionError(
      failedRun(
        `${s.program} ${s.args.filter((a) => a !== "--").join(" ")}`,
        r,
      ),
      !PERMANENT_RE.test(seen),
      execOutput(r),
    );
  };

  /** Runs the one step of `action`; `ok` says which exit codes succeed. */
  const simple = async (
    ctx: ActionContext,
    action: string,
    p: { name?: string; version?: string },
    ok: (code: number | null) => boolean = (c) => c === 0,
  ): Promise<ActionOutput> => {
    const [step] = steps(manager, action, p);
    const r = await exec(ctx, step!);
    if (!ok(r.code)) fail(step!, r);
    return { output: execOutput(r) || `${manager} ${action}: done` };
  };

  const name = nameParam(manager);
  const version = versionParam(manager);
  return {
    name: "package",
    requires: [paths[manager]],
    actions: {
      install: defineAction({
        params: z.strictObject({ name, version: version.optional() }),
        run: (p, ctx) => simple(ctx, "install", p),
      }),
      remove: defineAction({
        params: z.strictObject({ name }),
        run: (p, ctx) => simple(ctx, "remove", p),
      }),
      update: defineAction({
        params: z.strictObject({}),
        run: (_p, ctx) =>
          simple(
            ctx,
            "update",
            {},
            (c) =>
              c === 0 ||
              (c === UPDATES_AVAILABLE &&
                (manager === "dnf" || manager === "yum")),
          ),
      }),
      upgrade: defineAction({
        params: z.strictObject({}),
        run: (_p, ctx) => simple(ctx, "upgrade", {}),
      }),
      info: defineAction({
        params: z.strictObject({ name }),
        data: InfoData,
        run: async (p, ctx) => {
          const tried = steps(manager, "info", p);
          let last: [Step, ExecResult] | undefined;
          for (const [i, step] of tried.entries()) {
            const r = await exec(ctx, step);
            if (r.code === 0) {
              const output = execOutput(r);
              return { output, data: parseInfo(manager, p.name, output, i) };
            }
            last = [step, r];
          }
          return fail(...last!);
        },
      }),
      list: defineAction({
        params: z.strictObject({ pattern: pattern.optional() }),
        data: ListData,
        run: async (p, ctx) => {
          const [step] = steps(manager, "list", p);
          const r = await exec(ctx, step!);
          // No installed package matches: an empty answer, not a failure.
          const none = r.code !== 0 && p.pattern !== undefined &&
            /no packages found matching|No matching Packages/i.test(
              lastLine(r),
            );
          if (r.code !== 0 && !none) fail(step!, r);
          const data: Installed[] = none ? [] : parseList(manager, r.stdout);
          const output = data.length
            ? data.map((d) => `${d.name}\t${d.version}`).join("\n")
            : "no installed package matches";
          return { output, data };
        },
      }),
      search: defineAction({
        params: z.strictObject({ name }),
        run: async (p, ctx) => {
          const out = await simple(ctx, "search", p);
          return { output: out.output.trim() };
        },
      }),
    },
  };
}
