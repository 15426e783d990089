/**
 * Who may call which route. Every route is registered behind `guard`:
 *
 * - a bearer token whose scope covers the route's (read < operate < admin);
 *   401 with `WWW-Authenticate: Bearer` (RFC 6750) without a valid one,
 *   403 when its scope is too small;
 * - on state-changing routes, CSRF defences: a request from a browser page
 *   of another origin (its `Origin` header) is refused unless that origin
 *   is in `api.cors_origins`, and a body must be JSON or YAML, types a
 *   plain HTML form cannot send;
 * - on state-changing routes, an audit entry for the outcome, refusals
 *   included.
 *
 * The token itself is never logged, echoed or audited: only its name.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/deno";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  type AuditEntry,
  type AuditOutcome,
  scopeAllows,
  type TokenScope,
} from "../models/auth.ts";
import type { TokenRecord } from "../models/auth.ts";
import type { Clock } from "../lib/clock.ts";
import { iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { AuditLog } from "./audit.ts";
import type { TokenRefusal } from "./tokens.ts";

const log = logger("api");

/** Who a request acts as: a token's name and scope. */
export interface Principal {
  name: string;
  scope: TokenScope;
}

/** The name audited when no valid token came with a request. */
export const NOBODY = "-";

export type ApiEnv = {
  Variables: {
    principal: Principal;
    /** What a state-changing route acted on, for its audit entry. */
    auditTarget?: string;
  };
};

export interface AuthOptions {
  /** false: no token is asked for and every request acts as admin. */
  enabled: boolean;
  tokens: { authenticate(token: string): TokenRecord | TokenRefusal };
  /** Browser origins allowed to make state-changing requests. */
  corsOrigins: readonly string[];
  audit: AuditLog;
  clock: Clock;
}

/** A route's guard, marked with the scope it needs (see `routeTable`). */
export type Guard = MiddlewareHandler<ApiEnv> & {
  scope: TokenScope;
  action?: string;
};

/**
 * A route anyone may call (the dashboard's files, health probes): marked,
 * so that the route table tells it from a route whose guard was forgotten.
 */
export type Open = MiddlewareHandler<ApiEnv> & { open: true };

export function open(): Open {
  const mw: MiddlewareHandler<ApiEnv> = async (_c, next) => await next();
  return Object.assign(mw, { open: true as const });
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
export const BODY_TYPES = [
  "application/json",
  "application/yaml",
  "application/x-yaml",
  "text/yaml",
] as const;

const REALM = 'Bearer realm="grid"';
const HOW =
  'send "Authorization: Bearer TOKEN" (gridc: --token, GRID_TOKEN or its tokens.json)';

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(header: string | undefined): string | undefined {
  const t = header?.split(";")[0]?.trim().toLowerCase();
  return t ? t : undefined;
}

function quoted(s: string): string {
  return `"${s.replace(/["\\]/g, "")}"`;
}

function remoteAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? NOBODY;
  } catch {
    return NOBODY; // no connection behind it: app.request() in tests
  }
}

/** Makes `guard(scope, action)`: `action` marks a state-changing route, audited. */
export function guards(opts: AuthOptions) {
  const audit = (
    c: Context<ApiEnv>,
    action: string,
    who: string,
    outcome: AuditOutcome,
    error?: string,
  ) => {
    const target = c.get("auditTarget") ?? auditTargetOf(c);
    const entry: AuditEntry = {
      at: iso(opts.clock.now()),
      who,
      from: remoteAddress(c),
      action,
      ...(target === undefined ? {} : { target }),
      outcome,
      ...(error === undefined ? {} : { error }),
    };
    // Not awaited: the change is made whether or not the entry is stored
    // yet, so waiting would only add a round trip to every request; entries
    // still go out in order on the one connection. A failure is logged.
    opts.audit.append(entry).catch((e) => {
      // The change itself stands; the trail must say it has a gap.
      log.error("audit entry not stored", { ...entry, reason: String(e) });
    });
  };

  /**
   * `action` marks a state-changing route (audited); `body`, a route that
   * reads a request body, which must then say it is JSON or YAML.
   */
  return (scope: TokenScope, action?: string, body = false): Guard => {
    const mw: MiddlewareHandler<ApiEnv> = async (c, next) => {
      const refuse = async (
        status: ContentfulStatusCode,
        error: string,
        who: string,
        challenge?: string,
      ) => {
        if (action) await audit(c, action, who, "refused", error);
        if (challenge) c.header("WWW-Authenticate", challenge);
        return c.json({ error }, status);
      };

      let principal: Principal = { name: NOBODY, scope: "admin" };
      if (opts.enabled) {
        const found = authenticate(c.req.header("authorization"), opts);
        if ("status" in found) {
          return await refuse(401, found.error, NOBODY, found.challenge);
        }
        principal = found;
      }
      const who = principal.name;
      const changing = !SAFE_METHODS.has(c.req.method);
      if (changing) {
        const origin = c.req.header("origin");
        if (
          origin !== undefined && origin !== new URL(c.req.url).origin &&
          !opts.corsOrigins.includes(origin)
        ) {
          return await refuse(
            403,
            `requests from pages of ${origin} are refused: the API takes them only from origins listed in api.cors_origins`,
            who,
          );
        }
      }
      if (!scopeAllows(principal.scope, scope)) {
        return await refuse(
          403,
          `this needs a token with scope "${scope}" (or wider); token "${who}" has scope "${principal.scope}"`,
          who,
          `${REALM}, error="insufficient_scope", scope=${quoted(scope)}`,
        );
      }
      if (changing) {
        // A body-less route never reads what comes, but a declared type
        // must still be one a form cannot send.
        const type = mediaType(c.req.header("content-type"));
        if (
          type === undefined
            ? body
            : !(BODY_TYPES as readonly string[]).includes(type)
        ) {
          return await refuse(
            415,
            `a request body must be application/json or application/yaml, not ${
              type ?? "untyped"
            }`,
            who,
          );
        }
      }
      c.set("principal", principal);
      await next();
      if (!action) return;
      const failed = c.error !== undefined || c.res.status >= 400;
      await audit(
        c,
        action,
        who,
        failed ? "failed" : "ok",
        failed ? c.error?.message ?? `HTTP ${c.res.status}` : undefined,
      );
    };
    return Object.assign(mw, { scope, ...(action ? { action } : {}) });
  };
}

/** The route's `:id` or `:name`, when it has one. */
function auditTargetOf(c: Context<ApiEnv>): string | undefined {
  return c.req.param("id") ?? c.req.param("name");
}

type Refused = { status: 401; error: string; challenge: string };

function authenticate(
  header: string | undefined,
  opts: AuthOptions,
): Principal | Refused {
  if (header === undefined || header.trim() === "") {
    // RFC 6750 3.1: no error code when the request had no credentials.
    return {
      status: 401,
      error: `missing bearer token: ${HOW}`,
      challenge: REALM,
    };
  }
  const m = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header);
  if (!m) {
    const error = `the Authorization header must be "Bearer TOKEN"`;
    return {
      status: 401,
      error,
      challenge: `${REALM}, error="invalid_request", error_description=${
        quoted(error)
      }`,
    };
  }
  const found = opts.tokens.authenticate(m[1]!);
  if (typeof found === "string") {
    const error = found === "expired"
      ? "the bearer token has expired: ask an admin for a new one"
      : "unknown or revoked bearer token: ask an admin for a valid one";
    return {
      status: 401,
      error,
      challenge: `${REALM}, error="invalid_token", error_description=${
        quoted(error)
      }`,
    };
  }
  return { name: found.name, scope: found.scope };
}
