/**
 * The release: dist/grid-VERSION-TARGET/ with the three programs, the
 * nats-server grid runs (beside it, where grid looks first), example configs,
 * systemd units, install.sh, release.json and SHA256SUMS; then a .tar.gz of
 * it and dist/SHA256SUMS over every tarball in dist.
 */
import { basename, join } from "node:path";
import type { Program, ProgramName } from "./compile.ts";

/** This directory: the example configs, units and install.sh live here. */
export const RELEASE_SOURCES = import.meta.dirname!;

/** Shipped as they are, from RELEASE_SOURCES. */
export const STATIC_FILES = {
  "grid.yaml": 0o644,
  "gridw.yaml": 0o644,
  "grid.service": 0o644,
  "gridw.service": 0o644,
  "install.sh": 0o755,
} as const;

/** Every file of a release directory (nats-server.copyright only when found). */
export function releaseFiles(withCopyright: boolean): string[] {
  return [
    "grid",
    "gridw",
    "gridc",
    "nats-server",
    ...(withCopyright ? ["nats-server.copyright"] : []),
    ...Object.keys(STATIC_FILES),
    "release.json",
    "SHA256SUMS",
  ].sort();
}

export function releaseName(version: string, target: string): string {
  return `grid-${version}-${target}`;
}

export interface ReleaseManifest {
  name: "grid";
  version: string;
  target: string;
  deno: string;
  /** The nats-server shipped beside grid, as its --version says. */
  nats_server: string;
  commit?: string;
  programs: Record<ProgramName, {
    entry: string;
    permission_set: string;
    permissions: Program["permissions"];
  }>;
}

export interface AssembleOptions {
  /** Where the release directory goes (dist). */
  outDir: string;
  version: string;
  target: string;
  deno: string;
  commit?: string;
  /** Each program with the file compiled for it. */
  programs: (Program & { file: string })[];
  natsServer: { file: string; version: string; copyright?: string };
}

/**
 * Builds the release directory from scratch (beside it, then renamed into
 * place) and returns its path.
 */
export async function assembleRelease(o: AssembleOptions): Promise<string> {
  const name = releaseName(o.version, o.target);
  const dir = join(o.outDir, name);
  const stage = join(o.outDir, `.${name}.partial-${Deno.pid}`);
  await Deno.mkdir(o.outDir, { recursive: true });
  await Deno.remove(stage, { recursive: true }).catch(() => {});
  await Deno.mkdir(stage);
  await Deno.chmod(stage, 0o755);
  try {
    const names = o.programs.map((p) => p.name).sort();
    if (JSON.stringify(names) !== JSON.stringify(["grid", "gridc", "gridw"])) {
      throw new Error(`a release needs grid, gridw and gridc, not ${names}`);
    }
    for (const p of o.programs) await put(p.file, join(stage, p.name), 0o755);
    await put(o.natsServer.file, join(stage, "nats-server"), 0o755);
    if (o.natsServer.copyright) {
      await put(
        o.natsServer.copyright,
        join(stage, "nats-server.copyright"),
        0o644,
      );
    }
    for (const [file, mode] of Object.entries(STATIC_FILES)) {
      await put(join(RELEASE_SOURCES, file), join(stage, file), mode);
    }
    const manifest: ReleaseManifest = {
      name: "grid",
      version: o.version,
      target: o.target,
      deno: o.deno,
      nats_server: o.natsServer.version,
      ...(o.commit ? { commit: o.commit } : {}),
      programs: Object.fromEntries(
        o.programs.map((p) => [p.name, {
          entry: p.entry,
          permission_set: p.permissionSet,
          permissions: p.permissions,
        }]),
      ) as ReleaseManifest["programs"],
    };
    await Deno.writeTextFile(
      join(stage, "release.json"),
      JSON.stringify(manifest, null, 2) + "\n",
      { mode: 0o644 },
    );
    await Deno.chmod(join(stage, "release.json"), 0o644);
    await writeSums(stage, await filesIn(stage));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(stage, dir);
    return dir;
  } catch (e) {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * Packs a release directory into DIR.tar.gz beside it (sorted, owned by
 * root, every mtime `mtime`) and rewrites SHA256SUMS beside it over every
 * tarball there. Returns the tarball's path and its sha256.
 */
export async function packRelease(
  dir: string,
  opts: { mtime: number },
): Promise<{ tarball: string; sha256: string }> {
  const parent = join(dir, "..");
  const name = basename(dir);
  const tarball = join(parent, `${name}.tar.gz`);
  const partial = `${tarball}.partial`;
  // gzip -n: no name, no time in the header, so the same tree packs to the same bytes.
  const tar = await new Deno.Command("tar", {
    args: [
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      `--mtime=@${Math.floor(opts.mtime)}`,
      "--use-compress-program=gzip -9n",
      "-C",
      parent,
      "-cf",
      partial,
      name,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!tar.success) {
    await Deno.remove(partial).catch(() => {});
    throw new Error(
      `tar failed: ${new TextDecoder().decode(tar.stderr).trim()}`,
    );
  }
  await Deno.rename(partial, tarball);
  const tarballs: string[] = [];
  for await (const e of Deno.readDir(parent)) {
    if (e.isFile && e.name.endsWith(".tar.gz")) tarballs.push(e.name);
  }
  await writeSums(parent, tarballs.sort());
  return { tarball, sha256: await sha256File(tarball) };
}

export async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await Deno.readFile(path),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Parses a SHA256SUMS file: name → sha256. */
export function parseSums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m) sums.set(m[2]!, m[1]!);
  }
  return sums;
}

/** SHA256SUMS in `dir` over `names`, in the format `sha256sum -c` reads. */
async function writeSums(dir: string, names: string[]): Promise<void> {
  let text = "";
  for (const n of names) text += `${await sha256File(join(dir, n))}  ${n}\n`;
  await Deno.writeTextFile(join(dir, "SHA256SUMS"), text, { mode: 0o644 });
  await Deno.chmod(join(dir, "SHA256SUMS"), 0o644);
}

async function filesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name !== "SHA256SUMS") names.push(e.name);
  }
  return names.sort();
}

async function put(from: string, to: string, mode: number): Promise<void> {
  await Deno.copyFile(from, to);
  await Deno.chmod(to, mode);
}
