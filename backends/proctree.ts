/**
 * Finding every process a task started. A process group catches most of
 * them, but a descendant can leave the group (setsid, a daemon's double
 * fork) and, once its parent dies, it is re-parented to init and can no
 * longer be traced back. So the tree is tracked from the first scan on,
 * and each process is remembered with its start time so that a recycled pid
 * is never mistaken for one of ours.
 *
 * The table comes from /proc where it can be read (under -A): no process
 * to start, and start times in clock ticks. Deno 2.9 refuses /proc to
 * anything less than --allow-all, so the worker, which never has it, asks
 * ps(1) instead: about three times the cost of a /proc scan (15 ms against
 * 5 ms for 90 processes on this CI), paid only while a task is being
 * stopped. ps gives start times to the second, so a pid would be mistaken
 * for ours only if it were reused within the second our process started.
 *
 * /proc/<pid>/task/<tid>/children would be cheaper, but it needs
 * CONFIG_PROC_CHILDREN, which some kernels (this CI's among them) lack;
 * reading every /proc/<pid>/stat works everywhere /proc does.
 */
import { CHILD_PATH } from "./spawn.ts";

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  /** One-letter state; "Z" (zombie) and "X" (dead) no longer run. */
  state: string;
  /**
   * Start time (clock ticks since boot from /proc, a date from ps): with
   * the pid, an identity. Compared only with times from the same source.
   */
  start: string;
}

/** Parses /proc/<pid>/stat. The command name may contain spaces and ")". */
export function parseStat(text: string): ProcInfo | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const f = text.slice(close + 2).trim().split(/\s+/);
  // Fields after the name: state ppid pgrp session ... starttime is the 20th.
  if (f.length < 20 || !Number.isInteger(pid)) return undefined;
  return {
    pid,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    state: f[0]!,
    start: f[19]!,
  };
}

function running(p: ProcInfo | undefined): p is ProcInfo {
  return p !== undefined && p.state !== "Z" && p.state !== "X";
}

/**
 * Every process visible in /proc, or undefined when /proc cannot be read
 * (no --allow-read for it, or not Linux).
 */
export async function readProcs(): Promise<Map<number, ProcInfo> | undefined> {
  const pids: number[] = [];
  try {
    for await (const e of Deno.readDir("/proc")) {
      if (/^\d+$/.test(e.name)) pids.push(Number(e.name));
    }
  } catch {
    return undefined;
  }
  const infos = await Promise.all(pids.map(async (pid) => {
    try {
      return parseStat(await Deno.readTextFile(`/proc/${pid}/stat`));
    } catch {
      return undefined; // It exited while we looked.
    }
  }));
  const out = new Map<number, ProcInfo>();
  for (const p of infos) if (p) out.set(p.pid, p);
  // Listed but not readable, as some sandboxes do: a table without us in it
  // would say every process is gone.
  return out.has(Deno.pid) ? out : undefined;
}

/** `=` after each name: no header. lstart, a date with spaces, comes last. */
export const PS_TREE_COLUMNS = "pid=,ppid=,pgid=,stat=,lstart=";

/** Parses ps output in PS_TREE_COLUMNS; lines that do not fit are skipped. */
export function parsePsTree(text: string): Map<number, ProcInfo> {
  const out = new Map<number, ProcInfo>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S.*\S)\s*$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    out.set(pid, {
      pid,
      ppid: Number(m[2]),
      pgrp: Number(m[3]),
      state: m[4]![0]!,
      start: m[5]!.replace(/\s+/g, " "),
    });
  }
  return out;
}

/**
 * Every process as ps(1) at `psPath` lists it, or undefined when ps cannot
 * be run (not in --allow-run) or fails.
 */
export async function readPs(
  psPath: string,
): Promise<Map<number, ProcInfo> | undefined> {
  try {
    const r = await new Deno.Command(psPath, {
      args: ["-e", "-ww", "-o", PS_TREE_COLUMNS],
      clearEnv: true,
      // lstart's format follows the locale: fix it, so times stay comparable.
      env: { PATH: CHILD_PATH, LC_ALL: "C" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!r.success) return undefined;
    const procs = parsePsTree(new TextDecoder().decode(r.stdout));
    return procs.has(Deno.pid) ? procs : undefined;
  } catch {
    return undefined;
  }
}

type Scan = () => Promise<Map<number, ProcInfo> | undefined>;

/**
 * A scan of the process table from /proc if it can be read, else from ps
 * at `psPath`. The source is chosen by the first scan and kept, since start
 * times from the two cannot be compared.
 */
export function processTable(psPath: string | undefined): Scan {
  let source: Scan | undefined;
  return async () => {
    if (source) return source();
    const procs = await readProcs();
    if (procs || psPath === undefined) {
      source = readProcs;
      return procs;
    }
    source = () => readPs(psPath);
    return source();
  };
}

/** The live processes of one task: its group leader's group and descendants. */
export class ProcessTree {
  readonly #root: number;
  readonly #tracked = new Map<number, string>();
  readonly #scan: () => Promise<Map<number, ProcInfo> | undefined>;

  /**
   * @param root the task's first process, leader of its own group
   * @param scan reads the process table; a seam for tests
   */
  constructor(root: number, scan = readProcs) {
    this.#root = root;
    this.#scan = scan;
  }

  /** The group id every untouched descendant shares. */
  get pgid(): number {
    return this.#root;
  }

  /**
   * Rescans and returns the tracked processes still running, or undefined
   * when the process table cannot be read. `rootAlive` must be false once the root has
   * been reaped, because its pid may then belong to a stranger.
   */
  async refresh(rootAlive: boolean): Promise<ProcInfo[] | undefined> {
    const procs = await this.#scan();
    if (!procs) return undefined;
    for (const [pid, start] of this.#tracked) {
      const p = procs.get(pid);
      if (!running(p) || p.start !== start) this.#tracked.delete(pid);
    }
    const track = (p: ProcInfo | undefined) => {
      if (running(p) && !this.#tracked.has(p.pid)) {
        this.#tracked.set(p.pid, p.start);
      }
    };
    if (rootAlive) track(procs.get(this.#root));
    for (const p of procs.values()) {
      if (p.pgrp === this.#root) track(p);
    }
    const children = new Map<number, ProcInfo[]>();
    for (const p of procs.values()) {
      const list = children.get(p.ppid) ?? [];
      list.push(p);
      children.set(p.ppid, list);
    }
    const queue = [...this.#tracked.keys()];
    for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
      for (const c of children.get(pid) ?? []) {
        if (running(c) && !this.#tracked.has(c.pid)) {
          this.#tracked.set(c.pid, c.start);
          queue.push(c.pid);
        }
      }
    }
    return [...this.#tracked.keys()].map((pid) => procs.get(pid)!);
  }
}
