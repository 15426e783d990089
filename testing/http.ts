/** Requests to a controller's API, answers read loosely. */
import { ControllerConfig } from "../models/config.ts";
import { parseConfig } from "../lib/config_file.ts";

/** API answers as tests read them: loosely, field by field. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/**
 * One HTTP request: a string body goes as it is (a test's malformed JSON),
 * any other as JSON; `token` goes as a bearer token. The answer's status
 * and text, read to the end.
 */
export async function httpRequest(
  url: string,
  method: string,
  body?: unknown,
  timeoutMs?: number,
  token?: string,
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = authHeaders(token);
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(url, {
    method,
    headers,
    body: body === undefined
      ? undefined
      : typeof body === "string"
      ? body
      : JSON.stringify(body),
    signal: timeoutMs === undefined
      ? undefined
      : AbortSignal.timeout(timeoutMs),
  });
  return { status: r.status, text: await r.text() };
}

/** `Authorization` for `token`; none without one. */
export function authHeaders(token?: string): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** `text` parsed as JSON, or what `otherwise` makes of it when it is not JSON. */
export function jsonOr(text: string, otherwise: (text: string) => Json): Json {
  try {
    return JSON.parse(text);
  } catch {
    return otherwise(text);
  }
}

/** Where the controller configured by `configFile` keeps its bootstrap admin token. */
export function bootstrapTokenFile(configFile: string): string {
  const text = Deno.readTextFileSync(configFile);
  return parseConfig(text, configFile, ControllerConfig).api.auth
    .bootstrap_token_file;
}

/**
 * The bootstrap admin token of the controller configured by `configFile`,
 * once it has written it; undefined before.
 */
export function readBootstrapToken(configFile: string): string | undefined {
  try {
    return Deno.readTextFileSync(bootstrapTokenFile(configFile)).trim() ||
      undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Enrolls node `id` through the API at `api` with the admin `token` and
 * writes its creds file (mode 0600) to `file`, unless `file` exists (a
 * restarted worker keeps its identity).
 */
export async function enrollTo(
  api: string,
  token: string | undefined,
  id: string,
  groups: string[],
  file: string,
  labels?: Record<string, string>,
): Promise<string> {
  try {
    await Deno.stat(file);
    return file;
  } catch {
    // not enrolled yet
  }
  const r = await httpRequest(
    `${api}/nodes/enroll`,
    "POST",
    { id, groups, ...(labels ? { labels } : {}) },
    30_000,
    token,
  );
  if (r.status !== 201) {
    throw new Error(`enrolling ${id}: ${r.status} ${r.text}`);
  }
  await Deno.writeTextFile(file, JSON.parse(r.text).creds, { mode: 0o600 });
  return file;
}
