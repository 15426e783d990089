/**
 * Node labels and target selectors (README, "Targeting").
 *
 * A selector is terms separated by commas. Every term must hold for a
 * node to be selected (AND); a `node:`/`group:` term is a list whose names
 * are alternatives (OR); an exclusion (`!node:`, `!group:`) takes a node
 * out whatever else it matches. Pure: parsing and matching only.
 */
import { z } from "zod";
import { NODE_ID_RE, TOKEN_RE } from "./names.ts";

/** Label keys and values are data, never NATS subjects: dots are fine. */
export const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const LABEL_VALUE_RE = /^[A-Za-z0-9_.-]{1,63}$/;
export const MAX_LABELS = 32;
/** Long enough for a few hundred node names; bounded so parsing is too. */
export const MAX_SELECTOR = 8192;

const KEY_RULE =
  "must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit";
const VALUE_RULE = "must be 1-63 letters, digits, '-', '_' or '.'";

/** `{role: web, env: prod}`: each key and value checked, named when wrong. */
export const Labels = z.record(z.string(), z.string({ error: "must be text" }))
  .superRefine((m, ctx) => {
    const keys = Object.keys(m);
    if (keys.length > MAX_LABELS) {
      ctx.addIssue({
        code: "custom",
        message: `at most ${MAX_LABELS} labels, got ${keys.length}`,
      });
    }
    for (const k of keys) {
      if (!LABEL_KEY_RE.test(k)) {
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: `label key "${k}" ${KEY_RULE}`,
        });
      } else if (!LABEL_VALUE_RE.test(m[k]!)) {
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: `label value "${m[k]}" ${VALUE_RULE}`,
        });
      }
    }
  });
export type Labels = z.infer<typeof Labels>;

export interface LabelTerm {
  key: string;
  op: "=" | "!=";
  value: string;
}

export interface ListTerm {
  kind: "node" | "group";
  names: string[];
}

export interface Selector {
  /** All must hold. */
  labels: LabelTerm[];
  /** Each must hold; within one, any name will do. */
  lists: ListTerm[];
  /** A node any of these names is out. */
  exclude: ListTerm[];
}

export type Parsed =
  | { ok: true; selector: Selector }
  | { ok: false; error: string };

/** What a selector is matched against: a node record has all of it. */
export interface Selectable {
  id: string;
  groups: readonly string[];
  labels?: Readonly<Record<string, string>>;
}

const LIST_RE = /^(!?)(node|group):(.*)$/s;

export function parseSelector(text: string): Parsed {
  if (text.trim() === "") return { ok: false, error: "must not be empty" };
  if (text.length > MAX_SELECTOR) {
    return {
      ok: false,
      error: `must be at most ${MAX_SELECTOR} characters, got ${text.length}`,
    };
  }
  const sel: Selector = { labels: [], lists: [], exclude: [] };
  // The list a bare name extends: only the one its term directly follows.
  let open: ListTerm | undefined;
  let at = 0;
  const pieces = text.split(",");
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    const lead = piece.length - piece.trimStart().length;
    const term = piece.trim();
    const column = at + lead + 1;
    const fail = (why: string): Parsed => ({
      ok: false,
      error: `term ${i + 1} ${JSON.stringify(term)} (column ${column}): ${why}`,
    });
    at += piece.length + 1;
    if (term === "") {
      return fail("empty term (two commas in a row, or one at an end)");
    }
    const list = LIST_RE.exec(term);
    if (list) {
      const kind = list[2] as ListTerm["kind"];
      const why = nameProblem(kind, list[3]!);
      if (why) return fail(why);
      open = { kind, names: [list[3]!] };
      (list[1] ? sel.exclude : sel.lists).push(open);
      continue;
    }
    const ne = term.indexOf("!=");
    const eq = term.indexOf("=");
    if (eq >= 0) {
      if (term.startsWith("!") && ne !== 0) {
        return fail('"!" negates node: and group: terms; write key!=value');
      }
      const op = ne >= 0 && ne < eq ? "!=" : "=";
      const key = term.slice(0, op === "!=" ? ne : eq).trim();
      const value = term.slice((op === "!=" ? ne : eq) + op.length).trim();
      if (!LABEL_KEY_RE.test(key)) {
        return fail(`label key "${key}" ${KEY_RULE}`);
      }
      if (!LABEL_VALUE_RE.test(value)) {
        return fail(`label value "${value}" ${VALUE_RULE}`);
      }
      sel.labels.push({ key, op, value });
      open = undefined;
      continue;
    }
    if (/^!?[^:]*:/.test(term)) {
      return fail(
        `unknown kind "${
          term.slice(0, term.indexOf(":") + 1)
        }": use node:, group:, !node: or !group:`,
      );
    }
    if (term.startsWith("!")) {
      return fail(
        `"!" must be followed by node: or group: (write !node:${
          term.slice(1)
        })`,
      );
    }
    if (!open) {
      return fail(
        "a bare name extends the node: or group: list right before it; write key=value, node:NAME or group:NAME",
      );
    }
    const why = nameProblem(open.kind, term);
    if (why) return fail(why);
    open.names.push(term);
  }
  return { ok: true, selector: sel };
}

