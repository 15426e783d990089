/**
 * Admin routes: API tokens, the audit trail, node enrollment and
 * revocation. Enrollment itself (NATS credentials) is `ApiDeps.nodeAdmin`.
 */
import type { Hono } from "hono";
import { EnrollRequest, TokenCreateRequest } from "../models/auth.ts";
import { parseDuration } from "../models/duration.ts";
import type { NodeView } from "../models/node.ts";
import { NodeId } from "../models/names.ts";
import { conflict, invalid } from "./errors.ts";
import type { ApiEnv, Guard } from "./api_auth.ts";
import { limitBody, readBody } from "./api_body.ts";
import type { ApiDeps } from "./api.ts";
import { pageLimit } from "./routes_jobs.ts";
import { viewOf } from "./tokens.ts";
import { nodeView } from "./views.ts";

type GuardFor = (
  scope: Guard["scope"],
  action?: string,
  body?: boolean,
) => Guard;

/** Small bodies only: a name, a scope, a list of groups. */
const ADMIN_BODY = 64 * 1024;

export function adminRoutes(
  app: Hono<ApiEnv>,
  deps: ApiDeps,
  guard: GuardFor,
): void {
  const { tokens, audit, nodeAdmin, registry, clock } = deps;

  app.post(
    "/tokens",
    guard("admin", "token.create", true),
    limitBody(ADMIN_BODY),
    async (c) => {
      const req = await readBody(c, TokenCreateRequest);
      c.set("auditTarget", req.name);
      const ttlMs = req.ttl === undefined ? undefined : parseDuration(req.ttl);
      if (ttlMs !== undefined && ttlMs <= 0) {
        throw invalid("ttl: must be longer than 0s");
      }
      const { token, record } = await tokens.create(
        req.name,
        req.scope,
        c.get("principal").name,
        ttlMs,
      );
      return c.json({ ...viewOf(record), token }, 201);
    },
  );

  app.get("/tokens", guard("admin"), (c) => c.json({ tokens: tokens.list() }));

  app.delete("/tokens/:name", guard("admin", "token.revoke"), async (c) => {
    const name = c.req.param("name");
    const rec = tokens.get(name);
    // Locking every admin out would leave only a restart with a new
    // bootstrap file to get back in.
    if (rec?.scope === "admin" && !tokens.hasAdmin(name)) {
      throw conflict(
        `"${name}" is the last admin token: create another admin token first`,
      );
    }
    return c.json(viewOf(await tokens.revoke(name)));
  });

  app.get("/audit", guard("admin"), async (c) => {
    const limit = pageLimit(c.req.query("limit"));
    const beforeText = c.req.query("before");
    const before = beforeText === undefined ? undefined : Number(beforeText);
    if (before !== undefined && (!Number.isInteger(before) || before < 1)) {
      throw invalid(
        `before: must be an entry's sequence number, got "${beforeText}"`,
      );
    }
    return c.json(await audit.page(limit, before));
  });

  app.post(
    "/nodes/enroll",
    guard("admin", "node.enroll", true),
    limitBody(ADMIN_BODY),
    async (c) => {
      const req = await readBody(c, EnrollRequest);
      c.set("auditTarget", req.id);
      const { creds } = await nodeAdmin.enroll(
        req.id,
        req.groups,
        c.get("principal").name,
        req.labels,
      );
      const labels = Object.keys(req.labels).length > 0
        ? { labels: req.labels }
        : {};
      return c.json({ id: req.id, groups: req.groups, ...labels, creds }, 201);
    },
  );

  app.post("/node/:id/revoke", guard("admin", "node.revoke"), async (c) => {
    const id = c.req.param("id");
    const checked = NodeId.safeParse(id);
    if (!checked.success) {
      throw invalid(`node id: ${checked.error.issues[0]!.message}`);
    }
    await nodeAdmin.revoke(id, c.get("principal").name);
    const n = registry.nodes.get(id) ?? registry.revoked.get(id);
    // A node enrolled but never seen has no record to show.
    const view: Pick<NodeView, "id" | "status"> & Partial<NodeView> = n
      ? nodeView(n, clock.now(), registry.offlineAfterMs)
      : { id, status: "revoked" };
    return c.json({ ...view, status: "revoked" });
  });
}
