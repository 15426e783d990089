/**
 * Stopping an aborted task's whole process tree, not just its direct child.
 *
 * Process groups on Deno 2.9: `Deno.Command`'s `detached: true` runs the
 * child through setsid(), so it leads a new session and process group and
 * `Deno.kill(-pid, …)` can signal everything that stayed in it. But
 * `Deno.kill` demands *unrestricted* --allow-run (a list such as the
 * worker's apt-get/systemctl/rke2 is not enough: NotCapable, except for
 * Deno's own pid). Abort therefore signals, in order of preference:
 *   1. with `Deno.kill` (under `-A`);
 *   2. with the `killPath` program (kill(1)), if configured and in
 *      --allow-run, one run per round for every target;
 *   3. with `child.kill()`, which needs no permission but reaches only the
 *      direct child: anything it started keeps running.
 * The targets are the group, plus each descendant that left it, found in
 * the process table (proctree.ts): from /proc under `-A`, from ps(1) at
 * `psPath` under the worker's grants (Deno wants --allow-all for /proc).
 * With neither, only the group is reached, and a descendant that called
 * setsid() escapes.
 */
import { DEFAULT_BINARIES } from "../models/backend_table.ts";
import { settlesWithin } from "./abort.ts";
import { processTable, ProcessTree } from "./proctree.ts";
import { CHILD_PATH } from "./spawn.ts";

export interface TerminateConfig {
  /** Wait between SIGTERM and SIGKILL. */
  graceMs: number;
  /** Absolute path of kill(1), for when `Deno.kill` is not permitted. */
  killPath: string | undefined;
  /**
   * Absolute path of ps(1), for the process table where /proc cannot be
   * read; it must be in --allow-run. @default DEFAULT_BINARIES.ps
   */
  psPath?: string;
}

const POLL_MS = 50;
const never = new Promise<never>(() => {});
/** SIGKILL cannot be caught, but the kernel still needs a moment. */
const KILL_SETTLE_MS = 2000;

type Sig = "SIGTERM" | "SIGKILL";

/** A way to signal processes other than the direct child. */
interface Signaller {
  /** Signals each target (negative: a process group); false if it could not. */
  send(targets: number[], sig: Sig): Promise<boolean>;
  /** Whether the group has a member left; undefined when it cannot tell. */
  groupAlive(pgid: number): Promise<boolean | undefined>;
}

/** SIGTERM to the tree, then SIGKILL to whatever is left after the grace period. */
export async function terminate(
  child: Deno.ChildProcess,
  status: Promise<unknown>,
  exited: () => boolean,
  cfg: TerminateConfig,
): Promise<void> {
  const tree = new ProcessTree(
    child.pid,
    processTable(cfg.psPath ?? DEFAULT_BINARIES.ps),
  );
  const via = await pickSignaller(cfg);
  const left = () => remaining(tree, via, exited);
  const stop = async (sig: Sig) => {
    const t = await left();
    const targets = [...(t.group ? [-tree.pgid] : []), ...t.strays];
    if (via && targets.length && await via.send(targets, sig)) return;
    if (!exited()) {
      try {
        child.kill(sig); // Needs no permission, but reaches only the child.
      } catch { /* exited meanwhile */ }
    }
  };
  const gone = async (ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      if (exited()) {
        const t = await left();
        if (!t.group && t.strays.length === 0) return true;
      }
      const wait = Math.min(POLL_MS, deadline - Date.now());
      if (wait <= 0) return false;
      // Once the child is reaped its status is settled: wait on a timer, or
      // this would rescan the table (and spawn ps) back to back.
      await settlesWithin(exited() ? never : status, wait);
    }
  };
  await stop("SIGTERM");
  if (await gone(cfg.graceMs)) return;
  await stop("SIGKILL");
  await gone(KILL_SETTLE_MS);
}

/**
 * What is left of the task: whether its group still has members, and the
 * descendants that left the group. The process table gives both; without
 * it only the group can be asked about.
 */
async function remaining(
  tree: ProcessTree,
  via: Signaller | undefined,
  exited: () => boolean,
): Promise<{ group: boolean; strays: number[] }> {
  const procs = await tree.refresh(!exited());
  if (procs) {
    return {
      group: !exited() || procs.some((p) => p.pgrp === tree.pgid),
      strays: procs.filter((p) => p.pgrp !== tree.pgid).map((p) => p.pid),
    };
  }
  // While the leader lives the group is certainly ours. After it is reaped,
  // the id stays ours only while a member lives; signalling it blindly
  // could reach a stranger's new group, so ask first.
  const group = !exited() || (await via?.groupAlive(tree.pgid)) === true;
  return { group, strays: [] };
}

async function pickSignaller(
  cfg: TerminateConfig,
): Promise<Signaller | undefined> {
  // Deno.kill checks for unrestricted --allow-run, not the program list.
  const run = await Deno.permissions.query({ name: "run" });
  if (run.state === "granted") return denoSignaller;
  if (cfg.killPath) return killProgram(cfg.killPath);
  return undefined;
}

const denoSignaller: Signaller = {
  send(targets, sig) {
    for (const t of targets) {
      try {
        Deno.kill(t, sig);
      } catch {
        // NotFound (ESRCH): already gone; PermissionDenied: not ours to stop.
      }
    }
    return Promise.resolve(true);
  },
  groupAlive(pgid) {
    try {
      Deno.kill(-pgid, 0); // Signal 0 only checks that the group exists.
      return Promise.resolve(true);
    } catch (e) {
      return Promise.resolve(!(e instanceof Deno.errors.NotFound));
    }
  },
};

/** kill(1), for when the worker may run it but not call Deno.kill. */
function killProgram(path: string): Signaller {
  return {
    // A non-zero exit means some target had already exited: that is fine.
    send: async (targets, sig) =>
      (await runKill(path, sig.slice(3), targets)) !== undefined,
    groupAlive: async (pgid) => {
      const code = await runKill(path, "0", [-pgid]);
      return code === undefined ? undefined : code === 0;
    },
  };
}

/** Runs `kill -s SIG -- TARGETS`; its exit code, or undefined if it did not start. */
async function runKill(
  path: string,
  sig: string,
  targets: number[],
): Promise<number | undefined> {
  try {
    const p = new Deno.Command(path, {
      args: ["-s", sig, "--", ...targets.map(String)],
      clearEnv: true,
      env: { PATH: CHILD_PATH },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return (await p.status).code;
  } catch {
    return undefined;
  }
}
