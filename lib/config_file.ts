/**
 * Loads a YAML config file and validates it against a zod schema. Any
 * problem stops the program with the file, the line and the key.
 */
import { isNode, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { formatPath } from "../models/job.ts";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parses config text; `file` only names the source in error messages. */
export function parseConfig<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
): z.infer<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    const where = `${file}:${pos.line}:${pos.col}`;
    throw new ConfigError(`${where}: invalid YAML: ${firstLine(e.message)}`);
  }
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (e) {
    // Unresolved aliases and alias bombs surface here, not in doc.errors.
    throw new ConfigError(
      `${file}: invalid YAML: ${firstLine((e as Error).message)}`,
    );
  }
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = formatPath(issue.path);
    // Point at the deepest node that exists: a missing key is reported on its parent.
    let line: number | undefined;
    // An unknown key is reported on its own line, not its section's.
    const at = issue.code === "unrecognized_keys"
      ? [...issue.path, issue.keys[0]!]
      : issue.path;
    for (let n = at.length; n >= 0 && line === undefined; n--) {
      const node = doc.getIn(at.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) line = lines.linePos(node.range[0]).line;
    }
    const where = line === undefined ? file : `${file}:${line}`;
    return `${where}: ${key || "(top level)"}: ${issue.message}`;
  });
  throw new ConfigError(problems.join("\n"));
}

/** Reads and parses a config file, turning I/O failures into ConfigError. */
export async function loadConfig<S extends z.ZodType>(
  file: string,
  schema: S,
): Promise<z.infer<S>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound
      ? "no such file"
      : (e as Error).message;
    throw new ConfigError(`${file}: cannot read config: ${reason}`);
  }
  return parseConfig(text, file, schema);
}

function firstLine(s: string): string {
  return s.split("\n")[0]!;
}
