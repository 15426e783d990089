/**
 * The nats-server the release ships beside grid: taken from the build
 * machine, as the operator names it or from the usual directories, and
 * asked for its version so the release manifest can say which it is.
 */
import { join } from "node:path";
import { BuildError, isFile } from "./compile.ts";

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
