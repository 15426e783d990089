/** Read-only views of the fleet: nodes, controllers, status. */
import type { Hono } from "hono";
import type { StatusView } from "../models/node.ts";
import type { ControllerView } from "../models/controller.ts";
import { VERSION } from "../models/mod.ts";
import { notFound } from "./errors.ts";
import type { ApiEnv, Guard } from "./api_auth.ts";
import type { ApiDeps } from "./api.ts";
import { nodeView } from "./views.ts";

type GuardFor = (scope: Guard["scope"], action?: string) => Guard;

export function fleetRoutes(
  app: Hono<ApiEnv>,
  deps: ApiDeps,
  guard: GuardFor,
): void {
  const { store, registry, clock } = deps;
  const offlineAfter = registry.offlineAfterMs;

  app.get("/nodes", guard("read"), (c) => {
    const now = clock.now();
    const nodes = [...registry.nodes.values()].sort((a, b) =>
      a.id.localeCompare(b.id)
    );
    return c.json({ nodes: nodes.map((n) => nodeView(n, now, offlineAfter)) });
  });

  app.get("/node/:id", guard("read"), (c) => {
    const n = registry.nodes.get(c.req.param("id"));
    if (!n) throw notFound(`node "${c.req.param("id")}" not found`);
    return c.json(nodeView(n, clock.now(), offlineAfter));
  });

  app.get("/controllers", guard("read"), (c) => {
    const now = clock.now();
    const owned = store.owners();
    const list: ControllerView[] = [...deps.peers.all.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((p) => ({
        ...p,
        status: deps.peers.alive(p.id, now) ? "online" : "offline",
        jobs: owned.get(p.id) ?? 0,
      }));
    return c.json({ controllers: list });
  });

  app.get("/status", guard("read"), (c) => {
    const now = clock.now();
    let online = 0;
    for (const id of registry.nodes.keys()) {
      if (registry.isOnline(id, now)) online++;
    }

    const view: StatusView = {
      status: "active",
      version: VERSION,
      controller: deps.controllerId,
      nodes: { total: registry.nodes.size, online },
      jobs: store.counts(),
      queue: {
        running: store.count("running"),
        pending: store.count("pending"),
        max_concurrent: deps.limits.maxConcurrent,
        max_pending: deps.limits.maxPending,
      },
    };
    return c.json(view);
  });
}
