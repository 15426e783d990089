// The API as the page calls it: same origin, the bearer token on every
// request. The token lives in session storage (gone with the tab), never
// in a URL. A 401 anywhere signs the page out with the API's reason.

const KEY = "grid.token";

export const session = {
  token: () => sessionStorage.getItem(KEY),
  signIn: (token) => sessionStorage.setItem(KEY, token),
  signOut: () => sessionStorage.removeItem(KEY),
};

let unauthorized = () => {};

/** Called with the API's message when a request is refused for its token. */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function authHeaders(extra = {}) {
  const token = session.token();
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function errorText(res) {
  try {
    const body = await res.json();
    if (typeof body.error === "string") return body.error;
  } catch {
    // not JSON: the status says enough
  }
  return `HTTP ${res.status} ${res.statusText}`;
}

/** Throws ApiError on any answer but 2xx; 401 also signs out. */
export async function check(res) {
  if (res.ok) return res;
  const message = await errorText(res);
  if (res.status === 401) {
    session.signOut();
    unauthorized(message);
  }
  throw new ApiError(res.status, message);
}

/** A JSON request; `body` is sent as is with `type` (JSON by default). */
export async function api(path, { method = "GET", body, type } = {}) {
  const headers = authHeaders({ accept: "application/json" });
  if (body !== undefined) {
    headers["content-type"] = type ?? "application/json";
  }
  const res = await check(
    await fetch(path, { method, headers, body, cache: "no-store" }),
  );
  return { data: await res.json(), res };
}

/** The `before` of a `Link: </jobs?...>; rel="next"` header. */
export function nextPage(res) {
  const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(res.headers.get("link") ?? "");
  return m ? new URL(m[1], location.href).searchParams.get("before") : null;
}
