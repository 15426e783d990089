/**
 * What `deno task build` compiles and how: the three programs, each from its
 * dev task's entry with its dev task's permission set (deno.json is the one
 * definition of both), the runtime `deno compile` needs, and a check that a
 * compiled binary carries exactly the permissions of its set.
 */
import { join } from "node:path";
import { PROGRAMS } from "../main.ts";

/** A permission set in deno.json: `"read": true`, a list, or allow/deny/ignore. */
export type PermissionValue =
  | boolean
  | string[]
  | {
    allow?: boolean | string[];
    deny?: boolean | string[];
    ignore?: boolean | string[];
  };
export type PermissionSet = Record<string, PermissionValue>;

export interface DenoJson {
  permissions?: Record<string, PermissionSet>;
  tasks?: Record<string, string | { command?: string; description?: string }>;
}

export type ProgramName = "grid" | "gridw" | "gridc";

/** Each shipped program and the dev task that runs it from source. */
export const PROGRAM_TASKS: Record<ProgramName, string> = {
  grid: "controller",
  gridw: "worker",
  gridc: "gridc",
};

export interface Program {
  name: ProgramName;
  /** The dev task it is built like. */
  task: string;
  /** Entry module, relative to the repository root. */
  entry: string;
  /** Name of the permission set in deno.json. */
  permissionSet: string;
  permissions: PermissionSet;
  /** V8 tuning from the dev task (`--v8-flags=...`), compiled in. */
  v8Flags?: string[];
}

export class BuildError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "BuildError";
  }
}

export async function readDenoJson(root: string): Promise<DenoJson> {
  return JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
}

/**
 * The programs, read off their dev tasks: `deno run -P=SET ENTRY`. A dev
 * task that grants anything beside its set would run with more than the
 * binary gets, so that is refused.
 */
export function programsFrom(config: DenoJson): Program[] {
  return (Object.entries(PROGRAM_TASKS) as [ProgramName, string][]).map(
    ([name, task]) => {
      const def = config.tasks?.[task];
      const command = typeof def === "string" ? def : def?.command;
      if (!command) {
        throw new BuildError(`deno.json: task "${task}" (${name}) is missing`);
      }
      const words = command.trim().split(/\s+/);
      if (words[0] !== "deno" || words[1] !== "run") {
        throw new BuildError(
          `deno.json: task "${task}" must be "deno run -P=SET ENTRY", not "${command}"`,
        );
      }
      let permissionSet: string | undefined;
      const positional: string[] = [];
      const v8Flags: string[] = [];
      for (const w of words.slice(2)) {
        const m = /^(?:-P|--permission-set)=(.+)$/.exec(w);
        if (m) permissionSet = m[1];
        else if (w.startsWith("--v8-flags=")) v8Flags.push(w);
        else if (/^-(A|-allow-|-deny-|-ignore-|[RWNEIS])/.test(w)) {
          throw new BuildError(
            `deno.json: task "${task}" grants "${w}" beside its permission set; ` +
              `put it in permissions.${
                permissionSet ?? "SET"
              } so ${name} gets it too`,
          );
        } else if (!w.startsWith("-")) positional.push(w);
      }
      // Through the root main.ts (`main.ts worker`), the program's own entry
      // is compiled: the binary carries only that program's graph.
      const entry = positional[0] === "main.ts"
        ? PROGRAMS[positional[1] ?? ""]?.module.replace(/^\.\//, "")
        : positional[0];
      if (!permissionSet || !entry) {
        throw new BuildError(
          `deno.json: task "${task}" must be "deno run -P=SET ENTRY", not "${command}"`,
        );
      }
      const permissions = config.permissions?.[permissionSet];
      if (!permissions) {
        throw new BuildError(
          `deno.json: task "${task}" uses permission set "${permissionSet}", which permissions does not define`,
        );
      }
      return { name, task, entry, permissionSet, permissions, v8Flags };
    },
  );
}

/** The `deno compile` arguments for one program. */
export function compileArgs(
  p: Program,
  opts: { target: string; output: string },
): string[] {
  return [
    "compile",
    "--frozen",
    "--exclude-unused-npm",
    `-P=${p.permissionSet}`,
    // The binary runs with the engine tuning its dev task uses.
    ...(p.v8Flags ?? []),
    // A missing permission is an error in a shipped binary, never a question.
    "--no-prompt",
    "--target",
    opts.target,
    "--output",
    opts.output,
    p.entry,
  ];
}

export interface CompileResult {
  ok: boolean;
  stderr: string;
}

/** Runs `deno compile` for one program; DENORT_BIN comes from `env`. */
export async function compileProgram(
  p: Program,
  opts: {
    root: string;
    target: string;
    output: string;
    env?: Record<string, string>;
  },
): Promise<CompileResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(p, opts),
    cwd: opts.root,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr) +
    new TextDecoder().decode(out.stdout);
  return { ok: out.success, stderr: text };
}

