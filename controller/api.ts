/**
 * The REST API. Handlers only translate HTTP to controller calls and back;
 * every failure becomes `{"error": "..."}` with the status it deserves.
 * Every route sits behind a guard (api_auth.ts) naming the token scope it
 * needs; the routes themselves live in routes_*.ts.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { TokenScope } from "../models/auth.ts";
import { TERMINAL } from "../models/job.ts";
import type { Clock } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { isUnavailable, type Refusal, RefusedError } from "./errors.ts";
import type { Registry } from "./registry.ts";
import type { Requests } from "./requests.ts";
import type { JobStore } from "./job_store.ts";
import type { JobHistory } from "./job_log.ts";
import type { Peers } from "./peers.ts";
import type { TokenStore } from "./tokens.ts";
import type { AuditLog } from "./audit.ts";
import {
  type ApiEnv,
  type Guard,
  guards,
  type Open,
  open,
} from "./api_auth.ts";
import type { Health } from "./health.ts";
import type { JobLogFollower } from "./job_follow.ts";
import type { OutputFollower } from "./output_follow.ts";
import type { FoldJob, JobRows } from "./job_rows.ts";
import type { Metrics } from "./metrics.ts";
import type { NatsStats } from "./nats_stats.ts";
import { jobRoutes } from "./routes_jobs.ts";
import { fleetRoutes } from "./routes_fleet.ts";
import { storageRefusal, type StorageWatch } from "./storage.ts";
import { backendRoutes } from "./routes_backends.ts";
import { adminRoutes } from "./routes_admin.ts";
import { liveRoutes } from "./routes_live.ts";
import { opsRoutes } from "./routes_ops.ts";
import { type Asset, webRoutes } from "./web.ts";

const log = logger("api");

const STATUS: Record<Refusal, ContentfulStatusCode> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  queue_full: 429,
  unavailable: 503,
};

/** Node credentials: NATS identities for workers (controller/nats_server.ts side). */
export interface NodeAdmin {
  enroll(
    id: string,
    groups: string[],
    by: string,
    labels?: Record<string, string>,
  ): Promise<{ creds: string }>;
  revoke(id: string, by: string): Promise<void>;
}

export interface ApiDeps {
  /** Submit, cancel and resume. */
  requests: Pick<Requests, "submit" | "cancel" | "resume">;
  store: JobStore;
  history: JobHistory;
  limits: { maxConcurrent: number; maxPending: number };
  registry: Registry;
  peers: Peers;
  clock: Clock;
  controllerId: string;
  maxBody: number;
  tokens: TokenStore;
  audit: AuditLog;
  nodeAdmin: NodeAdmin;
  /** A job's log followed live (`GET /job/:id/events`). */
  follower: JobLogFollower;
  /** Running tasks' output (GRID_OUT); without it no output is streamed. */
  output?: OutputFollower;
  /** A job's state, results without outputs (one result's view). */
  fold: FoldJob;
  /** Rows of `GET /jobs`, with progress. */
  rows: JobRows;
  health: Health;
  /** Whether JetStream's store is full (storage.ts); 503s then say so. */
  storage?: Pick<StorageWatch, "note" | "reason">;
  metrics: Metrics;
  /** The stats of this controller's nats-server; undefined when it runs none. */
  natsStats: () => Promise<NatsStats | undefined>;
  /** The dashboard's files by path (controller/web.ts). */
  web: ReadonlyMap<string, Asset>;
  /** Aborted at shutdown: live streams end so the server can stop. */
  closing?: AbortSignal;
  auth: {
    /** false: no token asked for (loopback-only throwaway rigs). */
    enabled: boolean;
    /** Browser origins allowed to call the API; CORS headers only for them. */
    corsOrigins: readonly string[];
  };
}

export function createApi(deps: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.onError((err, c) => {
    // A full store is what a 503 says, whatever the request ran into.
    const full = storageRefusal(deps.storage, err);
    if (full) {
      log.warn("request failed: JetStream storage full", { path: c.req.path });
      return c.json({ error: full }, 503);
    }
    if (err instanceof RefusedError) {
      return c.json({ error: err.message }, STATUS[err.kind]);
    }
    if (isUnavailable(err)) {
      log.warn("request failed: NATS unavailable", {
        path: c.req.path,
        error: String(err),
      });
      return c.json({
        error: `NATS JetStream is not answering (${
          (err as Error).message
        }); a server may be down or electing a leader: try again shortly`,
      }, 503);
    }
    log.error("request failed", { path: c.req.path, error: String(err) });
    return c.json({ error: `internal error: ${(err as Error).message}` }, 500);
  });
  app.notFound((c) =>
    c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404)
  );

  const origins = deps.auth.corsOrigins;
  if (origins.length > 0) {
    app.use(
      "*",
      cors({
        origin: [...origins],
        allowMethods: ["GET", "POST", "DELETE"],
        allowHeaders: ["Authorization", "Content-Type"],
        maxAge: 600,
      }),
    );
  }

  const guard = guards({
    enabled: deps.auth.enabled,
    tokens: deps.tokens,
    corsOrigins: origins,
    audit: deps.audit,
    clock: deps.clock,
  });
  // A finished job's row is kept as counts: stop following it.
  deps.store.onChange((s) => {
    if (TERMINAL.has(s.rec.status)) deps.rows.forget(s.rec.id);
  });
  jobRoutes(app, deps, guard, deps.rows);
  liveRoutes(app, deps, guard);
  fleetRoutes(app, deps, guard);
  backendRoutes(app, deps, guard);
  adminRoutes(app, deps, guard);
  opsRoutes(app, deps, guard, open);
  webRoutes(app, deps.web, open);
  return app;
}

/** One route and what it needs. */
export interface RouteInfo {
  method: string;
  path: string;
  /** Undefined: the route has no guard (a mistake `tests/api_auth_test.ts` catches). */
  scope?: TokenScope;
  /** The audited action of a state-changing route. */
  action?: string;
  /** Anyone may call it (see `open` in api_auth.ts). */
  open?: true;
}

/** Every route of `app` with the scope its guard asks for. */
export function routeTable(app: Hono<ApiEnv>): RouteInfo[] {
  const out = new Map<string, RouteInfo>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue; // middleware on every route (CORS)
    const key = `${r.method} ${r.path}`;
    const info = out.get(key) ?? { method: r.method, path: r.path };
    const g = r.handler as Partial<Guard> & Partial<Open>;
    if (g.open) info.open = true;
    if (g.scope !== undefined) {
      info.scope = g.scope;
      if (g.action !== undefined) info.action = g.action;
    }
    out.set(key, info);
  }
  return [...out.values()];
}
