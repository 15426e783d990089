/**
 * The REST API. Handlers only translate HTTP to runner calls and back;
 * every failure becomes `{"error": "..."}` with the status it deserves.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  describeIssues,
  type JobRecord,
  JobSpec,
  JobStatus,
} from "../models/job.ts";
import type { JobState } from "./job_state.ts";
import type { StatusView } from "../models/node.ts";
import type { ControllerView } from "../models/controller.ts";
import { VERSION } from "../models/mod.ts";
import type { Clock } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import {
  invalid,
  isUnavailable,
  notFound,
  type Refusal,
  RefusedError,
} from "./errors.ts";
import type { Registry } from "./registry.ts";
import type { Requests } from "./requests.ts";
import type { JobStore } from "./job_store.ts";
import type { JobHistory } from "./job_log.ts";
import type { Peers } from "./peers.ts";
import {
  hasDroppedOutput,
  jobSummary,
  jobView,
  jobViewJson,
  nodeView,
  resultsView,
} from "./views.ts";

const log = logger("api");

const STATUS: Record<Refusal, ContentfulStatusCode> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  queue_full: 429,
};

export interface ApiDeps {
  /** Submit and cancel. */
  requests: Pick<Requests, "submit" | "cancel">;
  store: JobStore;
  history: JobHistory;
  limits: { maxConcurrent: number; maxPending: number };
  registry: Registry;
  peers: Peers;
  clock: Clock;
  controllerId: string;
  maxBody: number;
}

/** A running job's step as its log says now (the record's is written at most once a second). */
function withCurrentStep(rec: JobRecord, state: JobState): JobRecord {
  const step = state.status === "running"
    ? state.phases[state.phase]?.first
    : undefined;
  return step === undefined || step === rec.step ? rec : { ...rec, step };
}

export function createApi(deps: ApiDeps): Hono {
  const { requests, store, history, registry, clock } = deps;
  const app = new Hono();
  const offlineAfter = registry.offlineAfterMs;

  app.onError((err, c) => {
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

  app.post(
    "/job",
    bodyLimit({
      maxSize: deps.maxBody,
      onError: (c) =>
        c.json({
          error:
            `request body is larger than api.max_body (${deps.maxBody} bytes)`,
        }, 413),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = JSON.parse(await c.req.text());
      } catch (e) {
        throw invalid(`body is not valid JSON: ${(e as Error).message}`);
      }
      const parsed = JobSpec.safeParse(body);
      if (!parsed.success) throw invalid(describeIssues(parsed.error));
      const rec = await requests.submit(parsed.data);
      return c.json(jobView(rec, {}), 202);
    },
  );

  app.get("/job/:id", async (c) => {
    const stored = store.get(c.req.param("id"))?.rec;
    if (!stored) throw notFound(`job "${c.req.param("id")}" not found`);
    const state = await history.results(stored);
    const rec = withCurrentStep(stored, state);
    if (!hasDroppedOutput(state.results)) {
      return c.json(jobView(rec, resultsView(state.results)));
    }
    const chunks = jobViewJson(
      rec,
      state.results,
      (seq) => history.output(seq),
    );
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        const next = await chunks.next();
        if (next.done) ctl.close();
        else ctl.enqueue(enc.encode(next.value));
      },
    });
    return new Response(body, {
      headers: { "content-type": "application/json" },
    });
  });

  app.post("/job/:id/cancel", async (c) => {
    const rec = await requests.cancel(c.req.param("id"));
    const state = await history.results(rec);
    return c.json(
      jobView(withCurrentStep(rec, state), resultsView(state.results)),
    );
  });

  app.get("/jobs", (c) => {
    const limitText = c.req.query("limit") ?? "50";
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw invalid(
        `limit: must be a whole number from 1 to 1000, got "${limitText}"`,
      );
    }
    const status = c.req.query("status");
    if (status !== undefined && !JobStatus.safeParse(status).success) {
      throw invalid(
        `status: must be one of ${
          JobStatus.options.join(", ")
        }, got "${status}"`,
      );
    }
    const page = store.list({ limit, before: c.req.query("before"), status });
    return c.json({
      jobs: page.jobs.map(jobSummary),
      ...(page.next ? { next: page.next } : {}),
    });
  });

  app.get("/nodes", (c) => {
    const now = clock.now();
    const nodes = [...registry.nodes.values()].sort((a, b) =>
      a.id.localeCompare(b.id)
    );
    return c.json({ nodes: nodes.map((n) => nodeView(n, now, offlineAfter)) });
  });

  app.get("/node/:id", (c) => {
    const n = registry.nodes.get(c.req.param("id"));
    if (!n) throw notFound(`node "${c.req.param("id")}" not found`);
    return c.json(nodeView(n, clock.now(), offlineAfter));
  });

  app.get("/controllers", (c) => {
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

  app.get("/status", (c) => {
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

  return app;
}
