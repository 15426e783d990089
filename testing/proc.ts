/**
 * One child `deno` process with its output kept as lines, and what /proc
 * tells about any process: its children, whether it runs, what it is
 * connected to. Tests, the scenario runner, the soak and the bench start
 * their processes through these.
 */
import { waitFor } from "./wait.ts";

/** The checkout: where processes run unless told otherwise. */
export const ROOT = new URL("..", import.meta.url).pathname;

export interface ProcOptions {
  /** Where it runs: the checkout unless given (the soak runs a copy of the code). */
  cwd?: string;
  /** How many of the latest lines `log` keeps: all unless given (0 for long runs that log to files). */
  keep?: number;
}

export class Proc {
  readonly log: string[] = [];
  readonly child: Deno.ChildProcess;
  /** Its exit code, once it has exited. */
  exitCode?: number;
  /** `stop()` was called: the exit is one we asked for. */
  stopping = false;
  #pump: Promise<void>;
  constructor(
    readonly name: string,
    args: string[],
    env: Record<string, string> = {},
    readonly echo?: (line: string) => void,
    readonly opts: ProcOptions = {},
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: opts.cwd ?? ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { GRID_LOG: "info", NO_COLOR: "1", ...env },
    }).spawn();
    this.child.status.then((s) => (this.exitCode = s.code));
    const onLines = (lines: string[]) => {
      this.#keep(lines);
      if (this.echo) { for (const l of lines) this.echo(l); }
    };
    // A read that fails ends that stream's log; it must not go unhandled.
    this.#pump = Promise.all([
      readLines(this.child.stdout, onLines).catch(() => {}),
      readLines(this.child.stderr, onLines).catch(() => {}),
    ])
      .then(() => {});
  }

  #keep(lines: string[]): void {
    const keep = this.opts.keep;
    if (keep === 0) return;
    this.log.push(...lines);
    if (keep !== undefined && this.log.length > 2 * keep) {
      this.log.splice(0, this.log.length - keep);
    }
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Not exited (nor a zombie). */
  get running(): boolean {
    return this.exitCode === undefined && pidAlive(this.pid);
  }

  /** Direct children (the controller's nats-server). */
  children(): number[] {
    return childrenOf(this.pid);
  }

  async stop(
    signal: Deno.Signal = "SIGTERM",
    graceMs = 10_000,
  ): Promise<Deno.CommandStatus> {
    this.stopping = true;
    const status = await terminate(this.child, signal, graceMs);
    await this.#pump;
    return status;
  }

  async wait(): Promise<Deno.CommandStatus> {
    const s = await this.child.status;
    await this.#pump;
    return s;
  }

  dump(lines = 150): string {
    return `--- ${this.name} ---\n${this.log.slice(-lines).join("\n")}`;
  }
}

/** Sends `signal`, then SIGKILL if the child has not exited after `graceMs`. */
export async function terminate(
  child: Deno.ChildProcess,
  signal: Deno.Signal,
  graceMs: number,
): Promise<Deno.CommandStatus> {
  try {
    child.kill(signal);
  } catch { /* already exited */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, graceMs);
  const status = await child.status;
  clearTimeout(timer);
  return status;
}

/**
 * Reads `stream` to its end, handing over the complete lines of each chunk
 * (empty ones too) and, last, an unterminated tail.
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLines: (lines: string[]) => void,
): Promise<void> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    const lines = buf.split("\n");
    buf = lines.pop()!;
    onLines(lines);
  }
  if (buf) onLines([buf]);
}

/** Direct children of a process, from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(
        `/proc/${pid}/task/${t.name}/children`,
      );
      out.push(...text.trim().split(/\s+/).filter(Boolean).map(Number));
    }
  } catch { /* gone */ }
  return out;
}

export function killPid(pid: number, signal: Deno.Signal = "SIGKILL"): void {
  try {
    Deno.kill(pid, signal);
  } catch { /* gone */ }
}

/** SIGKILLs `pids` and waits until they are gone. */
export async function killAll(
  what: string,
  pids: number[],
  timeoutMs = 10_000,
): Promise<void> {
  for (const k of pids) killPid(k);
  await waitFor(
    `${what} to exit`,
    () => pids.every((k) => !pidAlive(k)),
    timeoutMs,
  );
}

export function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Processes still running, other than this one, whose command line contains `text`. */
export function processesNaming(text: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmd.includes(text) && pidAlive(Number(e.name))) {
        out.push(Number(e.name));
      }
    } catch { /* gone */ }
  }
  return out;
}

/** Ports on 127.0.0.1 that process `pid` holds an established TCP connection to. */
export function connectedPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(
          Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`),
        );
        if (m) inodes.add(m[1]!);
      } catch { /* closed meanwhile */ }
    }
  } catch {
    return []; // gone
  }
  const out: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/net/${table}`);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "01" || !inodes.has(f[9]!)) continue;
      out.push(parseInt(f[2]!.split(":")[1]!, 16));
    }
  }
  return out;
}
