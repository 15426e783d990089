/**
 * The one place in GRID that starts a process. Backends describe commands as
 * argv arrays; this turns them into a child with a cleared environment, no
 * stdin, capped output and a stop path that reaches the whole process tree.
 *
 * Process groups on Deno 2.9: `Deno.Command`'s `detached: true` runs the
 * child through setsid(), so it leads a new session and process group and
 * `Deno.kill(-pid, …)` can signal everything that stayed in it. But
 * `Deno.kill` demands *unrestricted* --allow-run (a list such as the
 * worker's apt-get/systemctl/rke2 is not enough: NotCapable, except for
 * Deno's own pid), and reading /proc, needed to find descendants that left
 * the group, demands --allow-all. Abort therefore tries, in order:
 *   1. `Deno.kill` on the group, plus each descendant found in /proc when
 *      /proc is readable (under `-A`);
 *   2. the `killPath` program (kill(1)), if configured and in --allow-run:
 *      the group, plus /proc descendants when readable;
 *   3. `child.kill()`, which needs no permission but reaches only the direct
 *      child: anything it started keeps running.
 * Under the worker's own permission set only 2 or 3 is possible, and
 * descendants that call setsid() themselves escape both.
 */
import { abortReason, settlesWithin } from "./abort.ts";
import { MAX_OUTPUT_BYTES, utf8Prefix } from "./output.ts";
import { ProcessTree } from "./proctree.ts";
import {
  ActionError,
  type Exec,
  type ExecRequest,
  type ExecResult,
} from "./types.ts";

/** The only PATH a child sees: no operator-writable directories. */
export const CHILD_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

export interface ExecOptions {
  /** Wait between SIGTERM and SIGKILL on abort. @default 5000 */
  graceMs?: number;
  /** Bytes of stdout and stderr kept, together. @default 262144 */
  maxOutputBytes?: number;
  /**
   * How long to keep reading after the program exits. A background process
   * that inherited the pipes would otherwise hold the task open forever.
   * @default 1000
   */
  drainMs?: number;
  /**
   * Absolute path of kill(1) (procps or util-linux), used to signal the
   * process group when `Deno.kill` is not permitted. It must be in
   * --allow-run too. Unset: only the direct child is signalled then.
   */
  killPath?: string;
}

interface Config {
  graceMs: number;
  maxOutputBytes: number;
  drainMs: number;
  killPath: string | undefined;
}

const POLL_MS = 50;
/** SIGKILL cannot be caught, but the kernel still needs a moment. */
const KILL_SETTLE_MS = 2000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Makes the Exec every backend receives through its ActionContext.
 * @throws {RangeError} when an option is negative or not a number
 * @throws {TypeError} when `killPath` is not absolute
 */
export function createExec(opts: ExecOptions = {}): Exec {
  const cfg: Config = {
    graceMs: count("graceMs", opts.graceMs ?? 5000),
    maxOutputBytes: count(
      "maxOutputBytes",
      opts.maxOutputBytes ?? MAX_OUTPUT_BYTES,
    ),
    drainMs: count("drainMs", opts.drainMs ?? 1000),
    killPath: opts.killPath,
  };
  if (cfg.killPath !== undefined && !cfg.killPath.startsWith("/")) {
    throw new TypeError(
      `killPath must be an absolute path, got ${JSON.stringify(cfg.killPath)}`,
    );
  }
  return (req, signal) => execute(req, signal, cfg);
}

function count(name: string, n: number): number {
  if (!Number.isFinite(n) || n < 0) {
    throw new RangeError(`${name} must be a non-negative number, got ${n}`);
  }
  return Math.floor(n);
}

async function execute(
  req: ExecRequest,
  signal: AbortSignal,
  cfg: Config,
): Promise<ExecResult> {
  const [program, args] = checkRequest(req);
  if (signal.aborted) {
    throw new ActionError(`Did not start ${program}: ${abortReason(signal)}`);
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      clearEnv: true,
      env: { ...req.env, PATH: CHILD_PATH },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true, // setsid(): the child leads its own process group.
    }).spawn();
  } catch (e) {
    throw await spawnError(program, e);
  }

  const budget: Budget = { left: cfg.maxOutputBytes, dropped: 0 };
  const out = new CappedReader(child.stdout, budget);
  const err = new CappedReader(child.stderr, budget);
  let exited = false;
  const status = child.status.finally(() => (exited = true));
  let stopping: Promise<void> | undefined;
  const onAbort = () => {
    // Must never reject: it is awaited only once the child has exited.
    stopping ??= terminate(child, status, () => exited, cfg).catch(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    });
  };
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    const st = await status;
    // From here an abort has nothing of ours left to stop.
    signal.removeEventListener("abort", onAbort);
    await stopping;
    await drain([out, err], cfg.drainMs);
    return {
      // A signalled process has no exit code of its own (Deno reports 128+n).
      code: st.signal ? null : st.code,
      signal: st.signal,
      stdout: out.text(),
      stderr: err.text(),
      truncated: budget.dropped > 0,
      dropped: budget.dropped,
    };
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await Promise.all([out.cancel(), err.cancel()]);
  }
}

