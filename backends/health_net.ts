/**
 * The network side of the `health` backend's checks: dialing a TCP port
 * within a deadline, and reading a bounded part of an HTTP body.
 */
import { round1 } from "./host.ts";

/** Bytes of a GET body read to look for `contains`. */
export const MAX_BODY_BYTES = 1024 * 1024;

export async function readSome(
  res: Response,
  max: number,
): Promise<Uint8Array> {
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
      size += r.value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const p of parts) {
    out.set(p.subarray(0, out.length - at), at);
    at += Math.min(p.length, out.length - at);
  }
  return out;
}

export function since(t0: number): number {
  return round1(performance.now() - t0);
}

export function message(e: unknown): string {
  if (e instanceof DOMException && e.name === "TimeoutError") {
    return "timed out";
  }
  return e instanceof Error ? e.message : String(e);
}

/** Connects within `ms`, or fails; the connection is closed either way. */
export async function reach(
  hostname: string,
  p: number,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const connecting = Deno.connect({ hostname, port: p });
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ms} ms`)),
      ms,
    );
    onAbort = () => reject(new Error(String(signal.reason ?? "aborted")));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    (await Promise.race([connecting, gaveUp])).close();
  } catch (e) {
    // A connection that completes after we gave up is closed, not leaked.
    connecting.then((c) => c.close(), () => {});
    throw e;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort!);
  }
}
