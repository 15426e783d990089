/** `job run`, `job get`, `job list`, `job cancel`. */
import type { JobSummary, JobView } from "../../models/job.ts";
import { type Command, type JobSource, UsageError } from "../args.ts";
import { type Context, diag, EXIT, type Io, printJson } from "../context.ts";
import {
  fileJob,
  type JobBody,
  type JobOverrides,
  shorthandJob,
} from "../jobspec.ts";
import {
  formatTarget,
  leafLabels,
  renderJob,
  renderJobList,
} from "../render.ts";
import { waitAndReport } from "./wait.ts";

type Cmd<K extends Command["kind"]> = Extract<Command, { kind: K }>;

export async function jobRun(
  ctx: Context,
  cmd: Cmd<"job run">,
): Promise<number> {
  const overrides: JobOverrides = {};
  if (cmd.target) overrides.target = cmd.target;
  if (cmd.strategy) overrides.strategy = cmd.strategy;
  if (cmd.timeout) overrides.timeout = cmd.timeout;
  const reply = await ctx.api.submitJob(
    await jobBody(ctx.io, cmd.source, overrides),
  );
  if (ctx.output === "json" && !cmd.wait) {
    printJson(ctx.io, reply.raw);
    return EXIT.ok;
  }
  if (ctx.output === "table") {
    ctx.io.stdout(
      submitted(reply.data) + (cmd.wait ? "; waiting for it to finish" : "") +
        "\n",
    );
  }
  return cmd.wait ? await waitAndReport(ctx, reply, true) : EXIT.ok;
}

function submitted(job: JobView): string {
  const steps = leafLabels(job.tasks).length;
  const timeout = job.timeout ? `, timeout ${job.timeout}` : "";
  return `Job ${job.id} submitted (${job.status}): ${steps} step${
    steps === 1 ? "" : "s"
  } on ${formatTarget(job.target)}, ${job.strategy}${timeout}`;
}

/** The job to submit; warns about file keys that are not part of a job. */
async function jobBody(
  io: Io,
  source: JobSource,
  overrides: JobOverrides,
): Promise<JobBody> {
  if (source.kind === "shorthand") {
    const { backend, action, params } = source;
    return shorthandJob(backend, action, params, overrides);
  }
  const name = source.path === "-" ? "<stdin>" : source.path;
  const { body, ignored } = fileJob(
    name,
    await readJobFile(io, source.path, name),
    overrides,
  );
  if (ignored.length > 0) {
    const keys = ignored.map((k) => `"${k}"`).join(", ");
    diag(io, `${name}: ignoring ${keys} (not part of a job)`, "warn");
  }
  return body;
}

async function readJobFile(
  io: Io,
  path: string,
  name: string,
): Promise<string> {
  try {
    return await io.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UsageError(`${name}: no such file`);
    }
    const why = e instanceof Error ? e.message : String(e);
    throw new UsageError(`${name}: cannot read the file: ${why}`);
  }
}

export async function jobGet(
  ctx: Context,
  cmd: Cmd<"job get">,
): Promise<number> {
  const reply = await ctx.api.getJob(cmd.id);
  if (cmd.wait) return await waitAndReport(ctx, reply, false);
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderJob(reply.data, ctx.view()));
  return EXIT.ok;
}

export async function jobList(
  ctx: Context,
  cmd: Cmd<"job list">,
): Promise<number> {
  const { kind: _, limit, ...query } = cmd;
  // A page holds at most 1000 jobs: more are read by following the API's
  // `Link: rel="next"`.
  const jobs: JobSummary[] = [];
  const raw: unknown[] = [];
  let next = cmd.before;
  do {
    const reply = await ctx.api.listJobs({
      ...query,
      ...(next === undefined ? {} : { before: next }),
      ...(limit === undefined
        ? {}
        : { limit: Math.min(limit - jobs.length, 1000) }),
    });
    jobs.push(...reply.data.jobs);
    raw.push(...(reply.raw as unknown[]));
    next = reply.data.next;
  } while (limit !== undefined && jobs.length < limit && next !== undefined);
  if (ctx.output === "json") {
    printJson(ctx.io, raw);
    return EXIT.ok;
  }
  let text = renderJobList(jobs, ctx.view());
  if (next) {
    const again = [
      "gridc job list",
      ...(cmd.status ? [`--status ${cmd.status}`] : []),
      ...(cmd.limit ? [`--limit ${cmd.limit}`] : []),
      `--before ${next}`,
    ].join(" ");
    text += `\nMore jobs: ${again}\n`;
  }
  ctx.io.stdout(text);
  return EXIT.ok;
}

export async function jobCancel(
  ctx: Context,
  cmd: Cmd<"job cancel">,
): Promise<number> {
  const reply = await ctx.api.cancelJob(cmd.id);
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else if (reply.data.status === "cancelled") {
    ctx.io.stdout(`Job ${reply.data.id} cancelled\n`);
  } else {
    ctx.io.stdout(
      `Job ${reply.data.id}: cancel requested (status ${reply.data.status})\n`,
    );
  }
  return EXIT.ok;
}
