/**
 * The process table as ps(1) prints it, run through ctx.exec. Deno 2.9
 * refuses every read under /proc to a process without --allow-all, which
 * the worker never has, so /proc cannot be read directly; ps reads it for us.
 *
 * The columns are chosen so that a line cannot be misread: every column but
 * the last is a number or the state, which hold no spaces, and the free-text
 * one (the command name, or the arguments) comes last and takes the rest of
 * the line. ps prints a uid instead of a user name that does not fit its
 * column, so names come from the uid and /etc/passwd, as before.
 */
import { execOutput, failedRun } from "./output.ts";
import { type ActionContext, ActionError, type ExecResult } from "./types.ts";

export interface ProcInfo {
  pid: number;
  name: string;
  user: string;
  uid: number;
  /** One-letter state, the first of ps's STAT ("R", "S", "Z"…). */
  state: string;
  /** The state as a word ("running", "sleeping", "zombie"…). */
  status: string;
  /** CPU time over the process's lifetime, as a percentage of one CPU. */
  cpu_percent: number;
  /** Resident memory as a percentage of the machine's. */
  mem_percent: number;
  rss_bytes: number;
}

const STATES: Record<string, string> = {
  R: "running",
  S: "sleeping",
  D: "disk-sleep",
  Z: "zombie",
  T: "stopped",
  t: "tracing-stop",
  X: "dead",
  I: "idle",
  P: "parked",
  W: "waking",
  K: "wakekill",
};

/** `=` after each name: no header line. comm last, since it may hold spaces. */
export const TABLE_COLUMNS = "pid=,uid=,stat=,pcpu=,pmem=,rss=,comm=";
/** Only the state: what `count` needs, a few bytes a process. */
export const STATE_COLUMNS = "stat=";
/** The arguments of chosen processes; args last, for the same reason. */
export const ARGS_COLUMNS = "pid=,args=";

/** Every process, one line each; -ww: never cut a line to a terminal width. */
export function tableArgv(ps: string, columns = TABLE_COLUMNS): string[] {
  return [ps, "-e", "-ww", "-o", columns];
}

/** The arguments of `pids` only. */
export function argsArgv(ps: string, pids: readonly number[]): string[] {
  return [ps, "-ww", "-p", pids.join(","), "-o", ARGS_COLUMNS];
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return ""; // No passwd file (or not ours to read): uids stay numbers.
  }
}

/** uid → user name from a passwd file's text; the first entry wins. */
export function userNames(passwd: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    const uid = Number(f[2]);
    if (f.length >= 7 && f[0] && Number.isInteger(uid) && !names.has(uid)) {
      names.set(uid, f[0]);
    }
  }
  return names;
}

const TABLE_LINE =
  /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+)(?: (.*))?$/;

/**
 * Parses ps output in TABLE_COLUMNS, in pid order. A line that does not
 * fit is an error: a changed ps must not turn into a silently short list.
 */
export function parseTable(
  text: string,
  users: Map<number, string>,
): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const m = TABLE_LINE.exec(line);
    if (!m) throw new ActionError(`unexpected ps output: ${line}`, false);
    const uid = Number(m[2]);
    const state = m[3]![0]!;
    out.push({
      pid: Number(m[1]),
      name: m[7] ?? "",
      user: users.get(uid) ?? String(uid),
      uid,
      state,
      status: STATES[state] ?? state,
      cpu_percent: Number(m[4]),
      mem_percent: Number(m[5]),
      rss_bytes: Number(m[6]) * 1024,
    });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The one-letter states of ps output in STATE_COLUMNS. */
export function parseStates(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l)
    .map((l) => l[0]!);
}

/** pid → arguments, from ps output in ARGS_COLUMNS. */
export function parseArgs(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)(?: (.*))?$/.exec(line);
    if (m) out.set(Number(m[1]), (m[2] ?? "").trim());
  }
  return out;
}

/**
 * Runs ps; its stdout. `missingOk`: exit 1 with nothing printed is an
 * answer (ps -p when every listed process has gone).
 * @throws {ActionError} when ps fails, or its output passed the cap (an
 * incomplete table would give wrong answers)
 */
async function runPs(
  ctx: ActionContext,
  argv: string[],
  missingOk = false,
): Promise<string> {
  const r: ExecResult = await ctx.exec({ argv }, ctx.signal);
  if (r.truncated) {
    throw new ActionError(
      `ps printed more than the output cap; the process table is incomplete`,
      false,
    );
  }
  if (r.code === 0 || (missingOk && r.code === 1 && r.stdout.trim() === "")) {
    return r.stdout;
  }
  throw new ActionError(failedRun("ps", r), true, execOutput(r));
}

/** Every process, in pid order, user names from `passwd`. */
export async function readProcesses(
  ctx: ActionContext,
  ps: string,
  passwd: string,
): Promise<ProcInfo[]> {
  const [text, users] = await Promise.all([
    runPs(ctx, tableArgv(ps)),
    readOrEmpty(passwd).then(userNames),
  ]);
  return parseTable(text, users);
}

/** The one-letter state of every process. */
export async function readStates(
  ctx: ActionContext,
  ps: string,
): Promise<string[]> {
  return parseStates(await runPs(ctx, tableArgv(ps, STATE_COLUMNS)));
}

/**
 * The arguments of `pids`; a process that exited meanwhile is missing.
 * Asked apart from the table so that only the matches' arguments, which
 * can be long, count against the output cap.
 */
export async function readArgs(
  ctx: ActionContext,
  ps: string,
  pids: readonly number[],
): Promise<Map<number, string>> {
  if (pids.length === 0) return new Map();
  return parseArgs(await runPs(ctx, argsArgv(ps, pids), true));
}
