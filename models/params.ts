/**
 * Action params as data. Each param of an action is described by a kind
 * (text, list, int, number, duration, enum) and its checks, and an action
 * may add rules across its params. A worker builds its zod schemas from
 * these descriptions (backends/params.ts) and advertises them in its node
 * record; a controller checks a job's params against what each targeted
 * node runs before anything runs. Both evaluate the same description with
 * the functions here, so they accept and refuse the same values with the
 * same words.
 *
 * zod's own JSON Schema export was not enough: it keeps names, required,
 * defaults and enums, but every transform and refinement (package names,
 * durations, ranges, unit names, the rules across params) is lost.
 *
 * A description from a newer worker may hold kinds or rules this version
 * does not know: those are not checked here; the worker still checks them.
 */
import { z } from "zod";
import { formatDuration, parseDuration } from "./duration.ts";

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const Pattern = z.string().max(1000).refine(
  compiles,
  "is not a regular expression",
);

export const ParamCheck = z.object({
  /** A JavaScript regular expression (no flags) the text must match. */
  pattern: Pattern,
  /** What is wrong when it does not; "%s" stands for the text, as JSON. */
  message: z.string().max(500),
});
export type ParamCheck = z.infer<typeof ParamCheck>;

export const ParamSpec = z.object({
  /** text | list | int | number | duration | enum; others are not checked. */
  kind: z.string().max(32),
  /** Not required, and no default either. */
  optional: z.literal(true).optional(),
  /** Taken when the param is absent, already parsed (so not required). */
  default: z.union([z.string(), z.number()]).optional(),
  /** text: on the text; list: on each item. The first that fails is reported. */
  checks: z.array(ParamCheck).max(16).optional(),
  /** list: the separator, a regular expression. */
  split: Pattern.optional(),
  /** list: items are trimmed. */
  trim: z.literal(true).optional(),
  /** list: the message when no item is given. */
  empty: z.string().max(500).optional(),
  /** int, number, duration (in ms): the bounds. */
  min: z.number().optional(),
  max: z.number().optional(),
  /** enum: the values accepted. */
  values: z.array(z.string().max(200)).max(100).optional(),
  /** number, duration, enum: the message for a value outside; "%s": the text. */
  message: z.string().max(500).optional(),
  /** What the param is, for people (`gridc backend describe`). */
  doc: z.string().max(500).optional(),
  /** A value it accepts, as a task would give it. */
  example: z.string().max(200).optional(),
});
export type ParamSpec = z.infer<typeof ParamSpec>;

export const ParamRule = z.object({
  /** count | product; others are not checked. */
  kind: z.string().max(32),
  /** count: applies when this param is given. */
  when: z.string().max(64).optional(),
  /** count: the list param whose items are counted. */
  param: z.string().max(64).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  /** count: the messages for too few and too many items ("%n": how many). */
  few: z.string().max(500).optional(),
  many: z.string().max(500).optional(),
  /** product: the product of (param + plus) over these is at most `max`. */
  of: z.array(
    z.object({ param: z.string().max(64), plus: z.number().optional() }),
  ).max(8).optional(),
  /** The param a refusal is reported on. */
  path: z.string().max(64),
  message: z.string().max(500).optional(),
});
export type ParamRule = z.infer<typeof ParamRule>;

/** One action's params, as a worker checks them. */
export interface ActionParams {
  params: Record<string, ParamSpec>;
  rules?: ParamRule[];
}

/**
 * What a node advertises: every action's params, each distinct param
 * description once (systemd's six actions share one `unit`), so the
 * record stays small.
 */
export const NodeParams = z.object({
  specs: z.array(ParamSpec).max(1000),
  /** Backend → action → param name → index in `specs`; and its rules. */
  actions: z.record(
    z.string().max(64),
    z.record(
      z.string().max(64),
      z.object({
        params: z.record(z.string().max(64), z.number().int().min(0)),
        rules: z.array(ParamRule).max(16).optional(),
      }),
    ),
  ),
});
export type NodeParams = z.infer<typeof NodeParams>;

