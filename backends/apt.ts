/**
 * The `apt` backend: Debian package management through apt-get. Package
 * names and versions are checked against Debian policy before anything
 * runs, and every operand follows "--", so no param can become an apt-get
 * option (think `-oAPT::Update::Pre-Invoke::=…`).
 */
import { z } from "zod";
import {
  BACKEND_TABLE,
  type BinariesOf,
  binaryPaths,
} from "../models/backend_table.ts";
import { execOutput, failedRun } from "./output.ts";
import { described, withRules } from "./params.ts";
import {
  type ActionContext,
  ActionError,
  type BackendDef,
  defineAction,
} from "./types.ts";

export type AptPaths = BinariesOf<"apt">;

/** Debian policy 5.6.1: lowercase alphanumerics, "+", "-", ".", at least 2, alphanumeric first. */
export const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * Debian policy 5.6.12: [epoch:]upstream[-revision]. Upstream starts with a
 * digit; it may contain ":" only with an epoch and "-" only with a
 * revision (everything after the last "-"). One alternative per case.
 */
export const DEBIAN_VERSION_RE = new RegExp(
  "^(?:" + [
    "[0-9][A-Za-z0-9.+~]*",
    "[0-9][A-Za-z0-9.+~-]*-[A-Za-z0-9+.~]+",
    "\\d+:[0-9][A-Za-z0-9.+~:]*",
    "\\d+:[0-9][A-Za-z0-9.+~:-]*-[A-Za-z0-9+.~]+",
  ].join("|") + ")$",
);

export function isDebianVersion(v: string): boolean {
  return DEBIAN_VERSION_RE.test(v);
}

/** A space- or comma-separated package list (not tabs or newlines). */
const packages = described<string[]>({
  kind: "list",
  split: "[ ,]+",
  empty: "must name at least one package",
  checks: [{
    pattern: PACKAGE_RE.source,
    message:
      '%s is not a valid Debian package name (lowercase letters, digits, "+", "-" and "."; at least 2 characters, starting with a letter or digit)',
  }],
});

const version = described<string>({
  kind: "text",
  checks: [{
    pattern: DEBIAN_VERSION_RE.source,
    message: 'is not a valid Debian version (e.g. "1.24.0-1" or "2:1.2~rc1")',
  }],
});

/** A version pin names exactly one package. */
const PIN = [{
  kind: "count",
  when: "version",
  param: "package",
  min: 1,
  max: 1,
  path: "version",
  few: 'needs a "package" to pin',
  many: "pins one package, but %n were listed",
}];

/** Operands for apt-get: "name" or "name=version". */
function operands(
  pkgs: string[] | undefined,
  ver: string | undefined,
): string[] {
  return (pkgs ?? []).map((p) => (ver ? `${p}=${ver}` : p));
}

/**
 * Keep the installed config file when a package ships a new one: stdin is
 * /dev/null, so dpkg's conffile prompt would otherwise fail the run.
 */
const KEEP_CONFFILES = [
  "-o",
  "Dpkg::Options::=--force-confdef",
  "-o",
  "Dpkg::Options::=--force-confold",
];

const LOCK_RE =
  /Could not get lock|dpkg frontend lock|Unable to acquire the dpkg frontend lock/i;
/** Failures a retry cannot fix: the request itself is wrong for this host. */
const PERMANENT_RE =
  /Unable to locate package|has no installation candidate|Version '.*' for '.*' was not found|are you root\?|Permission denied/i;

async function aptGet(
  ctx: ActionContext,
  bin: string,
  verb: string,
  args: string[],
): Promise<{ output: string }> {
  const r = await ctx.exec(
    { argv: [bin, ...args], env: { DEBIAN_FRONTEND: "noninteractive" } },
    ctx.signal,
  );
  const output = execOutput(r);
  if (r.code === 0) return { output };
  const seen = `${r.stderr}\n${r.stdout}`;
  if (LOCK_RE.test(seen)) {
    throw new ActionError(
      "dpkg lock held by another process; try again later",
      true,
      output,
    );
  }
  throw new ActionError(
    failedRun(`apt-get ${verb}`, r),
    !PERMANENT_RE.test(seen),
    output,
  );
}

/** Makes the `apt` backend (update, install, remove, upgrade) for the given apt-get. */
export function aptBackend(paths: AptPaths): BackendDef {
  const bin = paths["apt-get"];
  const base = ["-y", "-q"];
  return {
    name: "apt",
    requires: binaryPaths(BACKEND_TABLE.apt.binaries, paths),
    actions: {
      update: defineAction({
        params: z.strictObject({}),
        run: (_p, ctx) => aptGet(ctx, bin, "update", [...base, "update"]),
      }),
      install: defineAction({
        params: withRules(
          z.strictObject({ package: packages, version: version.optional() }),
          PIN,
        ),
        run: (p, ctx) =>
          aptGet(ctx, bin, "install", [
            ...base,
            ...KEEP_CONFFILES,
            "install",
            "--",
            ...operands(p.package, p.version),
          ]),
      }),
      remove: defineAction({
        params: z.strictObject({ package: packages }),
        run: (p, ctx) =>
          aptGet(ctx, bin, "remove", [...base, "remove", "--", ...p.package]),
      }),
      upgrade: defineAction({
        // Without packages: upgrade everything; with them: only those, and
        // only if already installed (install --only-upgrade).
        params: withRules(
          z.strictObject({
            package: packages.optional(),
            version: version.optional(),
          }),
          PIN,
        ),
        run: (p, ctx) =>
          aptGet(
            ctx,
            bin,
            "upgrade",
            p.package
              ? [
                ...base,
                ...KEEP_CONFFILES,
                "install",
                "--only-upgrade",
                "--",
                ...operands(p.package, p.version),
              ]
              : [...base, ...KEEP_CONFFILES, "upgrade"],
          ),
      }),
    },
  };
}