/** True when a failed compile failed because it could not fetch its runtime. */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  return /Setting up base binary|dl\.deno\.land|denort/i.test(stderr);
}

// ---- the runtime deno compile builds on ----

export type Runtime =
  /** DENORT_BIN names a local runtime. */
  | { kind: "local"; path: string }
  /** deno compile has the runtime in its cache. */
  | { kind: "cached"; path: string }
  /** deno compile will download it, and can. */
  | { kind: "download"; url: string }
  /** deno compile would have to download it and cannot: `help` says what to do. */
  | { kind: "unavailable"; url: string; help: string };

export interface RuntimeQuery {
  target: string;
  denoVersion: string;
  /** deno's cache directory (`deno info --json` → denoDir). */
  denoDir: string;
  /** DENORT_BIN, if set. */
  denortBin?: string;
  /** Whether `url` answers; only asked when nothing local is found. */
  probe: (url: string) => Promise<{ ok: boolean; reason: string }>;
}

/** Where deno compile fetches the runtime, and where it caches it. */
export function runtimeLocation(
  q: Pick<RuntimeQuery, "target" | "denoVersion" | "denoDir">,
): { url: string; cache: string } {
  const file = `denort-${q.target}.zip`;
  return {
    url: `https://dl.deno.land/release/v${q.denoVersion}/${file}`,
    cache: join(q.denoDir, "dl", "release", `v${q.denoVersion}`, file),
  };
}

/**
 * Finds the runtime deno compile will use: DENORT_BIN, else its cache, else
 * a download, which is probed first so that a machine without access gets
 * directions instead of deno compile's network error.
 */
export async function resolveRuntime(q: RuntimeQuery): Promise<Runtime> {
  if (q.denortBin) {
    if (!isFile(q.denortBin)) {
      throw new BuildError(
        `DENORT_BIN=${q.denortBin}: no such file. It must name the denort ` +
          `executable of Deno ${q.denoVersion} for ${q.target}.`,
        2,
      );
    }
    return { kind: "local", path: q.denortBin };
  }
  const { url, cache } = runtimeLocation(q);
  if (isFile(cache)) return { kind: "cached", path: cache };
  const answer = await q.probe(url);
  if (answer.ok) return { kind: "download", url };
  return { kind: "unavailable", url, help: runtimeHelp(q, answer.reason) };
}

/** The directions printed when deno compile cannot get its runtime. */
export function runtimeHelp(
  q: Pick<RuntimeQuery, "target" | "denoVersion" | "denoDir">,
  reason: string,
): string {
  const { url, cache } = runtimeLocation(q);
  return [
    `deno compile builds each binary on the Deno runtime "denort" ` +
    `(Deno ${q.denoVersion}, ${q.target}), which it downloads from`,
    `  ${url}`,
    `and this machine cannot reach it (${reason}).`,
    ``,
    `Point the build at a local runtime instead:`,
    `  1. where that URL is reachable, download the zip and unzip it: it holds`,
    `     one file, denort (it must be Deno ${q.denoVersion}, the version that compiles)`,
    `  2. copy denort to this machine and run`,
    `       DENORT_BIN=/path/to/denort deno task build`,
    `or put the zip itself where deno compile looks before downloading:`,
    `  ${cache}`,
  ].join("\n");
}

