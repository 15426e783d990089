/**
 * What `deno task build` compiles and how: the three programs, each from its
 * dev task's entry with its dev task's permission set (deno.json is the one
 * definition of both), and the `deno compile` run for each. The runtime deno
 * compile builds on is found in runtime.ts, the check that a binary carries
 * exactly its set is in embedded.ts, and the nats-server shipped beside the
 * binaries in nats_server.ts.
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

/**
 * Files a program reads at run time, carried inside its binary
 * (`deno compile --include`): the controller serves the web dashboard.
 */
export const PROGRAM_INCLUDES: Partial<Record<ProgramName, string[]>> = {
  grid: ["web"],
};

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
  /** Files and directories carried in the binary (PROGRAM_INCLUDES). */
  include?: string[];
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
      const include = PROGRAM_INCLUDES[name];
      return {
        name,
        task,
        entry,
        permissionSet,
        permissions,
        v8Flags,
        ...(include ? { include } : {}),
      };
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
    ...(p.include ?? []).flatMap((path) => ["--include", path]),
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

export function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}
