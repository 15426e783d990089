/**
 * One log line as JSON (`GRID_LOG_FORMAT=json`), the same in all three
 * programs, for log shippers that read one object per line: `time`,
 * `level`, `component`, `msg`, then the line's fields. A field named like
 * one of those four is kept with a leading `_`, so none can be forged.
 */

const FIXED = new Set(["time", "level", "component", "msg"]);

/** Errors become their text: JSON.stringify would make them `{}`. */
function plain(v: unknown): unknown {
  return v instanceof Error ? String(v) : v;
}

export function jsonLogLine(
  time: string,
  level: string,
  component: string,
  msg: string,
  fields: Record<string, unknown> = {},
): string {
  const out: Record<string, unknown> = { time, level, component, msg };
  for (const [k, v] of Object.entries(fields)) {
    out[FIXED.has(k) ? `_${k}` : k] = plain(v);
  }
  return JSON.stringify(out);
}

/** `GRID_LOG_FORMAT`: "json", or the default key=value text. */
export function logFormat(value: string | undefined): "json" | "text" {
  return value?.trim().toLowerCase() === "json" ? "json" : "text";
}
