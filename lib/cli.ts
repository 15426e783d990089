/** Argument handling shared by the grid and gridw entrypoints. */
import { parseArgs } from "node:util";
import { die } from "./log.ts";

export interface DaemonArgs {
  /** Empty only when a flag in `configOptionalWith` was given. */
  config: string;
  flags: Record<string, boolean>;
}

/**
 * Parses `-c FILE` plus boolean flags; prints `usage` for --help and the
 * version line for --version, then exits.
 */
export function parseDaemonArgs(
  args: string[],
  usage: string,
  versionLine: () => string,
  extraFlags: string[] = [],
  configOptionalWith: string[] = ["self-check"],
): DaemonArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: "string", short: "c" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
        ...Object.fromEntries(
          extraFlags.map((f) => [f, { type: "boolean" as const }]),
        ),
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (e) {
    die(`${(e as Error).message}\n\n${usage}`, 3);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) {
    console.log(usage);
    Deno.exit(0);
  }
  if (v.version) {
    console.log(versionLine());
    Deno.exit(0);
  }
  const config = (v.config as string | undefined) ??
    Deno.env.get("GRID_CONFIG") ?? "";
  if (!config && !configOptionalWith.some((f) => v[f] === true)) {
    die(`a config file is required (-c FILE)\n\n${usage}`, 3);
  }
  const flags: Record<string, boolean> = {};
  for (const f of extraFlags) flags[f] = v[f] === true;
  return { config, flags };
}

/** Resolves on the first SIGINT or SIGTERM. */
export function shutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(sig, () => resolve(sig));
    }
  });
}
