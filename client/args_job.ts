/** Arguments of the job commands: `job run` and `job list`. */
import { parseDuration } from "../models/duration.ts";
import { JobStatus, Strategy, Target } from "../models/job.ts";
import { NodeId } from "../models/names.ts";
import { parseSelector } from "../models/selector.ts";
import { Rollout } from "../models/rollout.ts";
import type { Command, JobSource } from "./args.ts";
import { positiveInt, seeHelp, str, UsageError, type Values } from "./usage.ts";

export function jobRun(values: Values, args: string[]): Command {
  const cmd: Extract<Command, { kind: "job run" }> = {
    ...jobFields(values, args, "job run"),
    kind: "job run",
    wait: values.wait === true,
  };
  if (values.confirm === true) cmd.confirm = true;
  if (values.yes === true) {
    if (!cmd.confirm) {
      throw new UsageError("--yes answers --confirm: give both, or neither");
    }
    cmd.yes = true;
  }
  return cmd;
}

/** `job plan`: the job as `job run` takes it, planned instead of run. */
export function jobPlan(values: Values, args: string[]): Command {
  return { ...jobFields(values, args, "job plan"), kind: "job plan" };
}

/** What `job run` and `job plan` share: where the job comes from, and overrides. */
function jobFields(
  values: Values,
  args: string[],
  topic: "job run" | "job plan",
): Omit<Extract<Command, { kind: "job plan" }>, "kind"> {
  const file = str(values.file);
  let source: JobSource;
  if (file !== undefined) {
    if (args.length > 0) {
      throw new UsageError(
        `-f takes the tasks from the file: remove "${args.join(" ")}"`,
      );
    }
    source = { kind: "file", path: file };
  } else {
    const [backend, action, ...pairs] = args;
    if (backend === undefined || action === undefined) {
      throw new UsageError(
        `missing BACKEND and ACTION, or -f FILE (${seeHelp(topic)})`,
      );
    }
    source = { kind: "shorthand", backend, action, params: parseParams(pairs) };
  }
  const cmd: Omit<Extract<Command, { kind: "job plan" }>, "kind"> = { source };
  const target = str(values.target);
  const selector = str(values.selector);
  if (target !== undefined && selector !== undefined) {
    throw new UsageError(
      "-t and --selector both say where the job runs: give one (a selector can say group:NAME or node:ID)",
    );
  }
  if (target !== undefined) cmd.target = parseTarget(target);
  if (selector !== undefined) {
    const r = parseSelector(selector);
    if (!r.ok) throw new UsageError(`--selector "${selector}": ${r.error}`);
    cmd.target = { scope: "all", selector };
  }
  const strategy = str(values.strategy);
  if (strategy !== undefined) {
    const r = Strategy.safeParse(strategy);
    if (!r.success) {
      throw new UsageError(
        `--strategy "${strategy}": use fail-fast or continue`,
      );
    }
    cmd.strategy = r.data;
  }
  const timeout = str(values.timeout);
  if (timeout !== undefined) {
    if (parseDuration(timeout) === undefined) {
      throw new UsageError(
        `--timeout "${timeout}": not a duration (use e.g. 30s, 5m, 1m30s)`,
      );
    }
    cmd.timeout = timeout;
  }
  const rollout = rolloutFlags(values);
  if (rollout) cmd.rollout = rollout;
  return cmd;
}

/** --batch, --canary, --pause, --max-failures: merged into the job's rollout. */
export type RolloutFlags = Partial<Rollout>;

export const ROLLOUT_OPTION_NAMES = [
  "batch",
  "canary",
  "pause",
  "max-failures",
] as const;

export const ROLLOUT_OPTIONS = {
  batch: { type: "string" },
  canary: { type: "string" },
  pause: { type: "string" },
  "max-failures": { type: "string" },
} as const;

/** Each rollout field's flag, for errors that name what the operator typed. */
export const ROLLOUT_FLAGS = {
  batch: "--batch",
  canary: "--canary",
  pause: "--pause",
  max_failures: "--max-failures",
} as const satisfies Record<keyof Rollout, string>;

/**
 * The rollout fields given as flags, each checked alone by the job schema's
 * own field (whether they fit together is judged once merged with the file).
 * Digits are a count, as `batch: 2` in YAML; anything else stays text.
 */
function rolloutFlags(values: Values): Partial<Rollout> | undefined {
  const out: Record<string, unknown> = {};
  for (const [field, flag] of Object.entries(ROLLOUT_FLAGS)) {
    const text = str(values[flag.slice(2)]);
    if (text === undefined) continue;
    const value = /^\d+$/.test(text.trim()) ? Number(text) : text;
    const r = Rollout.shape[field as keyof Rollout].safeParse(value);
    if (!r.success) {
      throw new UsageError(`${flag} "${text}": ${r.error.issues[0]!.message}`);
    }
    out[field] = value;
  }
  return Object.keys(out).length > 0 ? out as Partial<Rollout> : undefined;
}

/** `key=value` arguments to params; the value may itself contain "=". */
export function parseParams(pairs: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const arg of pairs) {
    const eq = arg.indexOf("=");
    if (eq < 0) throw new UsageError(`argument "${arg}" is not key=value`);
    const key = arg.slice(0, eq);
    if (key === "") throw new UsageError(`argument "${arg}" has an empty key`);
    if (Object.hasOwn(params, key)) {
      throw new UsageError(
        `argument "${arg}": parameter "${key}" is given twice`,
      );
    }
    params[key] = arg.slice(eq + 1);
  }
  return params;
}

/** `all`, `group:NAME` or `node:ID`. */
export function parseTarget(text: string): Target {
  const colon = text.indexOf(":");
  const scope = colon < 0 ? text : text.slice(0, colon);
  if (
    (scope === "all" && colon < 0) ||
    ((scope === "group" || scope === "node") && colon >= 0)
  ) {
    const value = colon < 0 ? undefined : text.slice(colon + 1);
    const r = Target.safeParse(
      value === undefined ? { scope } : { scope, value },
    );
    if (r.success) return r.data;
    const what = scope === "group" ? "group name" : "node id";
    throw new UsageError(`-t "${text}": ${what} ${r.error.issues[0]!.message}`);
  }
  throw new UsageError(`-t "${text}": use all, group:NAME or node:ID`);
}

export function jobList(values: Values): Command {
  const cmd: Extract<Command, { kind: "job list" }> = { kind: "job list" };
  const status = str(values.status);
  if (status !== undefined) {
    const r = JobStatus.safeParse(status);
    if (!r.success) {
      throw new UsageError(
        `--status "${status}": use one of ${JobStatus.options.join(", ")}`,
      );
    }
    cmd.status = r.data;
  }
  const limit = str(values.limit);
  if (limit !== undefined) cmd.limit = positiveInt("--limit", limit);
  const before = str(values.before);
  if (before !== undefined) cmd.before = before;
  return cmd;
}

export function jobLogs(values: Values, id: string): Command {
  const cmd: Extract<Command, { kind: "job logs" }> = {
    kind: "job logs",
    id,
    follow: values.follow === true,
  };
  const step = str(values.step);
  if (step !== undefined) {
    if (!/^\d+$/.test(step) || !Number.isSafeInteger(Number(step))) {
      throw new UsageError(`--step "${step}": must be a step number: 0, 1, …`);
    }
    cmd.step = Number(step);
  }
  const node = str(values.node);
  if (node !== undefined) {
    const r = NodeId.safeParse(node);
    if (!r.success) {
      throw new UsageError(`--node "${node}": ${r.error.issues[0]!.message}`);
    }
    cmd.node = node;
  }
  return cmd;
}