/** Rejects requests no backend should make, before anything starts. */
function checkRequest(req: ExecRequest): [string, string[]] {
  const argv = req.argv;
  const bad = (why: string) =>
    new ActionError(`Invalid command: ${why}`, false);
  if (!Array.isArray(argv) || argv.length === 0) throw bad("argv is empty");
  for (const a of argv) {
    if (typeof a !== "string" || a.includes("\0")) {
      throw bad(`argument ${JSON.stringify(a)} is not a NUL-free string`);
    }
  }
  if (!argv[0]!.startsWith("/")) {
    throw bad(`program ${JSON.stringify(argv[0])} must be an absolute path`);
  }
  for (const [k, v] of Object.entries(req.env ?? {})) {
    if (!ENV_NAME.test(k)) {
      throw bad(`environment name ${JSON.stringify(k)} is not valid`);
    }
    if (k === "PATH") {
      throw bad(`PATH is fixed to ${CHILD_PATH} and cannot be set`);
    }
    if (typeof v !== "string" || v.includes("\0")) {
      throw bad(`environment value for ${k} is not a NUL-free string`);
    }
  }
  return [argv[0]!, argv.slice(1)];
}

async function spawnError(program: string, e: unknown): Promise<unknown> {
  if (e instanceof Deno.errors.NotCapable) {
    return new ActionError(
      `Not permitted to run ${program}: it is not in the worker's --allow-run list`,
      false,
    );
  }
  if (e instanceof Deno.errors.NotFound) {
    // ENOENT also comes from a missing #! interpreter or loader.
    const exists = await Deno.stat(program).then(() => true, () => false);
    return new ActionError(
      exists
        ? `Cannot start ${program}: its interpreter or a shared library is missing`
        : `Program not found: ${program}`,
      false,
    );
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new ActionError(
      `Permission denied running ${program}: check that it is executable`,
      false,
    );
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new ActionError(`Could not start ${program}: ${msg}`);
}

/* ---------- output ---------- */

interface Budget {
  left: number;
  dropped: number;
}

/** Reads a pipe to the end, keeping bytes while the shared budget lasts. */
class CappedReader {
  readonly done: Promise<void>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #chunks: Uint8Array[] = [];
  #finished = false;

  constructor(stream: ReadableStream<Uint8Array>, budget: Budget) {
    this.#reader = stream.getReader();
    this.done = this.#pump(budget).finally(() => (this.#finished = true));
  }

  get finished(): boolean {
    return this.#finished;
  }

  async #pump(budget: Budget): Promise<void> {
    let full = false;
    try {
      for (;;) {
        const { value, done } = await this.#reader.read();
        if (done) return;
        // Keep draining past the cap, or the child blocks on a full pipe.
        const keep = full
          ? value.subarray(0, 0)
          : utf8Prefix(value, budget.left);
        if (keep.length < value.length) full = true;
        if (keep.length) this.#chunks.push(keep);
        budget.left -= keep.length;
        budget.dropped += value.length - keep.length;
        // Once one stream is cut, later chunks must not fill the gap out of order.
        if (full) budget.left = 0;
      }
    } catch {
      // Cancelled by drain(), or the pipe broke: keep what was read.
    }
  }

  async cancel(): Promise<void> {
    if (!this.#finished) await this.#reader.cancel().catch(() => {});
    await this.done;
  }

  text(): string {
    const total = this.#chunks.reduce((n, c) => n + c.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of this.#chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder().decode(all);
  }
}

/** Waits up to `ms` for both pipes to close, then stops reading them. */
async function drain(readers: CappedReader[], ms: number): Promise<void> {
  await settlesWithin(Promise.all(readers.map((r) => r.done)), ms);
  await Promise.all(readers.map((r) => r.cancel()));
}

/* ---------- stopping ---------- */

type Sig = "SIGTERM" | "SIGKILL";

/** A way to signal processes other than the direct child. */
interface Signaller {
  /** Signals each target (negative: a process group); false if it could not. */
  send(targets: number[], sig: Sig): Promise<boolean>;
  /** Whether the group has a member left; undefined when it cannot tell. */
  groupAlive(pgid: number): Promise<boolean | undefined>;
}

/** SIGTERM to the tree, then SIGKILL to whatever is left after the grace period. */
async function terminate(
  child: Deno.ChildProcess,
  status: Promise<unknown>,
  exited: () => boolean,
  cfg: Config,
): Promise<void> {
  const tree = new ProcessTree(child.pid);
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
      await settlesWithin(status, wait);
    }
  };
  await stop("SIGTERM");
  if (await gone(cfg.graceMs)) return;
  await stop("SIGKILL");
  await gone(KILL_SETTLE_MS);
}

/**
 * What is left of the task: whether its group still has members, and the
 * descendants that left the group. /proc gives both; without it (Deno 2.9
 * wants --allow-all to read /proc) only the group can be asked about.
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

async function pickSignaller(cfg: Config): Promise<Signaller | undefined> {
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
