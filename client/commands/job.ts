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
import { renderPlan } from "../render_plan.ts";
import { ApiError } from "../api.ts";
import { waitAndReport } from "./wait.ts";

type Cmd<K extends Command["kind"]> = Extract<Command, { kind: K }>;

function overridesOf(cmd: Cmd<"job run"> | Cmd<"job plan">): JobOverrides {
  const overrides: JobOverrides = {};
  if (cmd.target) overrides.target = cmd.target;
  if (cmd.strategy) overrides.strategy = cmd.strategy;
  if (cmd.timeout) overrides.timeout = cmd.timeout;
  if (cmd.rollout) overrides.rollout = cmd.rollout;
  return overrides;
}

export async function jobPlan(
  ctx: Context,
  cmd: Cmd<"job plan">,
): Promise<number> {
  const reply = await ctx.api.planJob(
    await jobBody(ctx.io, cmd.source, overridesOf(cmd)),
  );
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderPlan(reply.data, ctx.view()));
  return reply.data.valid ? EXIT.ok : EXIT.failed;
}

export async function jobRun(
  ctx: Context,
  cmd: Cmd<"job run">,
): Promise<number> {
  const body = await jobBody(ctx.io, cmd.source, overridesOf(cmd));
  if (cmd.confirm && !(await confirmed(ctx, cmd, body))) {
    diag(ctx.io, "not submitted");
    return EXIT.cancelled;
  }
  const reply = await ctx.api.submitJob(body);
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

/**
 * Shows the plan (on stderr: stdout stays the job's) and asks. A plan the
 * controller would refuse is not asked about.
 */
async function confirmed(
  ctx: Context,
  cmd: Cmd<"job run">,
  body: JobBody,
): Promise<boolean> {
  const { io } = ctx;
  const canAsk = io.tty.stdin === true && io.readLine !== undefined &&
    !(cmd.source.kind === "file" && cmd.source.path === "-");
  if (!cmd.yes && !canAsk) {
    throw new UsageError(
      "--confirm asks on a terminal and standard input is not one (or holds the job): add --yes to submit after the summary",
    );
  }
  const plan = await ctx.api.planJob(body);
  io.stderr(renderPlan(plan.data, { ...ctx.view(), color: false }));
  if (!plan.data.valid) {
    throw new ApiError(`the job would be refused: ${plan.data.problem}`, 400);
  }
  if (cmd.yes) return true;
  io.stderr("Submit this job? [y/N] ");
  const answer = (await io.readLine!())?.trim().toLowerCase();
  return answer === "y" || answer === "yes";
}

function submitted(job: JobView): string {
  const steps = leafLabels(job.tasks).length;
  const timeout = job.timeout ? `, timeout ${job.timeout}` : "";
  const r = job.rollout;
  const rollout = r
    ? `, in batches of ${r.batch}${
      r.canary === undefined ? "" : ` after a canary of ${r.canary}`
    }`
    : "";
  return `Job ${job.id} submitted (${job.status}): ${steps} step${
    steps === 1 ? "" : "s"
  } on ${formatTarget(job.target)}, ${job.strategy}${timeout}${rollout}`;
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

export async function jobResume(
  ctx: Context,
  cmd: Cmd<"job resume">,
): Promise<number> {
  const reply = await ctx.api.resumeJob(cmd.id);
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else {
    const r = reply.data.rollout_status;
    ctx.io.stdout(
      `Job ${reply.data.id} resumed${
        r ? `: batch ${r.batch} of ${r.batches}` : ""
      }\n`,
    );
  }
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
