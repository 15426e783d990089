/**
 * The `proc` backend: what runs on the node (list, top, find, count), from
 * ps(1) (proc_read.ts says why not /proc). Every action returns its
 * processes as data beside a table for people; no match is an empty list,
 * not an error, since "nothing runs" is an answer.
 */
import { z } from "zod";
import {
  BACKEND_TABLE,
  type BinariesOf,
  binaryPaths,
} from "../models/backend_table.ts";
import {
  type ProcInfo,
  readArgs,
  readProcesses,
  readStates,
} from "./proc_read.ts";
import { described, intText } from "./params.ts";
import { accountName } from "./sys_params.ts";
import { type BackendDef, defineAction } from "./types.ts";

export type ProcPaths = BinariesOf<"proc">;

export interface ProcOptions {
  /** Where uids get their names. @default "/etc/passwd" */
  passwd?: string;
}

/** At most this many processes in one answer, as the reference had it. */
export const MAX_PROCESSES = 500;
/** A `find` cmdline is cut here, with "..." after. */
export const MAX_CMDLINE = 200;

const ProcRow = z.object({
  pid: z.number().int(),
  name: z.string(),
  user: z.string(),
  cpu_percent: z.number(),
  mem_percent: z.number(),
  status: z.string(),
});
export const ProcList = z.array(ProcRow);
export const ProcFound = z.array(z.object({
  pid: z.number().int(),
  name: z.string(),
  user: z.string(),
  cmdline: z.string(),
}));
export const ProcCount = z.object({
  total: z.number().int(),
  running: z.number().int(),
  sleeping: z.number().int(),
  zombie: z.number().int(),
  other: z.number().int(),
});

/** A process-name filter: a case-insensitive substring, one line. */
const nameFilter = described<string>({
  kind: "text",
  checks: [{
    pattern: "^[^\\x00-\\x1f\\x7f]{1,64}$",
    message: "must be 1 to 64 characters, without control characters",
  }],
});

function row(p: ProcInfo): z.infer<typeof ProcRow> {
  return {
    pid: p.pid,
    name: p.name,
    user: p.user,
    cpu_percent: p.cpu_percent,
    mem_percent: p.mem_percent,
    status: p.status,
  };
}

function table(rows: z.infer<typeof ProcList>, dropped: number): string {
  if (rows.length === 0) return "no matching processes";
  const lines = rows.map((r) =>
    [
      String(r.pid).padStart(7),
      r.user.padEnd(12),
      r.cpu_percent.toFixed(1).padStart(5),
      r.mem_percent.toFixed(1).padStart(5),
      r.status.padEnd(9),
      r.name,
    ].join(" ")
  );
  const head = "    PID USER          CPU%  MEM% STATUS    NAME";
  const more = dropped > 0 ? [`(${dropped} more not shown)`] : [];
  return [head, ...lines, ...more].join("\n");
}

function matchesName(p: ProcInfo, name: string | undefined): boolean {
  return name === undefined ||
    p.name.toLowerCase().includes(name.toLowerCase());
}

function capped<T>(items: T[]): { items: T[]; dropped: number } {
  return {
    items: items.slice(0, MAX_PROCESSES),
    dropped: Math.max(0, items.length - MAX_PROCESSES),
  };
}

/** Makes the `proc` backend (list, top, find, count); each runs ps. */
export function procBackend(
  paths: ProcPaths,
  opts: ProcOptions = {},
): BackendDef {
  const ps = paths.ps;
  const passwd = opts.passwd ?? "/etc/passwd";
  return {
    name: "proc",
    requires: binaryPaths(BACKEND_TABLE.proc.binaries, paths),
    actions: {
      list: defineAction({
        params: z.strictObject({
          user: accountName().optional(),
          name: nameFilter.optional(),
        }),
        data: ProcList,
        run: async (p, ctx) => {
          const all = await readProcesses(ctx, ps, passwd);
          const { items, dropped } = capped(
            all.filter((x) =>
              (p.user === undefined || x.user === p.user) &&
              matchesName(x, p.name)
            ),
          );
          const data = items.map(row);
          return { output: table(data, dropped), data };
        },
      }),
      top: defineAction({
        params: z.strictObject({ count: intText(1, 100).default(10) }),
        data: ProcList,
        run: async (p, ctx) => {
          const all = await readProcesses(ctx, ps, passwd);
          all.sort((a, b) => b.cpu_percent - a.cpu_percent || a.pid - b.pid);
          const data = all.slice(0, p.count).map(row);
          return { output: table(data, 0), data };
        },
      }),
      find: defineAction({
        params: z.strictObject({ name: nameFilter }),
        data: ProcFound,
        run: async (p, ctx) => {
          const all = await readProcesses(ctx, ps, passwd);
          const { items, dropped } = capped(
            all.filter((x) => matchesName(x, p.name)),
          );
          const args = await readArgs(ctx, ps, items.map((x) => x.pid));
          // Missing from the second answer: it exited in between.
          const data = items.filter((x) => args.has(x.pid)).map((x) => {
            const cmd = args.get(x.pid) || `[${x.name}]`;
            return {
              pid: x.pid,
              name: x.name,
              user: x.user,
              cmdline: cmd.length > MAX_CMDLINE
                ? `${cmd.slice(0, MAX_CMDLINE)}...`
                : cmd,
            };
          });
          const lines = data.map((d) => `${d.pid} ${d.user} ${d.cmdline}`);
          if (dropped > 0) lines.push(`(${dropped} more not shown)`);
          return {
            output: lines.length ? lines.join("\n") : "no matching processes",
            data,
          };
        },
      }),
      count: defineAction({
        params: z.strictObject({}),
        data: ProcCount,
        run: async (_p, ctx) => {
          const all = await readStates(ctx, ps);
          const n = (...states: string[]) =>
            all.filter((x) => states.includes(x)).length;
          // Idle kernel threads and uninterruptible waits sleep too.
          const running = n("R");
          const sleeping = n("S", "I", "D");
          const zombie = n("Z");
          const data = {
            total: all.length,
            running,
            sleeping,
            zombie,
            other: all.length - running - sleeping - zombie,
          };
          return {
            output:
              `${data.total} processes: ${data.running} running, ${data.sleeping} sleeping, ${data.zombie} zombie, ${data.other} other`,
            data,
          };
        },
      }),
    },
  };
}
