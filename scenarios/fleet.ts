/** The local fleet the quick start and the scenarios run on. */
import type { Cluster, WorkerSpec } from "../testing/mod.ts";

export const LOCAL_FLEET: WorkerSpec[] = [
  { id: "web-01", groups: ["web", "prod"] },
  { id: "web-02", groups: ["web", "prod"] },
  { id: "db-01", groups: ["db", "prod"] },
];

/** Runs gridc from source with its own permission set (and `env` added). */
export function gridc(
  args: string[],
  inherit = false,
  env: Record<string, string> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=client", "client/main.ts", ...args],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "null",
    stdout: inherit ? "inherit" : "piped",
    stderr: inherit ? "inherit" : "piped",
    env,
  });
}

/**
 * What gridc needs to talk to `c` as its admin, without reading or
 * touching the user's own config dir.
 */
export function gridcEnv(c: Cluster): Record<string, string> {
  return {
    GRID_TOKEN: c.token ?? "",
    XDG_CONFIG_HOME: `${c.dir}/config`,
  };
}
