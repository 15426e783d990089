/**
 * Builds the JSON body of `POST /job` from the command line or a job file,
 * and checks it against the shared JobSpec schema before anything is sent.
 * Pure: the caller reads the file.
 */
import { isMap, isPair, isScalar, parseDocument, visit } from "yaml";
import {
  describeIssues,
  JobSpec,
  type Strategy,
  type Target,
} from "../models/job.ts";
import { z } from "zod";
import type { Rollout } from "../models/rollout.ts";
import { UsageError } from "./args.ts";
import { ROLLOUT_FLAGS } from "./args_job.ts";

/** What the command line adds to (or overrides in) a job. */
export interface JobOverrides {
  target?: Target;
  strategy?: Strategy;
  timeout?: string;
  /** Rollout fields from flags: each wins over the file's same field. */
  rollout?: Partial<Rollout>;
}

/** The body to submit: the operator's job as written, after checking. */
export type JobBody = Record<string, unknown>;

/** A single-task job from `BACKEND ACTION key=value...`. */
export function shorthandJob(
  backend: string,
  action: string,
  params: Record<string, string>,
  overrides: JobOverrides,
): JobBody {
  const task: Record<string, unknown> = { backend, action };
  if (Object.keys(params).length > 0) task.params = params;
  return check(
    { target: { scope: "all" }, ...overrides, tasks: [task] },
    "invalid job",
    overrides.rollout,
  );
}

/** The top-level keys of a job. */
const JOB_KEYS = ["target", "strategy", "timeout", "tasks", "rollout"];
/** Keys left out without a word: scenario files carry their `expect`ed outcome. */
const QUIET_KEYS = ["expect"];

export interface FileJob {
  body: JobBody;
  /** Top-level keys that are not part of a job, left out (worth a warning). */
  ignored: string[];
}

/**
 * A job from the text of a YAML (or JSON, which is YAML) file. Scalar param
 * values are sent as strings exactly as written (`version: 1.10` → "1.10").
 * Syntax errors read `file:line:col: reason`.
 */
export function fileJob(
  name: string,
  text: string,
  overrides: JobOverrides,
): FileJob {
  const doc = parseDocument(text);
  const bad = doc.errors[0];
  if (bad) {
    const pos = bad.linePos?.[0];
    const where = pos ? `${name}:${pos.line}:${pos.col}` : name;
    const more = doc.errors.length > 1
      ? ` (and ${doc.errors.length - 1} more)`
      : "";
    const why = bad.code === "MULTIPLE_DOCS"
      ? "a job file holds one YAML document (found a second '---')"
      : reason(bad.message);
    throw new UsageError(`${where}: ${why}${more}`);
  }
  stringifyParams(doc);
  let data: unknown;
  try {
    // Unresolved aliases and alias bombs surface here, not in doc.errors.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new UsageError(`${name}: ${reason((e as Error).message)}`);
  }
  if (data === null || data === undefined) {
    throw new UsageError(`${name}: the file is empty`);
  }
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new UsageError(
      `${name}: a job file must be a mapping with "tasks" (and "target")`,
    );
  }
  const job: JobBody = {};
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (JOB_KEYS.includes(key)) job[key] = value;
    else if (!QUIET_KEYS.includes(key)) ignored.push(key);
  }
  const merged: JobBody = { ...job, ...overrides };
  const file = job.rollout;
  if (overrides.rollout && isObject(file)) {
    merged.rollout = { ...file, ...overrides.rollout };
  } else if (overrides.rollout && file !== undefined) {
    // Not a mapping: the file's mistake is reported, not papered over.
    merged.rollout = file;
  }
  return { body: check(merged, name, overrides.rollout), ignored };
}

/** Turns non-string scalars under a `params` key into their source text. */
function stringifyParams(doc: ReturnType<typeof parseDocument>): void {
  visit(doc, {
    Scalar(key, node, path) {
      if (
        key !== "value" || node.value === null || typeof node.value === "string"
      ) return;
      const map = path.at(-2);
      const owner = path.at(-3);
      if (!isMap(map) || !isPair(owner) || !isScalar(owner.key)) return;
      if (owner.key.value !== "params") return;
      node.value = node.source ?? String(node.value);
    },
  });
}

/** yaml's message without its " at line 3, column 5:" suffix and excerpt. */
function reason(message: string): string {
  return message.replace(/ at line \d+, column \d+:[\s\S]*$/, "").split(
    "\n",
  )[0]!.trim();
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks the job against the API's schema. A problem with a rollout field
 * a flag set names the flag (the file never said it); a flag-made rollout
 * without a batch says where one goes.
 */
function check(
  body: JobBody,
  where: string,
  flags?: Partial<Rollout>,
): JobBody {
  const rollout = body.rollout as Record<string, unknown> | undefined;
  if (flags && isObject(rollout) && rollout.batch === undefined) {
    const given = Object.keys(flags).map((f) =>
      ROLLOUT_FLAGS[f as keyof Rollout]
    );
    throw new UsageError(
      `${given.join(", ")} need${
        given.length === 1 ? "s" : ""
      } a batch size: add --batch (e.g. --batch 10%) or rollout.batch in the job file`,
    );
  }
  const r = JobSpec.safeParse(body);
  if (r.success) return body;
  const byFlag = (i: z.core.$ZodIssue) =>
    flags !== undefined && i.path[0] === "rollout" &&
    Object.hasOwn(flags, i.path[1] as string);
  const flagged = r.error.issues.filter(byFlag).map((i) => {
    const field = i.path[1] as keyof Rollout;
    return `${ROLLOUT_FLAGS[field]} "${flags![field]}": ${i.message}`;
  });
  const rest = r.error.issues.filter((i) => !byFlag(i));
  const fromFile = rest.length > 0
    ? [`${where}: ${describeIssues(new z.ZodError(rest))}`]
    : [];
  throw new UsageError([...flagged, ...fromFile].join("; "));
}
