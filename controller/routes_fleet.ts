/**
 * Read-only views of the fleet: nodes, controllers, status. Lists are bare
 * arrays, as the reference's API answers (its dashboard reads them so).
 */
import type { Hono } from "hono";
import type { NodeRecord, NodeView, StatusView } from "../models/node.ts";
import type { ControllerView } from "../models/controller.ts";
import { VERSION } from "../models/mod.ts";
import { notFound } from "./errors.ts";
import type { ApiEnv, Guard } from "./api_auth.ts";
import type { ApiDeps } from "./api.ts";
import { nodeView } from "./views.ts";
import { fleetCurrent, holdsLease } from "./sweep.ts";
import { badRecords } from "./bad_records.ts";

type GuardFor = (scope: Guard["scope"], action?: string) => Guard;

export function fleetRoutes(
  app: Hono<ApiEnv>,
  deps: ApiDeps,
  guard: GuardFor,
): void {
  const { store, registry, clock } = deps;
  const offlineAfter = registry.offlineAfterMs;

  /**
   * When nodes are judged: now, or while the registry is not current (an
   * outage, a full store) when it last was, so an outage of the store does
   * not show the fleet offline (/status says degraded and why).
   */
  const judgedAt = (now: number): number =>
    fleetCurrent(now, registry.freshAt, offlineAfter) || registry.freshAt === 0
      ? now
      : registry.freshAt;

  /** A node as the API shows it: revoked ones say so, whatever they wrote. */
  const viewOf = (n: NodeRecord, now: number): NodeView =>
    registry.revoked.has(n.id)
      ? { ...nodeView(n, judgedAt(now), offlineAfter), status: "revoked" }
      : nodeView(n, judgedAt(now), offlineAfter);

  app.get("/nodes", guard("read"), (c) => {
    const now = clock.now();
    const nodes = [...registry.nodes.values(), ...registry.revoked.values()]
      .sort((a, b) => a.id.localeCompare(b.id));
    return c.json(nodes.map((n) => viewOf(n, now)));
  });

  app.get("/node/:id", guard("read"), (c) => {
    const id = c.req.param("id");
    const n = registry.nodes.get(id) ?? registry.revoked.get(id);
    if (!n) throw notFound(`node "${id}" not found`);
    return c.json(viewOf(n, clock.now()));
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
    return c.json(list);
  });

  /** Why this controller cannot trust its view now (none: it can). */
  const degradedBecause = (now: number): string[] => [
    ...[deps.storage?.reason()].filter((r) => r !== undefined),
    ...(fleetCurrent(now, registry.freshAt, offlineAfter) ? [] : [
      "the node registry is not current: NATS JetStream is not answering; no node is judged lost and no job starts until it is",
    ]),
    ...(holdsLease(now, deps.peers.lastBeatOk, deps.peers.staleMs) ? [] : [
      "this controller's heartbeat is not getting through: it sends nothing for its jobs until it does",
    ]),
  ];

  app.get("/status", guard("read"), async (c) => {
    const now = clock.now();
    let online = 0;
    for (const id of registry.nodes.keys()) {
      if (registry.isOnline(id, judgedAt(now))) online++;
    }

    const reasons = degradedBecause(now);
    const view: StatusView = {
      status: reasons.length > 0 ? "degraded" : "active",
      ...(reasons.length > 0 ? { reasons } : {}),
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
      bad_records: badRecords.counts(),
      results_stream: await deps.history.stream.status(store.oldestFirst()),
    };
    return c.json(view);
  });
}
