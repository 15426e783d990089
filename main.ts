/**
 * GRID from source, one entry for all three programs:
 *
 *   deno run -P=controller main.ts controller -c grid.yaml   # grid
 *   deno run -P=worker     main.ts worker -c gridw.yaml      # gridw
 *   deno run -P=client     main.ts gridc job list            # gridc
 *
 * (`deno task controller|worker|gridc` spell these out.) The release
 * compiles each program from its own `<program>/main.ts` with its own
 * permission set, so a compiled worker carries no controller code; this
 * file keeps that true when running from source by loading only the
 * program asked for (its imports are computed, so Deno does not follow
 * them ahead of time: tests/architecture_test.ts checks).
 */

interface Program {
  module: string;
  binary: string;
  /** deno.json permission set it runs under. */
  permissions: string;
  what: string;
}

export const PROGRAMS: Record<string, Program> = {
  controller: {
    module: "./controller/main.ts",
    binary: "grid",
    permissions: "controller",
    what: "the controller: nats-server, scheduler, REST API",
  },
  worker: {
    module: "./worker/main.ts",
    binary: "gridw",
    permissions: "worker",
    what: "a worker: runs this node's tasks",
  },
  gridc: {
    module: "./client/main.ts",
    binary: "gridc",
    permissions: "client",
    what: "the CLI: talks to the controller's API",
  },
};

export function usage(): string {
  const rows = Object.entries(PROGRAMS).map(([name, p]) =>
    `  deno run -P=${p.permissions.padEnd(10)} main.ts ${
      name.padEnd(10)
    } ${p.what} (${p.binary})`
  );
  return [
    "GRID — fleet orchestration, from source",
    "",
    "Usage:",
    ...rows,
    "",
    "Each program takes --help. A worker refuses to start with unrestricted",
    "--allow-run: run it with -P=worker, as the release binary gridw is.",
  ].join("\n");
}

/**
 * Why `program` must not start under the permissions it was given, if it
 * must not: a worker that may run any program would make every task
 * parameter a way to run anything on the node.
 */
export function refusal(program: string): string | undefined {
  if (program !== "worker") return undefined;
  const run = Deno.permissions.querySync({ name: "run" });
  return run.state === "granted"
    ? "main.ts: refusing to start a worker with unrestricted --allow-run (-A); use: deno run -P=worker main.ts worker -c FILE"
    : undefined;
}

async function main(args: string[]): Promise<void> {
  const [name, ...rest] = args;
  const program = name === undefined ? undefined : PROGRAMS[name];
  if (!program) {
    const known = name === undefined || ["-h", "--help", "help"].includes(name);
    (known ? console.log : console.error)(
      known ? usage() : `main.ts: unknown program "${name}"\n\n${usage()}`,
    );
    Deno.exit(known ? 0 : 3);
  }
  const why = refusal(name!);
  if (why) {
    console.error(why);
    Deno.exit(3);
  }
  const mod = await import(new URL(program.module, import.meta.url).href);
  await mod.main(rest);
}

if (import.meta.main) await main(Deno.args);
