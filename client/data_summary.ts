/**
 * A result's `data` in one short line for a table cell: the first few
 * keys with their values, nested values only sketched. `-o json` shows it
 * whole.
 */

/** How many keys (or array items) the line names before "…". */
const KEYS = 4;
/** Longest a value is shown before it is cut. */
const VALUE_CHARS = 24;

export function summarizeData(data: unknown): string {
  if (Array.isArray(data)) {
    if (data.length === 0) return "[]";
    const first = summarizeData(data[0]);
    return data.length === 1 ? `[${first}]` : `[${data.length}] ${first}, …`;
  }
  if (isObject(data)) {
    const keys = Object.keys(data);
    if (keys.length === 0) return "{}";
    const shown = keys.slice(0, KEYS).map((k) => `${k}=${sketch(data[k])}`);
    return shown.join(" ") + (keys.length > KEYS ? " …" : "");
  }
  return sketch(data);
}

/** A value inside the line: scalars as they are (cut), the rest as a size. */
function sketch(v: unknown): string {
  if (Array.isArray(v)) return `[${v.length}]`;
  if (isObject(v)) return `{${Object.keys(v).length}}`;
  const text = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  const flat = text.replace(/\s+/g, " ");
  return flat.length > VALUE_CHARS
    ? flat.slice(0, VALUE_CHARS - 1) + "…"
    : flat;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
