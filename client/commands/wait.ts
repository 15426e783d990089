/**
 * `--wait`: follows a job until it ends, printing each node result as it
 * lands, the running tasks' output lines as they come, and, on a
 * terminal, a progress bar on stderr. The job's event stream is followed
 * (wait_live.ts); a controller without one is polled (results only).
 */
import { type JobStatus, type JobView, TERMINAL } from "../../models/job.ts";
import { type Reply, UnreachableError } from "../api.ts";
import { type Context, EXIT, printJson, useColor } from "../context.ts";
import {
  leafLabels,
  renderJob,
  renderProgress,
  renderResultLine,
  resultEntries,
} from "../render.ts";
import { OutputLines } from "../output_lines.ts";
import { followLive } from "./wait_live.ts";

/** Polls in a row that may fail to reach the controller (e.g. during its restart). */
export const MAX_POLL_FAILURES = 20;

/** The exit status for a finished job. */
export function exitFor(job: JobView): number {
  return exitForStatus(job.status);
}

export function exitForStatus(status: JobStatus): number {
  if (status === "completed") return EXIT.ok;
  if (status === "cancelled") return EXIT.cancelled;
  return EXIT.failed;
}

/**
 * Waits for the job in `start` to finish. Results already in `start` are
 * not announced again. Returns the final reply and how many lines (results
 * and output) were printed.
 */
export async function waitForJob(
  ctx: Context,
  start: Reply<JobView>,
): Promise<{ end: Reply<JobView>; announced: number }> {
  const { io } = ctx;
  const human = ctx.output === "table";
  const labels = leafLabels(start.data.tasks);
  const seen = new Set<string>();
  const bar = ctx.progress && human ? new StatusLine(ctx) : undefined;
  let reply = start;
  let failures = 0;
  let announced = 0;
  let current = start.data;
  const output = human
    ? new OutputLines({
      color: ctx.view().color,
      clean: io.tty.stdout,
      steps: labels.length > 1,
      nodes: start.data.expected,
    })
    : undefined;
  const print = (text: string) => {
    if (!human || text === "") return;
    bar?.clear();
    io.stdout(text);
    announced += text.split("\n").length - 1;
  };
  fresh(ctx, reply.data, seen, labels); // already there: not news
  const announce = (job: JobView) => {
    current = job;
    output?.setNodes(job.expected);
    // A node's output comes before its result.
    print(
      fresh(ctx, job, seen, labels).map(([step, node, line]) =>
        (output?.flush({ step, node }) ?? "") + line
      ).join(""),
    );
  };
  try {
    if (!TERMINAL.has(reply.data.status)) {
      const streamed = await followLive(ctx, reply.data, {
        changed: (job) => {
          announce(job);
          bar?.draw(job);
        },
        output: output && ((o) => {
          let text = output.push(o);
          // A finished task's output (replayed): nothing more will come.
          if (seen.has(`${o.step}\u0000${o.node}`)) text += output.flush(o);
          print(text);
          if (text) bar?.draw(current);
        }),
      });
      if (output) print(output.flush());
      // The whole job, outputs included, for the final table.
      if (streamed) reply = await finalJob(ctx, start.data.id);
    }
    while (!TERMINAL.has(reply.data.status)) {
      bar?.draw(reply.data);
      await io.sleep(ctx.pollMs);
      try {
        reply = await ctx.api.getJob(start.data.id);
        failures = 0;
      } catch (e) {
        if (e instanceof UnreachableError && ++failures < MAX_POLL_FAILURES) {
          continue;
        }
        throw e;
      }
      announce(reply.data);
    }
  } finally {
    bar?.clear();
  }
  return { end: reply, announced };
}

/** The job once its stream ended; a controller restarting is waited out. */
async function finalJob(ctx: Context, id: string): Promise<Reply<JobView>> {
  for (let failures = 0;;) {
    try {
      return await ctx.api.getJob(id);
    } catch (e) {
      if (!(e instanceof UnreachableError) || ++failures >= MAX_POLL_FAILURES) {
        throw e;
      }
      await ctx.io.sleep(ctx.pollMs);
    }
  }
}

/** Result lines for results not seen before (and marks them seen). */
function fresh(
  ctx: Context,
  job: JobView,
  seen: Set<string>,
  labels: string[],
): [number, string, string][] {
  const lines: [number, string, string][] = [];
  for (const [step, node, r] of resultEntries(job)) {
    const key = `${step}\u0000${node}`;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push([
      Number(step),
      node,
      renderResultLine(step, labels[Number(step)] ?? "", node, r, ctx.view()),
    ]);
  }
  return lines;
}

/** A redrawn line on stderr (only used when stderr is a terminal). */
class StatusLine {
  #ctx: Context;
  #shown = false;
  constructor(ctx: Context) {
    this.#ctx = ctx;
  }
  draw(job: JobView): void {
    const { io } = this.#ctx;
    const opts = {
      width: this.#ctx.view().width,
      color: useColor(io, io.tty.stderr),
    };
    io.stderr(`\r\x1b[K${renderProgress(job, opts)}`);
    this.#shown = true;
  }
  clear(): void {
    if (this.#shown) this.#ctx.io.stderr("\r\x1b[K");
    this.#shown = false;
  }
}

/**
 * Waits, then prints the job (table or JSON) and returns its exit status.
 * `printedBefore`: a line is already on stdout, so leave a blank one.
 */
export async function waitAndReport(
  ctx: Context,
  start: Reply<JobView>,
  printedBefore: boolean,
): Promise<number> {
  const { end, announced } = await waitForJob(ctx, start);
  if (ctx.output === "json") printJson(ctx.io, end.raw);
  else {
    const gap = printedBefore || announced > 0 ? "\n" : "";
    ctx.io.stdout(gap + renderJob(end.data, ctx.view()));
  }
  return exitFor(end.data);
}
