/**
 * What the `package` backend runs on each package manager, as data: the
 * argv of every action and how each manager's answers are read. Pure, so
 * the tables are tested for every manager on any machine. Operands always
 * follow "--" (every one of these programs parses options with getopt or
 * argparse, which end options there).
 */
import { DEBIAN_VERSION_RE, PACKAGE_RE as DEBIAN_PACKAGE_RE } from "./apt.ts";

export const PACKAGE_MANAGERS = ["apt-get", "dnf", "yum", "apk"] as const;
export type PackageManager = typeof PACKAGE_MANAGERS[number];

/** Each manager's rule for names and versions, with words for a refusal. */
export const NAME_RULES: Record<
  PackageManager,
  { name: RegExp; version: RegExp; nameHelp: string; versionHelp: string }
> = {
  "apt-get": {
    name: DEBIAN_PACKAGE_RE,
    version: DEBIAN_VERSION_RE,
    nameHelp:
      'a Debian package name (lowercase letters, digits, "+", "-" and "."; at least 2 characters, starting with a letter or digit)',
    versionHelp: 'a Debian version (e.g. "1.24.0-1" or "2:1.2~rc1")',
  },
  dnf: rpmRules(),
  yum: rpmRules(),
  apk: {
    name: /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/,
    version: /^[0-9][A-Za-z0-9._]*(?:-r[0-9]+)?$/,
    nameHelp:
      'an Alpine package name (letters, digits, ".", "_", "+" and "-", starting with a letter or digit)',
    versionHelp: 'an Alpine version (e.g. "1.24.0-r3")',
  },
};

function rpmRules() {
  return {
    name: /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}$/,
    version:
      /^(?:[0-9]+:)?[A-Za-z0-9][A-Za-z0-9._+~^]*(?:-[A-Za-z0-9][A-Za-z0-9._+~^]*)?$/,
    nameHelp:
      'an RPM package name (letters, digits, ".", "_", "+" and "-", not starting with "-" or ".")',
    versionHelp: 'an RPM version (e.g. "1.24.0", "1.24.0-1.el9" or "1:2.3")',
  };
}

/** A `list` pattern: a glob over package names. */
export const LIST_PATTERN_RE = /^[A-Za-z0-9*?_][A-Za-z0-9.+_*?-]{0,127}$/;

