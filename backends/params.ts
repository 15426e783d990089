/**
 * Building blocks for action param schemas. Params arrive as a flat map of
 * strings from a job file, so every schema is a strict object of string
 * fields that may transform into typed values (lists, milliseconds).
 * Messages say what is wrong without the param's name; `describeParamIssues`
 * puts the name in front.
 *
 * Each block carries its description (models/params.ts) and checks values
 * with it, so `describeAction` can hand a controller exactly what the
 * worker enforces: a field built otherwise is described as unchecked.
 */
import { z } from "zod";
import {
  type ActionParams,
  checkRules,
  type ParamRule,
  type ParamSpec,
  type ParamValue,
  parseParam,
} from "../models/params.ts";

const SPECS = new WeakMap<z.ZodType, ParamSpec>();
const RULES = new WeakMap<z.ZodType, readonly ParamRule[]>();

/** A required (or defaulted) string param. */
export function text(): z.ZodString {
  const s = z.string({
    error: (iss) =>
      iss.input === undefined ? "is required" : "must be a string",
  });
  SPECS.set(s, { kind: "text" });
  return s;
}

/** A string param checked and parsed as `spec` describes it. */
export function described<T extends ParamValue>(spec: ParamSpec) {
  const s = text().transform((v, ctx): T => {
    const r = parseParam(spec, v);
    if (!r.ok) {
      ctx.addIssue({ code: "custom", message: r.message });
      return z.NEVER;
    }
    return r.value as T;
  });
  SPECS.set(s, spec);
  return s;
}

/** A reshaping that cannot fail (dedupe, complete a name) keeps the description. */
export function reshaped<I, O>(
  schema: z.ZodType<I, string>,
  fn: (v: I) => O,
) {
  const s = schema.transform(fn);
  const spec = SPECS.get(schema);
  if (spec) SPECS.set(s, spec);
  return s;
}

/** Rules across an action's params (models/params.ts `checkRules`). */
export function withRules<T extends z.ZodObject>(
  schema: T,
  rules: readonly ParamRule[],
): T {
  const s = schema.superRefine((v, ctx) => {
    for (const i of checkRules(rules, v as Record<string, unknown>)) {
      ctx.addIssue({ code: "custom", path: [i.param], message: i.message });
    }
  });
  RULES.set(s, rules);
  return s;
}

/** A field's description, with what `.optional()` and `.default()` add. */
function describeField(field: z.ZodType): ParamSpec {
  let f = field;
  let optional = false;
  let fallback: unknown;
  for (;;) {
    if (f instanceof z.ZodOptional) {
      optional = true;
      f = f.unwrap() as z.ZodType;
    } else if (f instanceof z.ZodDefault) {
      fallback = f._zod.def.defaultValue;
      f = f.unwrap() as z.ZodType;
    } else break;
  }
  const spec: ParamSpec = { ...(SPECS.get(f) ?? { kind: "unchecked" }) };
  if (typeof fallback === "string" || typeof fallback === "number") {
    spec.default = fallback;
  } else if (optional || fallback !== undefined) spec.optional = true;
  return spec;
}

/** An action's params as data; undefined when its schema is not an object. */
export function describeAction(schema: z.ZodType): ActionParams | undefined {
  if (!(schema instanceof z.ZodObject)) return undefined;
  const params: Record<string, ParamSpec> = {};
  for (const [name, field] of Object.entries(schema.shape)) {
    params[name] = describeField(field as z.ZodType);
  }
  const rules = RULES.get(schema);
  return rules?.length ? { params, rules: [...rules] } : { params };
}

/** Longest wait a param may ask for: setTimeout misfires beyond ~24.8 days. */
export const MAX_WAIT_MS = 24 * 3_600_000;

/** A Go-style duration string ("500ms", "2s", "1m30s") as milliseconds. */
export function duration() {
  return described<number>({
    kind: "duration",
    max: MAX_WAIT_MS,
    message: "must be at most 24h",
  });
}

/** A whole number written as a string, within [min, max]. */
export function intText(min: number, max: number) {
  return described<number>({ kind: "int", min, max });
}

/** The param names a schema accepts, for "unknown param" messages. */
export function paramNames(schema: z.ZodType): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape).sort() : [];
}

/**
 * One clause per problem, each naming the param:
 * `param "package": "Nginx" is not a valid Debian package name`.
 */
export function describeParamIssues(
  error: z.ZodError,
  known: string[] = [],
): string {
  const accepted = known.length ? known.join(", ") : "none";
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) =>
        `param ${
          JSON.stringify(k)
        }: is not a param of this action (accepted: ${accepted})`
      );
    }
    const name = issue.path[0];
    return name === undefined
      ? [issue.message]
      : [`param ${JSON.stringify(String(name))}: ${issue.message}`];
  }).join("; ");
}
