/**
 * What can go wrong with a request, in the controller's own terms. The
 * runner and its parts throw these; the API's one `onError` picks the HTTP
 * status for each kind.
 */
export type Refusal =
  | "invalid"
  | "not_found"
  | "conflict"
  | "queue_full"
  | "unavailable";

export class RefusedError extends Error {
  constructor(readonly kind: Refusal, message: string) {
    super(message);
    this.name = "RefusedError";
  }
}

export const invalid = (msg: string): RefusedError =>
  new RefusedError("invalid", msg);
export const notFound = (msg: string): RefusedError =>
  new RefusedError("not_found", msg);
export const conflict = (msg: string): RefusedError =>
  new RefusedError("conflict", msg);
export const queueFull = (msg: string): RefusedError =>
  new RefusedError("queue_full", msg);
/** Not now: the controller cannot trust its view (try again shortly). */
export const unavailable = (msg: string): RefusedError =>
  new RefusedError("unavailable", msg);

const UNAVAILABLE = new Set([
  "TimeoutError",
  "NoResponders",
  "RequestError",
  "ConnectionError",
  "ClosedConnectionError",
  "DrainingConnectionError",
  "JetStreamNotEnabled",
]);

/**
 * Whether an error means NATS or JetStream did not answer — a server lost,
 * a leader being elected — rather than that the request was wrong: the
 * caller should try again shortly.
 */
export function isUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; depth++) {
    if (UNAVAILABLE.has(e.name)) return true;
    // JetStream answers 503 while a stream has no leader or quorum.
    if ((e as { status?: unknown }).status === 503) return true;
    e = e.cause;
  }
  return false;
}
