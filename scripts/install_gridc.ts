/**
 * deno task install — puts `gridc` on PATH: a small script that runs this
 * checkout's CLI with the permission set its release binary carries
 * (`-P=client` from deno.json) and `--no-prompt`, as the binary does.
 * `--quiet` keeps Deno's own notices (such as "Permissions in the config
 * file is an experimental feature") off the terminal; gridc's output and
 * Deno's errors still show.
 *
 *   deno task install [--dir DIR]     # default: ~/.local/bin
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname!, "..");

/** The wrapper's text: absolute paths, so it works from any directory. */
export function wrapper(deno: string, root: string): string {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return [
    "#!/bin/sh",
    `# gridc from the GRID checkout at ${root} (written by deno task install).`,
    '# Permissions: deno.json\'s "client" set, as the gridc release binary has.',
    `exec ${q(deno)} run --quiet --no-prompt --frozen --config ${
      q(join(root, "deno.json"))
    } -P=client ${q(join(root, "client", "main.ts"))} "$@"`,
    "",
  ].join("\n");
}

function onPath(dir: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((p) =>
    p && resolve(p) === resolve(dir)
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { dir: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log("deno task install [--dir DIR]   (default: ~/.local/bin)");
    Deno.exit(0);
  }
  const home = Deno.env.get("HOME");
  const dir = values.dir ?? (home ? join(home, ".local", "bin") : undefined);
  if (!dir) {
    console.error("install: HOME is not set: give --dir DIR");
    Deno.exit(3);
  }
  await Deno.mkdir(dir, { recursive: true });
  const file = join(dir, "gridc");
  await Deno.writeTextFile(file, wrapper(Deno.execPath(), ROOT), {
    mode: 0o755,
  });
  await Deno.chmod(file, 0o755);
  console.error(`install: wrote ${file}`);
  if (!onPath(dir)) {
    console.error(
      `install: ${dir} is not on PATH; add it: export PATH="${dir}:$PATH"`,
    );
  }
}
