/**
 * The worker's intake rules that need no connection, apart from the agent
 * so they can be tested without NATS.
 */

/**
 * How a command reached the worker:
 * - `live`: delivered as it was stored, next in sequence;
 * - `late`: delivered live, but at or below the last sequence taken in;
 * - `stream`: read back from the command stream (catch-up).
 */
export type Arrival = "live" | "late" | "stream";

export interface OutcomeLookupFacts {
  arrival: Arrival;
  /** The controller marked the command as possibly sent before. */
  resend: boolean;
  /** The command's `issued_at`, in ms (NaN if unreadable). */
  issuedAt: number;
  /** When this worker process started, in ms. */
  startedAt: number;
  now: number;
  catchUpWindowMs: number;
}

/**
 * Whether to ask the results stream for an outcome of an attempt before
 * running it. The ledger only knows what this process took: anything that
 * may have reached an earlier run of this worker needs the look-up. In
 * sequence and fresh, a command cannot have, and the common path costs no
 * request.
 */
export function mustLookUpOutcome(f: OutcomeLookupFacts): boolean {
  // Out of order or read back: taken before this process started, maybe.
  if (f.arrival !== "live") return true;
  if (f.resend) return true;
  // A command built before this process started may have reached the one
  // before it, and the controller may not say so (an older controller, or a
  // publish retried with its first body). Past one catch-up window such a
  // command is no longer run on catch-up either, so the check stops there.
  // An unreadable issued_at counts as before the start.
  return f.now - f.startedAt < f.catchUpWindowMs &&
    !(f.issuedAt >= f.startedAt);
}

/**
 * Whether a command is too old to run: read back from the stream after a
 * long absence, it is history, since its job has long been told this node
 * was lost. What arrives live was just sent (late only by our own count):
 * the controller wants it run now.
 */
export function isHistory(
  arrival: Arrival,
  issuedAt: number,
  now: number,
  catchUpWindowMs: number,
): boolean {
  return arrival === "stream" && now - issuedAt > catchUpWindowMs;
}