/** Asks whether `url` answers, within `timeoutMs`. */
export async function probeUrl(
  url: string,
  timeoutMs = 5000,
): Promise<{ ok: boolean; reason: string }> {
  try {
    const res = await fetch(url, {
      method: "HEAD",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.ok
      ? { ok: true, reason: `HTTP ${res.status}` }
      : { ok: false, reason: `HTTP ${res.status}` };
  } catch (e) {
    // fetch says "fetch failed"; the why (DNS, refused, timeout) is the cause.
    let why: unknown = e;
    while (why instanceof Error && why.cause instanceof Error) why = why.cause;
    const msg = why instanceof Error ? why.message : String(why);
    return {
      ok: false,
      reason: msg.split("\n")[0]!.replace(/^.*?: (?=\w+ error)/, "").slice(
        0,
        200,
      ),
    };
  }
}

/** deno's cache directory. */
export async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) throw new BuildError("deno info --json failed");
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

// ---- what a compiled binary carries ----

/**
 * The metadata deno compile embeds in a binary (a JSON object that begins
 * `{"argv":`), or undefined when it cannot be found.
 */
export function readCompileMetadata(
  bytes: Uint8Array,
): Record<string, unknown> | undefined {
  const marker = new TextEncoder().encode('{"argv":');
  let from = 0;
  while (true) {
    const at = indexOf(bytes, marker, from);
    if (at < 0) return undefined;
    const end = jsonObjectEnd(bytes, at);
    if (end > at) {
      try {
        return JSON.parse(new TextDecoder().decode(bytes.subarray(at, end)));
      } catch { /* not it: look further */ }
    }
    from = at + 1;
  }
}

type Embedded = string[] | null;

/**
 * The `permissions` deno compile embeds for a set: `true` is an empty list
 * (everything), a list stays a list, absent is null. Import permissions are
 * left out unless the set names them (deno adds its default hosts).
 */
export function embeddedPermissions(
  set: PermissionSet,
): Record<string, Embedded | boolean> {
  const norm = (v: boolean | string[] | undefined): Embedded =>
    v === true ? [] : Array.isArray(v) ? v : null;
  const out: Record<string, Embedded | boolean> = {};
  for (
    const kind of ["env", "net", "ffi", "read", "run", "sys", "write", "import"]
  ) {
    const v = set[kind];
    if (kind === "import" && v === undefined) continue;
    const o = typeof v === "object" && !Array.isArray(v) ? v : { allow: v };
    out[`allow_${kind}`] = norm(o.allow);
    out[`deny_${kind}`] = norm(o.deny);
    if (kind === "env" || kind === "read") {
      out[`ignore_${kind}`] = norm(o.ignore);
    }
  }
  for (const key of Object.keys(set)) {
    if (
      !["env", "net", "ffi", "read", "run", "sys", "write", "import"].includes(
        key,
      )
    ) {
      throw new BuildError(
        `permission "${key}" is not known to the build's check`,
      );
    }
  }
  out.prompt = false;
  return out;
}

/**
 * Differences between what a compiled binary carries and what its program
 * should: permissions, prompting and entry point. Empty when they agree.
 */
export function checkEmbedded(
  p: Program,
  metadata: Record<string, unknown>,
): string[] {
  const problems: string[] = [];
  const got = (metadata.permissions ?? {}) as Record<string, unknown>;
  for (
    const [key, want] of Object.entries(embeddedPermissions(p.permissions))
  ) {
    const have = got[key];
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      problems.push(
        `${p.name}: ${key} is ${
          JSON.stringify(have)
        }, permissions.${p.permissionSet} says ${JSON.stringify(want)}`,
      );
    }
  }
  const entry = metadata.entrypoint_key;
  if (entry !== undefined && entry !== p.entry) {
    problems.push(`${p.name}: entry point is ${entry}, not ${p.entry}`);
  }
  return problems;
}

// ---- nats-server from the build machine ----

/** Where the build looks for nats-server when not told: PATH, then the sbin dirs. */
export function natsServerCandidates(
  path = Deno.env.get("PATH") ?? "",
): string[] {
  const dirs = [
    ...path.split(":").filter((d) => d.startsWith("/")),
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
  ];
  return [...new Set(dirs)].map((d) => join(d, "nats-server"));
}

export function findBuildNatsServer(configured?: string): string {
  if (configured) {
    if (!isFile(configured)) {
      throw new BuildError(`--nats-server ${configured}: no such file`);
    }
    return configured;
  }
  const found = natsServerCandidates().find(isFile);
  if (!found) {
    throw new BuildError(
      "nats-server not found in PATH or the sbin directories: install it " +
        "(apt-get install nats-server) or pass --nats-server PATH",
    );
  }
  return found;
}

/** `nats-server --version` → "v2.9.10". */
export async function natsServerVersion(binary: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(binary, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new BuildError(
      `cannot run ${binary} --version: ${(e as Error).message}`,
    );
  }
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  const m = /\bv?(\d+\.\d+\.\d+[\w.+-]*)/.exec(text);
  if (!out.success || !m) {
    throw new BuildError(
      `${binary} --version did not print a version: ${
        text.trim() || `exit ${out.code}`
      }`,
    );
  }
  return `v${m[1]}`;
}

// ---- helpers ----

export function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  outer: for (
    let i = hay.indexOf(first, from);
    i >= 0;
    i = hay.indexOf(first, i + 1)
  ) {
    if (i + needle.length > hay.length) return -1;
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** End (exclusive) of the JSON object starting at `start`, or -1. */
function jsonObjectEnd(bytes: Uint8Array, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return i + 1;
    } else if (c === 0) return -1;
  }
  return -1;
}
