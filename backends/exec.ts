/**
 * Running a task's command. Backends describe commands as argv arrays; this
 * turns them into a child with a cleared environment, no stdin, capped
 * output and a stop path that reaches the whole process tree. With the
 * three modules it is made of, starting (spawn.ts), reading output under
 * the cap (capture.ts) and stopping the tree (terminate.ts, which says what
 * each permission set allows), it is the one place in GRID that starts a
 * process for a task, so the rules a child runs under are kept in one spot.
 */
import { type Budget, CappedReader, drain } from "./capture.ts";
import { MAX_OUTPUT_BYTES } from "./output.ts";
import { spawnChild } from "./spawn.ts";
import { terminate, type TerminateConfig } from "./terminate.ts";
import type { Exec, ExecRequest, ExecResult } from "./types.ts";

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
  /**
   * Absolute path of ps(1): how descendants that left the task's process
   * group are found when /proc cannot be read (backends/terminate.ts).
   */
  psPath?: string;
}

interface Config extends TerminateConfig {
  maxOutputBytes: number;
  drainMs: number;
}

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
    psPath: opts.psPath,
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
  const child = await spawnChild(req, signal);
  const budget: Budget = { left: cfg.maxOutputBytes, dropped: 0 };
  const out = new CappedReader(child.stdout, budget, req.onOutput);
  const err = new CappedReader(child.stderr, budget, req.onOutput);
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
