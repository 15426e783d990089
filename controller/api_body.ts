/**
 * Request bodies: JSON, or YAML (a job file can be posted as it is). The
 * content type was checked by the route's guard; anything that does not
 * parse is the client's mistake (400), whatever the bytes are.
 */
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { describeIssues } from "../models/job.ts";
import { invalid } from "./errors.ts";
import { mediaType } from "./api_auth.ts";

/** Refuses bodies over `maxBody` bytes with 413, before reading them. */
export function limitBody(maxBody: number) {
  return bodyLimit({
    maxSize: maxBody,
    onError: (c) =>
      c.json({
        error: `request body is larger than api.max_body (${maxBody} bytes)`,
      }, 413),
  });
}

/** Parses body text as its content type says: YAML types as YAML, else JSON. */
export function parseBodyText(text: string, type: string | undefined): unknown {
  if (type !== undefined && type.endsWith("yaml")) {
    const doc = parseDocument(text, { prettyErrors: false });
    if (doc.errors.length > 0) {
      throw invalid(`body is not valid YAML: ${firstLine(doc.errors[0]!)}`);
    }
    try {
      // Aliases are capped: a few lines of YAML must not expand to gigabytes.
      return doc.toJS({ maxAliasCount: 100 }) ?? null;
    } catch (e) {
      throw invalid(`body is not valid YAML: ${firstLine(e)}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid(`body is not valid JSON: ${firstLine(e)}`);
  }
}

/** The body, parsed and checked against `schema`; 400 naming the field otherwise. */
export async function readBody<S extends z.ZodType>(
  c: Context,
  schema: S,
): Promise<z.infer<S>> {
  const value = parseBodyText(
    await c.req.text(),
    mediaType(c.req.header("content-type")),
  );
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(describeIssues(parsed.error));
  return parsed.data;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
}
