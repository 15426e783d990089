/**
 * `gridc backend list` and `gridc backend describe NAME`, from what the
 * fleet's nodes advertise (`GET /backends`): the params shown are the ones
 * the workers check, so nothing here is written down twice.
 */
import type { BackendView } from "../models/backend_view.ts";
import { formatDuration } from "../models/duration.ts";
import type { ParamRule, ParamSpec } from "../models/params.ts";
import { renderTable } from "./table.ts";
import type { ViewOptions } from "./render.ts";

export function renderBackends(
  list: readonly BackendView[],
  opts: ViewOptions,
): string {
  if (list.length === 0) return "No online node offers any backend.\n";
  return renderTable(
    [
      { header: "BACKEND", max: 24 },
      { header: "ACTIONS", flex: true },
      { header: "NODES", align: "right" },
    ],
    list.map((b) => [
      b.name,
      Object.keys(b.actions).join(", "),
      String(b.nodes.length),
    ]),
    opts,
  );
}

/** Every action of `b` with its params: how each is given, its default and an example. */
export function renderBackend(b: BackendView, opts: ViewOptions): string {
  const out = [
    `Backend ${b.name}: on ${count(b.nodes.length)} (${b.nodes.join(", ")})`,
  ];
  for (const [name, a] of Object.entries(b.actions)) {
    const on = a.nodes.length === b.nodes.length
      ? ""
      : ` (on ${count(a.nodes.length)} only)`;
    out.push("", `${b.name} ${name}${on}`);
    const params = Object.entries(a.params);
    if (params.length === 0) out.push("  no params");
    else {
      out.push(
        renderTable(
          [
            { header: "  PARAM", max: 24 },
            { header: "KIND" },
            { header: "REQUIRED" },
            { header: "DEFAULT", max: 20 },
            { header: "EXAMPLE", max: 30 },
            { header: "ACCEPTS", flex: true },
          ],
          params.map(([p, s]) => [
            `  ${p}`,
            s.kind,
            required(s) ? "yes" : "no",
            s.default === undefined ? "-" : String(s.default),
            exampleOf(s) ?? "-",
            accepts(s),
          ]),
          opts,
        ).trimEnd(),
      );
    }
    for (const r of a.rules ?? []) out.push(`  rule: ${ruleText(r)}`);
    for (const [p, s] of params) if (s.doc) out.push(`  ${p}: ${s.doc}`);
    if (a.differ?.length) {
      out.push(`  described differently by: ${a.differ.join(", ")}`);
    }
  }
  return out.join("\n") + "\n";
}

function count(n: number): string {
  return `${n} node${n === 1 ? "" : "s"}`;
}

function required(s: ParamSpec): boolean {
  return !s.optional && s.default === undefined;
}

/**
 * The example the backend gives, else one the description itself proves
 * valid (an enum's first value, a bound); none rather than a guess.
 */
export function exampleOf(s: ParamSpec): string | undefined {
  if (s.example !== undefined) return s.example;
  if (s.default !== undefined) return undefined;
  if (s.kind === "enum") return s.values?.[0];
  if (s.kind === "int" || s.kind === "number") {
    return s.min !== undefined ? String(s.min) : undefined;
  }
  if (s.kind === "duration" && s.min !== undefined) {
    return formatDuration(Math.max(s.min, 1000));
  }
  return undefined;
}

/** What values it takes, in words from its description. */
export function accepts(s: ParamSpec): string {
  const range = (f: (n: number) => string) =>
    s.min !== undefined && s.max !== undefined
      ? `${f(s.min)}..${f(s.max)}`
      : s.min !== undefined
      ? `>= ${f(s.min)}`
      : s.max !== undefined
      ? `<= ${f(s.max)}`
      : "";
  switch (s.kind) {
    case "enum":
      return (s.values ?? []).join(" | ");
    case "int":
    case "number":
      return [s.kind === "int" ? "integer" : "number", range(String)]
        .filter((x) => x).join(" ");
    case "duration":
      return ["duration", range(formatDuration)].filter((x) => x).join(" ");
    default: {
      const rule = s.checks?.[0]?.message.replace(/,? (got )?%s/g, "");
      const what = s.kind === "list" ? "list" : "text";
      return rule ? `${what}: ${rule}` : what;
    }
  }
}

function ruleText(r: ParamRule): string {
  if (r.message) return r.message.replace(/%n/g, "N");
  return `${r.kind} on ${r.path}`;
}