/** A param's value once parsed: lists as their items, numbers as numbers. */
export type ParamValue = string | number | string[];

export type Parsed =
  | { ok: true; value: ParamValue }
  | { ok: false; message: string };

export interface ParamIssue {
  param: string;
  message: string;
}

/** Compiled patterns; descriptions repeat the same few. */
const compiled = new Map<string, RegExp>();

function re(source: string): RegExp {
  let r = compiled.get(source);
  if (!r) {
    if (compiled.size >= 256) compiled.clear();
    r = new RegExp(source);
    compiled.set(source, r);
  }
  return r;
}

/** A message with "%s" standing for `value` as JSON. */
function fill(message: string, value: string): string {
  return message.replaceAll("%s", () => JSON.stringify(value));
}

function failedCheck(
  checks: ParamCheck[] | undefined,
  text: string,
): string | undefined {
  const bad = (checks ?? []).find((c) => !re(c.pattern).test(text));
  return bad && fill(bad.message, text);
}

function enumMessage(values: string[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  return quoted.length <= 2
    ? `must be ${quoted.join(" or ")}`
    : `must be one of ${quoted.join(", ")}`;
}

const fail = (message: string): Parsed => ({ ok: false, message });
const ok = (value: ParamValue): Parsed => ({ ok: true, value });

/** Parses one param's text as `spec` describes it. */
export function parseParam(spec: ParamSpec, text: string): Parsed {
  switch (spec.kind) {
    case "text": {
      const bad = failedCheck(spec.checks, text);
      return bad ? fail(bad) : ok(text);
    }
    case "list": {
      const items = text.split(re(spec.split ?? ","))
        .map((s) => spec.trim ? s.trim() : s)
        .filter((s) => s !== "");
      if (items.length === 0) {
        return fail(spec.empty ?? "must list at least one item");
      }
      for (const item of items) {
        const bad = failedCheck(spec.checks, item);
        if (bad) return fail(bad);
      }
      return ok([...new Set(items)]);
    }
    case "int": {
      const t = text.trim();
      if (!/^\d{1,9}$/.test(t)) {
        return fail(`${JSON.stringify(text)} is not a whole number`);
      }
      const n = Number(t);
      const min = spec.min ?? 0;
      const max = spec.max ?? 999_999_999;
      return n < min || n > max
        ? fail(`must be between ${min} and ${max}, got ${n}`)
        : ok(n);
    }
    case "number": {
      const t = text.trim();
      const n = Number(t);
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      return /^\d+(\.\d+)?$/.test(t) && n >= min && n <= max ? ok(n) : fail(
        fill(
          spec.message ?? `must be a number from ${min} to ${max}, got %s`,
          text,
        ),
      );
    }
    case "duration": {
      const ms = parseDuration(text);
      if (ms === undefined) {
        return fail(
          `${
            JSON.stringify(text)
          } is not a duration (use e.g. "500ms", "2s", "1m30s")`,
        );
      }
      if (spec.max !== undefined && ms > spec.max) {
        return fail(
          fill(
            spec.message ?? `must be at most ${formatDuration(spec.max)}`,
            text,
          ),
        );
      }
      if (spec.min !== undefined && ms < spec.min) {
        return fail(
          fill(
            spec.message ?? `must be at least ${formatDuration(spec.min)}`,
            text,
          ),
        );
      }
      return ok(ms);
    }
    case "enum": {
      const values = spec.values ?? [];
      return values.includes(text)
        ? ok(text)
        : fail(fill(spec.message ?? enumMessage(values), text));
    }
    default:
      return ok(text);
  }
}

/** How many items a parsed value holds, for `count` rules. */
function items(v: unknown): number {
  if (v === undefined) return 0;
  return Array.isArray(v) ? v.length : 1;
}

/** The rules across params, over parsed values (defaults filled in). */
export function checkRules(
  rules: readonly ParamRule[],
  values: Readonly<Record<string, unknown>>,
): ParamIssue[] {
  const issues: ParamIssue[] = [];
  for (const r of rules) {
    if (r.kind === "count") {
      if (r.when === undefined || values[r.when] === undefined) continue;
      const n = items(r.param === undefined ? undefined : values[r.param]);
      const say = (m: string) => m.replaceAll("%n", String(n));
      if (r.min !== undefined && n < r.min) {
        issues.push({
          param: r.path,
          message: say(r.few ?? `needs at least ${r.min} of "${r.param}"`),
        });
      } else if (r.max !== undefined && n > r.max) {
        issues.push({
          param: r.path,
          message: say(r.many ?? `allows at most ${r.max} of "${r.param}"`),
        });
      }
    } else if (r.kind === "product" && r.max !== undefined) {
      let product = 1;
      for (const f of r.of ?? []) {
        const v = values[f.param];
        product *= typeof v === "number" ? v + (f.plus ?? 0) : NaN;
      }
      if (product > r.max) {
        issues.push({
          param: r.path,
          message: r.message ?? `must keep the product at most ${r.max}`,
        });
      }
    }
  }
  return issues;
}

/**
 * Every problem with `params` for an action described by `ap`, in the
 * words a worker would use: each param in order, then unknown params; the
 * rules across params only when each param is fine on its own.
 */
export function checkParams(
  ap: ActionParams,
  params: Readonly<Record<string, unknown>>,
): ParamIssue[] {
  const issues: ParamIssue[] = [];
  const values: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(ap.params)) {
    const v = Object.hasOwn(params, name) ? params[name] : undefined;
    if (v === undefined) {
      if (spec.default !== undefined) values[name] = spec.default;
      else if (!spec.optional) {
        issues.push({ param: name, message: "is required" });
      }
      continue;
    }
    if (typeof v !== "string") {
      issues.push({ param: name, message: "must be a string" });
      continue;
    }
    const r = parseParam(spec, v);
    if (r.ok) values[name] = r.value;
    else issues.push({ param: name, message: r.message });
  }
  const accepted = Object.keys(ap.params).sort().join(", ") || "none";
  for (const name of Object.keys(params)) {
    if (!Object.hasOwn(ap.params, name)) {
      issues.push({
        param: name,
        message: `is not a param of this action (accepted: ${accepted})`,
      });
    }
  }
  return issues.length > 0 ? issues : checkRules(ap.rules ?? [], values);
}

