/**
 * Operations: probes for a supervisor or load balancer (`/healthz`,
 * `/readyz`: no token, and no data beyond yes or no), Prometheus metrics
 * and the NATS server's stats (a read token).
 */
import type { Hono } from "hono";
import { VERSION } from "../models/mod.ts";
import type { ApiEnv, Guard, Open } from "./api_auth.ts";
import type { ApiDeps } from "./api.ts";
import { renderMetrics } from "./metrics.ts";
import { CONTENT_TYPE } from "../lib/prometheus.ts";

type GuardFor = (scope: Guard["scope"]) => Guard;

export function opsRoutes(
  app: Hono<ApiEnv>,
  deps: ApiDeps,
  guard: GuardFor,
  open: () => Open,
): void {
  const { health, store, registry, clock } = deps;

  // The process answers: nothing else is asked.
  app.get("/healthz", open(), (c) => c.text("ok\n"));

  app.get("/readyz", open(), async (c) => {
    const ready = health.natsConnected() && health.heartbeatCurrent() &&
      await health.jetstream();
    return ready ? c.text("ready\n") : c.text("not ready\n", 503);
  });

  app.get("/metrics", guard("read"), async (c) => {
    const now = clock.now();
    let online = 0;
    for (const id of registry.nodes.keys()) {
      if (registry.isOnline(id, now)) online++;
    }
    const text = renderMetrics(deps.metrics, {
      jobs: store.counts(),
      pending: store.count("pending"),
      running: store.count("running"),
      nodes: { online, offline: registry.nodes.size - online },
      natsConnected: health.natsConnected(),
      jetstream: await health.jetstream(),
      version: VERSION,
      controller: deps.controllerId,
    });
    return c.body(text, 200, {
      "content-type": CONTENT_TYPE,
    });
  });

  app.get("/nats", guard("read"), async (c) => {
    const stats = await deps.natsStats();
    if (!stats) {
      return c.json({
        error:
          "this controller does not run its own nats-server (nats.server.enabled: false): ask the NATS server's monitoring port",
      }, 503);
    }
    return c.json(stats);
  });
}
