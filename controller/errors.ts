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
