/**
 * `GET /backends`: backend → actions → params, over the online nodes, as
 * their records describe them (a node without a description still shows
 * its actions).
 */
import type { Hono } from "hono";
import { backendsView, type OfferingNode } from "../models/backend_view.ts";
import type { ApiEnv, Guard } from "./api_auth.ts";
import type { ApiDeps } from "./api.ts";

type GuardFor = (scope: Guard["scope"], action?: string) => Guard;

export function backendRoutes(
  app: Hono<ApiEnv>,
  deps: Pick<ApiDeps, "registry" | "clock">,
  guard: GuardFor,
): void {
  const { registry, clock } = deps;
  app.get("/backends", guard("read"), (c) => {
    const now = clock.now();
    const nodes: OfferingNode[] = [];
    for (const n of registry.nodes.values()) {
      if (!registry.isOnline(n.id, now)) continue;
      const params = registry.paramsOf(n.id);
      nodes.push({
        id: n.id,
        backends: n.backends,
        ...(params ? { params } : {}),
      });
    }
    return c.json(backendsView(nodes));
  });
}
