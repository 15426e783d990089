/**
 * Live and piecemeal views of a job: its events as Server-Sent Events, and
 * one node's result of one step with its output (what a dashboard cell
 * opens, without loading every node's output).
 */
import type { Hono } from "hono";
import { invalid, notFound } from "./errors.ts";
import type { ApiEnv, Guard } from "./api_auth.ts";
import type { ApiDeps } from "./api.ts";
import { findJob } from "./job_lookup.ts";
import { jobStream } from "./job_stream.ts";
import { nodeResult } from "./views.ts";

type GuardFor = (scope: Guard["scope"]) => Guard;

/** `Last-Event-ID`: a results-stream sequence; anything else starts afresh. */
export function lastEventId(text: string | undefined): number {
  const n = Number(text?.trim());
  return text !== undefined && Number.isSafeInteger(n) && n > 0 ? n : 0;
}

export function liveRoutes(
  app: Hono<ApiEnv>,
  deps: ApiDeps,
  guard: GuardFor,
): void {
  const { store } = deps;

  app.get("/job/:id/events", guard("read"), (c) => {
    const { rec } = findJob(store, c.req.param("id"));
    const stream = jobStream(
      {
        record: (id) => store.get(id)?.rec,
        follower: deps.follower,
        clock: deps.clock,
        ...(deps.closing ? { closing: deps.closing } : {}),
      },
      rec,
      lastEventId(c.req.header("last-event-id")),
    );
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        // Proxies that buffer (nginx) would hold events back.
        "x-accel-buffering": "no",
      },
    });
  });

  app.get("/job/:id/result/:step/:node", guard("read"), async (c) => {
    const { rec } = findJob(store, c.req.param("id"));
    const step = Number(c.req.param("step"));
    if (!Number.isInteger(step) || step < 0) {
      throw invalid(
        `step: must be a step number, got "${c.req.param("step")}"`,
      );
    }
    const node = c.req.param("node");
    const o = (await deps.fold(rec)).results.get(step)?.get(node);
    if (!o) {
      throw notFound(`job ${rec.id} has no result of step ${step} on ${node}`);
    }
    const output = o.seq === undefined
      ? undefined
      : await deps.history.output(o.seq);
    return c.json({ step, node, ...nodeResult(o, output || undefined) });
  });
}
