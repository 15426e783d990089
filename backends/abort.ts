/** Cancellation helpers shared by the pure backends and the action runner. */
import { formatDuration } from "../models/duration.ts";
import { ActionError } from "./types.ts";

/**
 * Why a signal was aborted, as text. The worker aborts with strings such as
 * "timed out after 2s" or "cancelled"; a bare `abort()` gives a DOMException.
 */
export function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === "string" && r) return r;
  if (r instanceof Error && r.message) return r.message;
  if (r === undefined || r === null || r === "") return "aborted";
  return String(r);
}

/**
 * Waits `ms`, or throws an ActionError as soon as `signal` aborts, so a task
 * that only waits still stops at once on cancel or timeout.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) {
    return Promise.reject(
      new ActionError(`Aborted before the wait began: ${abortReason(signal)}`),
    );
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      const waited = formatDuration(Date.now() - started);
      reject(
        new ActionError(
          `Aborted after ${waited} of ${formatDuration(ms)}: ${
            abortReason(signal)
          }`,
        ),
      );
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Waits for `p` at most `ms`; true when it settled in time. The timer is
 * cleared either way, so nothing is left pending.
 */
export async function settlesWithin(
  p: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((
    r,
  ) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
