/**
 * Reading and editing YAML, JSON and INI config text by dotted key, for
 * the `config` backend. YAML is edited through its document model, so
 * comments and layout outside the changed value survive; JSON is rewritten
 * with two-space indents, its key order kept; INI edits one line (ini.ts).
 */
import { parseDocument } from "yaml";
import { getIni, IniError, setIni, validateIni } from "./ini.ts";

export const CONFIG_FORMATS = ["yaml", "json", "ini"] as const;
export type ConfigFormat = (typeof CONFIG_FORMATS)[number];

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The format a file's extension suggests; YAML when it suggests none. */
export function formatOf(path: string): ConfigFormat {
  const ext = /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === "json") return "json";
  if (ext === "ini" || ext === "conf" || ext === "cfg") return "ini";
  return "yaml";
}

function yamlDoc(text: string) {
  const doc = parseDocument(text, { uniqueKeys: true });
  const err = doc.errors[0];
  if (err) throw new ConfigError(err.message.split("\n")[0]!);
  return doc;
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** Fails with the parser's first complaint when `text` is not valid `format`. */
export function validate(format: ConfigFormat, text: string): void {
  try {
    if (format === "yaml") yamlDoc(text);
    else if (format === "json") parseJson(text);
    else validateIni(text);
  } catch (e) {
    if (e instanceof IniError) throw new ConfigError(e.message);
    throw e;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Walks parsed data by key segments; an index into a list is a number. */
function walk(data: unknown, segments: string[]): unknown {
  let at = data;
  for (const s of segments) {
    if (Array.isArray(at) && /^\d+$/.test(s)) at = at[Number(s)];
    else if (isRecord(at) && Object.hasOwn(at, s)) at = at[s];
    else return undefined;
  }
  return at;
}

/** The value at `key`: strings as they are, anything else as JSON; undefined when absent. */
export function getValue(
  format: ConfigFormat,
  text: string,
  key: string,
): string | undefined {
  if (format === "ini") {
    try {
      return getIni(text, key);
    } catch (e) {
      throw e instanceof IniError ? new ConfigError(e.message) : e;
    }
  }
  const data = format === "yaml" ? yamlDoc(text).toJS() : parseJson(text);
  const v = walk(data, key.split("."));
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** `text` with `key` set to the string `value`; maps along the way are created. */
export function setValue(
  format: ConfigFormat,
  text: string,
  key: string,
  value: string,
): string {
  const segments = key.split(".");
  if (format === "ini") {
    try {
      return setIni(text, key, value);
    } catch (e) {
      throw e instanceof IniError ? new ConfigError(e.message) : e;
    }
  }
  if (format === "yaml") {
    const doc = yamlDoc(text);
    try {
      doc.setIn(segments, value);
    } catch (e) {
      throw new ConfigError(`cannot set ${key}: ${(e as Error).message}`);
    }
    return String(doc);
  }
  const data = parseJson(text);
  if (!isRecord(data)) throw new ConfigError("the document is not an object");
  let at: Record<string, unknown> = data;
  for (const [i, s] of segments.slice(0, -1).entries()) {
    if (!Object.hasOwn(at, s)) at[s] = {};
    const next = at[s];
    if (!isRecord(next)) {
      throw new ConfigError(
        `cannot set ${key}: ${
          segments.slice(0, i + 1).join(".")
        } is not an object`,
      );
    }
    at = next;
  }
  at[segments.at(-1)!] = value;
  return `${JSON.stringify(data, null, 2)}\n`;
}

export interface LineDiff {
  lines: string[];
  added: number;
  removed: number;
}

/** Longest common subsequence work beyond this falls back to a plain listing. */
const MAX_DIFF_CELLS = 4_000_000;

/**
 * A line diff of `a` to `b`: " " for a kept line, "-" removed, "+" added,
 * in order. Lines are matched by a longest common subsequence, so one
 * inserted line shows as one "+", not as every later line changed.
 */
export function lineDiff(a: string[], b: string[]): LineDiff {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_DIFF_CELLS) {
    return {
      lines: [...a.map((l) => `-${l}`), ...b.map((l) => `+${l}`)],
      added: m,
      removed: n,
    };
  }
  // lcs[i][j]: the LCS length of a[i..] and b[j..], in one flat array.
  const lcs = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => i * (m + 1) + j;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[at(i, j)] = a[i] === b[j]
        ? lcs[at(i + 1, j + 1)]! + 1
        : Math.max(lcs[at(i + 1, j)]!, lcs[at(i, j + 1)]!);
    }
  }
  const lines: string[] = [];
  let added = 0;
  let removed = 0;
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      lines.push(` ${a[i++]}`);
      j++;
    } else if (i < n && (j === m || lcs[at(i + 1, j)]! >= lcs[at(i, j + 1)]!)) {
      lines.push(`-${a[i++]}`);
      removed++;
    } else {
      lines.push(`+${b[j++]}`);
      added++;
    }
  }
  return { lines, added, removed };
}
