/** Requests to a controller's API, answers read loosely. */

/** API answers as tests read them: loosely, field by field. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/**
 * One HTTP request: a string body goes as it is (a test's malformed JSON),
 * any other as JSON. The answer's status and text, read to the end.
 */
export async function httpRequest(
  url: string,
  method: string,
  body?: unknown,
  timeoutMs?: number,
): Promise<{ status: number; text: string }> {
  const r = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
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

/** `text` parsed as JSON, or what `otherwise` makes of it when it is not JSON. */
export function jsonOr(text: string, otherwise: (text: string) => Json): Json {
  try {
    return JSON.parse(text);
  } catch {
    return otherwise(text);
  }
}
