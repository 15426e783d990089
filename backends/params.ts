/**
 * Building blocks for action param schemas. Params arrive as a flat map of
 * strings from a job file, so every schema is a strict object of string
 * fields that may transform into typed values (lists, milliseconds).
 * Messages say what is wrong without the param's name; `describeParamIssues`
 * puts the name in front.
 */
import { z } from "zod";
import { parseDuration } from "../models/duration.ts";

/** A required (or defaulted) string param. */
export function text(): z.ZodString {
  return z.string({
    error: (iss) =>
      iss.input === undefined ? "is required" : "must be a string",
  });
}

/** Longest wait a param may ask for: setTimeout misfires beyond ~24.8 days. */
export const MAX_WAIT_MS = 24 * 3_600_000;

/** A Go-style duration string ("500ms", "2s", "1m30s") as milliseconds. */
export function duration() {
  return text().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `${
          JSON.stringify(s)
        } is not a duration (use e.g. "500ms", "2s", "1m30s")`,
      });
      return z.NEVER;
    }
    if (ms > MAX_WAIT_MS) {
      ctx.addIssue({ code: "custom", message: "must be at most 24h" });
      return z.NEVER;
    }
    return ms;
  });
}

/** A whole number written as a string, within [min, max]. */
export function intText(min: number, max: number) {
  return text().transform((s, ctx) => {
    if (!/^\d{1,9}$/.test(s.trim())) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(s)} is not a whole number`,
      });
      return z.NEVER;
    }
    const n = Number(s.trim());
    if (n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `must be between ${min} and ${max}, got ${n}`,
      });
      return z.NEVER;
    }
    return n;
  });
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