/** A node's description from each action's, every distinct param once. */
export function packParams(
  byAction: Readonly<Record<string, Readonly<Record<string, ActionParams>>>>,
): NodeParams {
  const specs: ParamSpec[] = [];
  const index = new Map<string, number>();
  const actions: NodeParams["actions"] = {};
  for (const [backend, acts] of Object.entries(byAction)) {
    const out: NodeParams["actions"][string] = {};
    for (const [action, ap] of Object.entries(acts)) {
      const params: Record<string, number> = {};
      for (const [name, spec] of Object.entries(ap.params)) {
        const key = canonicalJson(spec);
        let i = index.get(key);
        if (i === undefined) {
          i = specs.push(spec) - 1;
          index.set(key, i);
        }
        params[name] = i;
      }
      out[action] = ap.rules?.length ? { params, rules: ap.rules } : { params };
    }
    actions[backend] = out;
  }
  return { specs, actions };
}

/** One action's params from a node's description; undefined if it has none. */
export function actionParams(
  np: NodeParams,
  backend: string,
  action: string,
): ActionParams | undefined {
  const a = Object.hasOwn(np.actions, backend) &&
      Object.hasOwn(np.actions[backend]!, action)
    ? np.actions[backend]![action]!
    : undefined;
  if (!a) return undefined;
  const params: Record<string, ParamSpec> = {};
  for (const [name, i] of Object.entries(a.params)) {
    // An index past the list: this param is known, not checked.
    params[name] = np.specs[i] ?? { kind: "unchecked" };
  }
  return a.rules ? { params, rules: a.rules } : { params };
}

/** JSON with object keys sorted: the same text for the same content. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${
      entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(
        ",",
      )
    }}`;
  }
  return JSON.stringify(v);
}