function nameProblem(kind: ListTerm["kind"], name: string): string | undefined {
  if (kind === "node") {
    return NODE_ID_RE.test(name)
      ? undefined
      : `node id "${name}" ${
        name === ""
          ? "is missing"
          : "must be letters, digits, '-', '_' and dot-separated labels"
      }`;
  }
  return TOKEN_RE.test(name)
    ? undefined
    : `group "${name}" ${
      name === "" ? "is missing" : "must be 1-64 letters, digits, '-' or '_'"
    }`;
}

function hits(l: ListTerm, n: Selectable): boolean {
  return l.kind === "node"
    ? l.names.includes(n.id)
    : l.names.some((g) => n.groups.includes(g));
}

/** Whether node `n` is selected. A label a node lacks is not equal to any value. */
export function selects(sel: Selector, n: Selectable): boolean {
  if (sel.exclude.some((l) => hits(l, n))) return false;
  for (const t of sel.labels) {
    const v = n.labels?.[t.key];
    if ((v === t.value) !== (t.op === "=")) return false;
  }
  return sel.lists.every((l) => hits(l, n));
}

/** A selector as submitted: a string that parses. */
export const SelectorText = z.string({ error: "must be a string" })
  .superRefine((s, ctx) => {
    const r = parseSelector(s);
    if (!r.ok) ctx.addIssue({ code: "custom", message: r.error });
  });

/**
 * `role=web,env=prod` (the gridc flags) to labels; the message of a
 * mistake names the pair.
 */
export function parseLabelPairs(
  text: string,
): { ok: true; labels: Labels } | { ok: false; error: string } {
  const labels: Labels = {};
  if (text.trim() === "") return { ok: true, labels };
  for (const pair of text.split(",").map((p) => p.trim())) {
    const eq = pair.indexOf("=");
    if (eq < 0) return { ok: false, error: `"${pair}" is not key=value` };
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!LABEL_KEY_RE.test(key)) {
      return { ok: false, error: `label key "${key}" ${KEY_RULE}` };
    }
    if (!LABEL_VALUE_RE.test(value)) {
      return { ok: false, error: `label value "${value}" ${VALUE_RULE}` };
    }
    if (Object.hasOwn(labels, key)) {
      return { ok: false, error: `label "${key}" is given twice` };
    }
    labels[key] = value;
  }
  if (Object.keys(labels).length > MAX_LABELS) {
    return { ok: false, error: `at most ${MAX_LABELS} labels` };
  }
  return { ok: true, labels };
}

/** `role=web,env=prod`, keys sorted: how lists show labels. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}