export interface Step {
  /** Which program: the manager itself, or a helper of apt's. */
  program: PackageManager | "dpkg-query" | "apt-cache";
  args: string[];
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

/** A pinned operand as each manager spells it. */
export function pinned(
  pm: PackageManager,
  name: string,
  version: string | undefined,
): string {
  if (!version) return name;
  return pm === "dnf" || pm === "yum"
    ? `${name}-${version}`
    : `${name}=${version}`;
}

/** "${db:Status-Abbrev}" is "ii " for an installed package; tab-separated rows. */
export const DPKG_LIST_FORMAT =
  "--showformat=${db:Status-Abbrev}\\t${Package}\\t${Version}\\n";

/** The argv (after the program) of each action; `info` tries them in order. */
export function steps(
  pm: PackageManager,
  action: string,
  p: { name?: string; version?: string; pattern?: string },
): Step[] {
  const op = (...xs: (string | undefined)[]) => {
    const given = xs.filter((x): x is string => x !== undefined);
    return given.length ? ["--", ...given] : [];
  };
  const name = p.name;
  if (pm === "apt-get") {
    const base = ["-y", "-q"];
    const table: Record<string, Step[]> = {
      install: [{
        program: pm,
        args: [
          ...base,
          ...KEEP_CONFFILES,
          "install",
          ...op(pinned(pm, name!, p.version)),
        ],
      }],
      remove: [{ program: pm, args: [...base, "remove", ...op(name)] }],
      update: [{ program: pm, args: [...base, "update"] }],
      upgrade: [{ program: pm, args: [...base, ...KEEP_CONFFILES, "upgrade"] }],
      info: [
        { program: "dpkg-query", args: ["--status", ...op(name)] },
        { program: "apt-cache", args: ["show", ...op(name)] },
      ],
      list: [{
        program: "dpkg-query",
        args: ["--show", DPKG_LIST_FORMAT, ...op(p.pattern)],
      }],
      search: [{ program: "apt-cache", args: ["search", ...op(name)] }],
    };
    return table[action] ?? [];
  }
  if (pm === "apk") {
    const table: Record<string, Step[]> = {
      install: [{
        program: pm,
        args: ["add", ...op(pinned(pm, name!, p.version))],
      }],
      remove: [{ program: pm, args: ["del", ...op(name)] }],
      update: [{ program: pm, args: ["update"] }],
      upgrade: [{ program: pm, args: ["upgrade"] }],
      info: [{ program: pm, args: ["info", ...op(name)] }],
      list: [{ program: pm, args: ["list", "--installed", ...op(p.pattern)] }],
      search: [{ program: pm, args: ["search", ...op(name)] }],
    };
    return table[action] ?? [];
  }
  const table: Record<string, Step[]> = {
    install: [{
      program: pm,
      args: ["install", "-y", ...op(pinned(pm, name!, p.version))],
    }],
    remove: [{ program: pm, args: ["remove", "-y", ...op(name)] }],
    // Exit 100 says updates are available; see UPDATES_AVAILABLE.
    update: [{ program: pm, args: ["check-update"] }],
    upgrade: [{ program: pm, args: ["upgrade", "-y"] }],
    info: [{ program: pm, args: ["info", ...op(name)] }],
    list: [{ program: pm, args: ["list", "installed", ...op(p.pattern)] }],
    search: [{ program: pm, args: ["search", ...op(name)] }],
  };
  return table[action] ?? [];
}

/** dnf/yum check-update: "updates are available", not a failure. */
export const UPDATES_AVAILABLE = 100;

export interface Installed {
  name: string;
  version: string;
}

/** The installed packages in a `list` answer. */
export function parseList(pm: PackageManager, text: string): Installed[] {
  const out: Installed[] = [];
  for (const line of text.split("\n")) {
    if (pm === "apt-get") {
      const [status, name, version] = line.split("\t");
      if (name && version !== undefined && /^[ih]i/.test(status ?? "")) {
        out.push({ name, version });
      }
    } else if (pm === "apk") {
      // "busybox-1.36.1-r15 x86_64 {busybox} (GPL-2.0-only) [installed]"
      const m = /^(\S+?)-(\d[^\s-]*-r\d+)\s/.exec(line);
      if (m) out.push({ name: m[1]!, version: m[2]! });
    } else {
      // "bash.x86_64    5.1.8-9.el9    @baseos"
      const m = /^(\S+)\.([A-Za-z0-9_]+)\s+(\S+)\s+@?\S+\s*$/.exec(line);
      if (m) out.push({ name: m[1]!, version: m[3]! });
    }
  }
  return out;
}

export interface PackageInfo {
  name: string;
  installed: boolean;
  version?: string;
}

/**
 * The version an `info` answer names. apt: dpkg-query answered (installed
 * when its Status says so) or only apt-cache did (not installed); dnf/yum
 * put installed packages under "Installed Packages".
 */
export function parseInfo(
  pm: PackageManager,
  name: string,
  text: string,
  step: number,
): PackageInfo {
  let version = /^Version\s*:\s*(\S+)/m.exec(text)?.[1];
  const release = /^Release\s*:\s*(\S+)/m.exec(text)?.[1];
  if (version && release) version = `${version}-${release}`;
  // apk heads each block with "name-version-rN what:".
  version ??= /^\S+?-(\d[^\s-]*-r\d+) \w/m.exec(text)?.[1];
  let installed: boolean;
  if (pm === "apt-get") {
    installed = step === 0 && /^Status: .* installed$/m.test(text);
  } else if (pm === "apk") {
    installed = /^\S+ installed size:/m.test(text);
  } else {
    installed = /^Installed Packages/m.test(text);
  }
  return { name, installed, ...(version ? { version } : {}) };
}
