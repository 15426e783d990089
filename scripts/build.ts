/**
 * deno task build — compiles grid, gridw and gridc into single binaries and
 * lays out the release: dist/grid-VERSION-TARGET/ and its .tar.gz, with
 * dist/SHA256SUMS. See release/ for what goes in and how it installs.
 *
 *   deno task build [--out DIR] [--nats-server PATH] [--target TRIPLE]
 *
 * Exit status: 0 built, 1 failed, 2 deno compile has no runtime to build on
 * (the message says how to point it at one with DENORT_BIN), 3 usage.
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { VERSION } from "../models/mod.ts";
import {
  BuildError,
  compileProgram,
  isFile,
  isRuntimeDownloadFailure,
  type Program,
  programsFrom,
  readDenoJson,
} from "../release/compile.ts";
import { checkEmbedded, readCompileMetadata } from "../release/embedded.ts";
import {
  findBuildNatsServer,
  natsServerVersion,
} from "../release/nats_server.ts";
import {
  denoDir,
  probeUrl,
  resolveRuntime,
  runtimeHelp,
} from "../release/runtime.ts";
import { assembleRelease, packRelease } from "../release/layout.ts";

const ROOT = resolve(import.meta.dirname!, "..");

const USAGE =
  `deno task build [--out DIR] [--nats-server PATH] [--target TRIPLE]

Compiles grid, gridw and gridc (deno compile, each with its dev task's
permission set from deno.json) and lays out DIR/grid-${VERSION}-TARGET/ with
nats-server, example configs, systemd units and install.sh, plus its .tar.gz
and DIR/SHA256SUMS.

  --out DIR           where the release goes (default: dist)
  --nats-server PATH  the nats-server to ship (default: the one in PATH or sbin)
  --target TRIPLE     deno compile --target (default: ${Deno.build.target});
                      another target needs --nats-server built for it

gridw carries permissions.worker: what every backend of models/backend_table.ts
needs, of which it drops at start what its worker.backends do not use. It
writes nowhere unless a site lists its worker.file.allowed_paths in
permissions.worker.write and WORKER_WRITE_GRANT before building (Deno cannot
add a grant to a compiled binary; see docs/SECURITY.md).

deno compile builds on a runtime it downloads; where that is not reachable,
set DENORT_BIN to a local denort of Deno ${Deno.version.deno}.`;

const say = (s: string) => console.error(`build: ${s}`);

async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        out: { type: "string", default: "dist" },
        "nats-server": { type: "string" },
        target: { type: "string", default: Deno.build.target },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`build: ${(e as Error).message}\n\n${USAGE}`);
    return 3;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const target = flags.target;
  const outDir = resolve(Deno.cwd(), flags.out);
  const native = target === Deno.build.target;
  if (!native && !flags["nats-server"]) {
    throw new BuildError(
      `--target ${target} is not this machine's (${Deno.build.target}): ` +
        `pass --nats-server with a nats-server built for ${target}`,
      3,
    );
  }

  const programs = programsFrom(await readDenoJson(ROOT));

  const query = {
    target,
    denoVersion: Deno.version.deno,
    denoDir: await denoDir(),
    denortBin: Deno.env.get("DENORT_BIN") || undefined,
    probe: (url: string) => probeUrl(url),
  };
  const runtime = await resolveRuntime(query);
  if (runtime.kind === "unavailable") throw new BuildError(runtime.help, 2);
  say(
    runtime.kind === "local"
      ? `runtime: DENORT_BIN=${runtime.path}`
      : runtime.kind === "cached"
      ? `runtime: ${runtime.path}`
      : `runtime: deno compile downloads ${runtime.url}`,
  );

  const natsFile = findBuildNatsServer(flags["nats-server"]);
  // Another target's nats-server cannot run here to say its version.
  const natsVersion = native ? await natsServerVersion(natsFile) : "unknown";
  say(`nats-server ${natsVersion} from ${natsFile}`);

  const work = await Deno.makeTempDir({ prefix: "grid-build-" });
  try {
    // One after another: the first compile may download the runtime for the rest.
    const built: (Program & { file: string })[] = [];
    for (const p of programs) {
      const file = join(work, p.name);
      say(`compile ${p.name} from ${p.entry} with -P=${p.permissionSet}`);
      const res = await compileProgram(p, { root: ROOT, target, output: file });
      if (!res.ok) {
        if (
          runtime.kind === "download" && isRuntimeDownloadFailure(res.stderr)
        ) {
          throw new BuildError(runtimeHelp(query, lastLine(res.stderr)), 2);
        }
        throw new BuildError(
          `deno compile ${p.entry} failed:\n${res.stderr.trim()}`,
        );
      }
      await verify(p, file);
      built.push({ ...p, file });
    }
    if (native) {
      for (const p of built) {
        await smoke(p.name, p.file, runtime.kind === "local");
      }
    }

    const dir = await assembleRelease({
      outDir,
      version: VERSION,
      target,
      deno: Deno.version.deno,
      commit: await gitCommit(),
      programs: built,
      natsServer: {
        file: natsFile,
        version: natsVersion,
        copyright: natsCopyright(natsFile),
      },
    });
    const { tarball, sha256 } = await packRelease(dir, {
      mtime: await sourceTime(),
    });
    say(`release ${dir}`);
    say(`tarball ${tarball}`);
    say(`sha256  ${sha256} (${join(outDir, "SHA256SUMS")})`);
    return 0;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** The binary must carry exactly its permission set. */
