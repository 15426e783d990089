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
import { jobStream, type Position } from "./job_stream.ts";
import { NodeId } from "../models/names.ts";
import { nodeResult } from "./views.ts";

type GuardFor = (scope: Guard["scope"]) => Guard;

/**
 * `Last-Event-ID`: `R.O`, the results-stream and output-stream sequences
 * a client last got (a bare `R` from before output was streamed); anything
 * else starts afresh.
 */
export function lastEventId(text: string | undefined): Position {
  const [res, out] = (text?.trim() ?? "").split(".").map(Number);
  const ok = (n: number | undefined) =>
    n !== undefined && Number.isSafeInteger(n) && n > 0 ? n : 0;
  return { res: ok(res), out: ok(out) };
}

/** `?step=` and `?node=` of an output view, checked. */
function outputScope(
  step: string | undefined,
  node: string | undefined,
): { step?: number; node?: string } {
  const out: { step?: number; node?: string } = {};
  if (step !== undefined) {
    const n = Number(step);
    if (!Number.isInteger(n) || n < 0) {
      throw invalid(`step: must be a step number, got "${step}"`);
    }
    out.step = n;
  }
  if (node !== undefined) {
    const checked = NodeId.safeParse(node);
    if (!checked.success) {
      throw invalid(`node: ${checked.error.issues[0]!.message}`);
    }
    out.node = node;
  }
  return out;
}

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  // Proxies that buffer (nginx) would hold events back.
  "x-accel-buffering": "no",
};

export function liveRoutes(
  app: Hono<ApiEnv>,
  deps: ApiDeps,
  guard: GuardFor,
): void {
  const { store } = deps;

  const streamDeps = () => ({
    record: (id: string) => store.get(id)?.rec,
    follower: deps.follower,
    ...(deps.output ? { output: deps.output } : {}),
    clock: deps.clock,
    ...(deps.closing ? { closing: deps.closing } : {}),
  });

  // Status, results and (unless ?output=false) running tasks' output.
  app.get("/job/:id/events", guard("read"), async (c) => {
    const { rec } = await findJob(store, c.req.param("id"));
    const stream = jobStream(
      streamDeps(),
      rec,
      lastEventId(c.req.header("last-event-id")),
      { output: c.req.query("output") === "false" ? false : {} },
    );
    return new Response(stream, { headers: SSE_HEADERS });
  });

  // Output only (of one step and/or node), with status and end: `gridc job
  // logs`. `?follow=false` ends once what was streamed so far was sent.
  app.get("/job/:id/output", guard("read"), async (c) => {
    const { rec } = await findJob(store, c.req.param("id"));
    const scope = outputScope(c.req.query("step"), c.req.query("node"));
    const follow = c.req.query("follow") !== "false";
    const stream = jobStream(
      streamDeps(),
      rec,
      lastEventId(c.req.header("last-event-id")),
      { results: false, output: scope, ...(follow ? {} : { follow }) },
    );
    return new Response(stream, { headers: SSE_HEADERS });
  });

  app.get("/job/:id/result/:step/:node", guard("read"), async (c) => {
    const { rec } = await findJob(store, c.req.param("id"));
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
    const kept = o.seq === undefined
      ? undefined
      : await deps.history.stored(o.seq);
    return c.json({
      step,
      node,
      ...nodeResult(o, kept?.output || undefined, kept?.data),
    });
  });
}
