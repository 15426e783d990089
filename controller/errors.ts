/** Errors the API turns into HTTP statuses, each carrying its status. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413 | 429 | 503,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const invalid = (msg: string): ApiError => new ApiError(400, msg);
export const notFound = (msg: string): ApiError => new ApiError(404, msg);
export const conflict = (msg: string): ApiError => new ApiError(409, msg);
export const queueFull = (msg: string): ApiError => new ApiError(429, msg);

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