async function verify(p: Program, file: string): Promise<void> {
  const meta = readCompileMetadata(await Deno.readFile(file));
  if (!meta) {
    say(
      `warning: cannot read what ${p.name} embeds; its permissions are not checked`,
    );
    return;
  }
  const problems = checkEmbedded(p, meta);
  if (problems.length > 0) {
    throw new BuildError(
      `${p.name} does not carry permissions.${p.permissionSet}:\n  ${
        problems.join("\n  ")
      }`,
    );
  }
}

/** The binary must run and say its version. */
async function smoke(
  name: string,
  file: string,
  fromDenortBin: boolean,
): Promise<void> {
  const out = await new Deno.Command(file, {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output().catch((e: Error) => ({
    success: false,
    code: -1,
    stdout: new Uint8Array(),
    stderr: new TextEncoder().encode(e.message),
  }));
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.success && text.startsWith(`${name} ${VERSION}`)) {
    say(`${text}`);
    return;
  }
  const said = text || new TextDecoder().decode(out.stderr).trim() || "nothing";
  throw new BuildError(
    `${name} --version printed "${said.split("\n")[0]}" (exit ${out.code}), ` +
      `not "${name} ${VERSION} ..."` +
      (fromDenortBin
        ? `: is DENORT_BIN the denort of Deno ${Deno.version.deno} for ` +
          `${Deno.build.target}? (deno itself or another version will not do)`
        : ""),
  );
}

/** Debian's copyright file for its nats-server, shipped with it when found. */
function natsCopyright(binary: string): string | undefined {
  if (!/^\/usr\/s?bin\//.test(binary)) return undefined;
  const file = "/usr/share/doc/nats-server/copyright";
  return isFile(file) ? file : undefined;
}

async function git(args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success
      ? new TextDecoder().decode(out.stdout).trim()
      : undefined;
  } catch {
    return undefined;
  }
}

async function gitCommit(): Promise<string | undefined> {
  const head = await git(["rev-parse", "HEAD"]);
  if (!head) return undefined;
  const dirty = await git(["status", "--porcelain", "--untracked-files=no"]);
  return dirty ? `${head}-dirty` : head;
}

/** SOURCE_DATE_EPOCH, else the last commit's time, else now: every mtime in the tarball. */
async function sourceTime(): Promise<number> {
  const env = Number(Deno.env.get("SOURCE_DATE_EPOCH"));
  if (Number.isFinite(env) && env > 0) return env;
  const commit = Number(await git(["log", "-1", "--format=%ct"]));
  return Number.isFinite(commit) && commit > 0 ? commit : Date.now() / 1000;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.findLast((l) => /error|lookup|connect/i.test(l)) ??
    lines.at(-1) ??
    "unknown error";
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    console.error(`build: ${e.message}`);
    code = e.exitCode;
  }
  Deno.exit(code);
}
