/**
 * Run by tests/backend_sandbox_test.ts under the worker's real permission
 * flags: narrows the grants exactly as gridw does at start, from a worker
 * config file, then tries what a task might try and prints each outcome as
 * JSON ("ok", or the error's name: "NotCapable" when Deno refused).
 *
 *   sandbox_probe.ts CONFIG TRIES_JSON [WRITE_JSON]
 *
 * WRITE_JSON `{grant, keep?}`: `grant` is the write list the flags carry
 * (a site's WORKER_WRITE_GRANT); `keep` stands for an enabled backend
 * that writes those paths (the mechanism, whichever backends the table has).
 *
 * TRIES_JSON: [{run: "/abs/prog"} | {write: "/abs/file"} |
 * {symlink: ["/target", "/link"]}, ...]
 */
import { WorkerConfig } from "../models/config.ts";
import { loadConfig } from "../lib/config_file.ts";
import { workerNeeds } from "../models/backend_needs.ts";
import { narrowPermissions, narrowTo } from "../worker/sandbox.ts";

type Try = { run: string } | { write: string } | {
  symlink: [string, string];
};

const [file, triesJson, writeJson] = Deno.args;
const config = await loadConfig(file!, WorkerConfig);
const { backends, binaries, file: { allowed_paths } } = config.worker;
const write = writeJson
  ? JSON.parse(writeJson) as { grant: string[]; keep?: string[] }
  : undefined;
let narrowed;
try {
  narrowed = write?.keep
    ? narrowTo(
      {
        ...workerNeeds(backends, binaries, allowed_paths),
        write: write.keep,
      },
      binaries,
      write.grant,
    )
    : narrowPermissions(backends, binaries, allowed_paths, write?.grant);
} catch (e) {
  console.log(JSON.stringify({ refusedToStart: (e as Error).message }));
  Deno.exit(0);
}

function attempt(t: Try): string {
  try {
    if ("run" in t) {
      new Deno.Command(t.run, {
        args: ["--version"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).outputSync();
    } else if ("write" in t) {
      Deno.writeTextFileSync(t.write, "written by sandbox_probe\n");
    } else {
      Deno.symlinkSync(t.symlink[0], t.symlink[1]);
    }
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

const tries = JSON.parse(triesJson!) as Try[];
console.log(JSON.stringify({
  dropped: narrowed.dropped,
  results: tries.map(attempt),
}));
