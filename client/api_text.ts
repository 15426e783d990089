/**
 * The text side of the API client: controller addresses, `Link` headers,
 * and one-line messages out of error answers and network failures.
 */

/** The `before` of a `Link: </jobs?...>; rel="next"` header. */
export function nextBefore(link: string | null): string | undefined {
  const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(link ?? "");
  if (!m) return undefined;
  try {
    return new URL(m[1]!, "http://x").searchParams.get("before") ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Normalises a controller address: adds "http://" when no scheme is given,
 * drops a trailing "/". Returns undefined for anything that is not http(s).
 */
export function normalizeBaseUrl(text: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
    ? text
    : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.search || url.hash) return undefined;
  return url.href.replace(/\/+$/, "");
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The API's own error text when it sent one, else a short description. */
export function errorText(
  json: unknown,
  text: string,
  status: number,
  statusText: string,
): string {
  if (json !== null && typeof json === "object" && "error" in json) {
    const e = json.error;
    if (typeof e === "string" && e.trim() !== "") {
      return e.trim().replace(/\s*\n\s*/g, "; ");
    }
  }
  const fallback: Record<number, string> = {
    404: "not found",
    413: "the job is too large for the controller",
    429: "the controller's job queue is full",
  };
  const body = text.trim().split("\n")[0]!.slice(0, 200);
  return fallback[status] ?? (body || statusText || "request failed");
}

/** The useful tail of a fetch error ("Connection refused (os error 111)"). */
export function networkReason(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  let msg = (err.cause instanceof Error ? err.cause.message : err.message)
    .split("\n")[0]!;
  const i = msg.lastIndexOf("): ");
  if (i >= 0) msg = msg.slice(i + 3);
  return msg.replace(/^(tcp connect error|Fetch failed): /i, "").trim() ||
    "no answer";
}
