/** The local fleet the quick start and the scenarios run on. */
import type { Cluster, WorkerSpec } from "../testing/mod.ts";

/** Labels are enrolled with the node, as `gridc node enroll --label` does. */
export const LOCAL_FLEET: WorkerSpec[] = [
  {
    id: "web-01",
    groups: ["web", "prod"],
    labels: { role: "web", env: "prod" },
  },
  {
    id: "web-02",
    groups: ["web", "prod"],
    labels: { role: "web", env: "prod" },
  },
  { id: "db-01", groups: ["db", "prod"], labels: { role: "db", env: "prod" } },
];

/**
 * Where the scenarios' db-01 may write with `file` and `config`: a fixed
 * path, because a job file names it. The runner creates it (and removes
 * it if it did) since gridw refuses an allowed path that does not exist.
 */
export const SCENARIO_DIR = "/tmp/grid-scenario";

/**
 * The fleet the scenarios run on: the local one, with db-01 also offering
 * the check-then-act backends and granted writes in SCENARIO_DIR, as a
 * site would list it for its compiled gridw.
 */
export const SCENARIO_FLEET: WorkerSpec[] = LOCAL_FLEET.map((w) =>
  w.id !== "db-01" ? w : {
    ...w,
    extra: "  backends: [ping, test, apt, systemd, rke2, sysinfo, health, " +
      "file, config]\n" +
      `  file:\n    allowed_paths: [${SCENARIO_DIR}]\n`,
    permissions: ["-P=worker", `--allow-write=${SCENARIO_DIR}`],
  }
);

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
