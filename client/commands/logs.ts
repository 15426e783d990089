/**
 * `job logs`: the output the job's running tasks streamed, one line per
 * line of output prefixed with its node (`GET /job/:id/output`). Without
 * -f it prints what was streamed so far; with -f it goes on until the job
 * ends, resuming after a dropped connection where it stopped.
 */
import type { JobStatus } from "../../models/job.ts";
import { LiveEnd, LiveOutput, LiveStatus } from "../../models/live.ts";
import type { Command } from "../args.ts";
import { UsageError } from "../usage.ts";
import { type Context, EXIT } from "../context.ts";
import { OutputLines } from "../output_lines.ts";
import { leafLabels } from "../render.ts";
import { followStream } from "./stream_follow.ts";
import { exitForStatus } from "./wait.ts";
import { parse } from "./wait_live.ts";

export async function jobLogs(
  ctx: Context,
  cmd: Extract<Command, { kind: "job logs" }>,
): Promise<number> {
  const { io } = ctx;
  // The whole id (the command may name a prefix), the steps and the nodes.
  const { data: job } = await ctx.api.getJob(cmd.id, { outputs: false });
  const steps = leafLabels(job.tasks).length;
  if (cmd.step !== undefined && cmd.step >= steps) {
    throw new UsageError(
      `--step ${cmd.step}: job ${job.id} has ${
        steps === 1 ? "only step 0" : `steps 0 to ${steps - 1}`
      }`,
    );
  }
  const view = ctx.view();
  const lines = new OutputLines({
    color: view.color,
    clean: io.tty.stdout,
    steps: steps > 1 && cmd.step === undefined,
    nodes: job.expected,
  });
  const json = ctx.output === "json";
  let status: JobStatus = job.status;
  const query = {
    ...(cmd.step === undefined ? {} : { step: cmd.step }),
    ...(cmd.node === undefined ? {} : { node: cmd.node }),
    ...(cmd.follow ? {} : { follow: false }),
  };
  await followStream(
    ctx,
    `the output stream of job ${job.id}`,
    (lastId) => ctx.api.jobOutput(job.id, lastId, query),
    (ev) => {
      if (ev.type === "output") {
        const o = parse(ev, LiveOutput);
        if (!o) return false;
        // -o json: the API's events, one JSON object a line.
        const text = json ? JSON.stringify(o) + "\n" : lines.push(o);
        if (text) io.stdout(text);
      } else if (ev.type === "status") {
        const s = parse(ev, LiveStatus);
        if (s) {
          status = s.status;
          lines.setNodes(s.expected);
        }
      } else if (ev.type === "end") {
        status = parse(ev, LiveEnd)?.status ?? status;
        return true;
      }
      return false;
    },
  );
  if (!json) io.stdout(lines.flush());
  return cmd.follow ? exitForStatus(status) : EXIT.ok;
}
