/** Job routes: submit and cancel (operate), get, list and plan (read). */
import type { Hono } from "hono";
import { type JobRecord, JobSpec, JobStatus } from "../models/job.ts";
import { invalid, unavailable } from "./errors.ts";
import { type ApiEnv, type Guard, NOBODY } from "./api_auth.ts";
import { limitBody, readBody } from "./api_body.ts";
import type { JobState } from "./job_state.ts";
import type { ApiDeps } from "./api.ts";
import { findJob } from "./job_lookup.ts";
import type { JobRows } from "./job_rows.ts";
import { planJob } from "./plan_view.ts";
import { untilFleetCurrent } from "./requests.ts";
import { lostFields } from "./results_stream.ts";
import { rolloutStatus } from "./rollout_run.ts";
import {
  hasDroppedOutput,
  jobView,
  jobViewJson,
  resultsView,
} from "./views.ts";

type GuardFor = (
  scope: Guard["scope"],
  action?: string,
  body?: boolean,
) => Guard;

/**
 * A running job's step as its log says now (the record's is written at most
 * once a second), and its rollout in full, per batch.
 */
function withCurrentStep(rec: JobRecord, state: JobState): JobRecord {
  const step = state.status === "running"
    ? state.phases[state.phase]?.first
    : undefined;
  const out = step === undefined || step === rec.step ? rec : { ...rec, step };
  return state.rollout
    ? { ...out, rollout_status: rolloutStatus(state, state.rollout, true) }
    : out;
}

/** `limit` of a paged list: 1 to 1000, 50 when absent. */
export function pageLimit(text: string | undefined): number {
  const limitText = text ?? "50";
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw invalid(
      `limit: must be a whole number from 1 to 1000, got "${limitText}"`,
    );
  }
  return limit;
}

export function jobRoutes(
  app: Hono<ApiEnv>,
  deps: ApiDeps,
  guard: GuardFor,
  rows: JobRows,
): void {
  const { requests, store, history } = deps;

  app.post(
    "/job",
    guard("operate", "job.submit", true),
    limitBody(deps.maxBody),
    async (c) => {
      const spec = await readBody(c, JobSpec);
      const who = c.get("principal").name;
      // With auth off there is no name to keep.
      const rec = await requests.submit(spec, who === NOBODY ? undefined : who);
      c.set("auditTarget", rec.id);
      return c.json(jobView(rec, {}), 202);
    },
  );

  // A plan reads the registry and changes nothing (no action: nothing to
  // audit); what it tells, GET /nodes tells a read token already.
  app.post(
    "/job/plan",
    guard("read", undefined, true),
    limitBody(deps.maxBody),
    async (c) => {
      const spec = await readBody(c, JobSpec);
      const { registry, clock } = deps;
      // As a submit would: a stale registry would call healthy nodes offline.
      if (
        !(await untilFleetCurrent(registry, clock, registry.offlineAfterMs))
      ) {
        throw unavailable(
          "the node registry is not current (NATS JetStream is not answering): try again shortly",
        );
      }
      const now = clock.now();
      return c.json(planJob(spec, registry, now, registry.offlineAfterMs));
    },
  );

  app.get("/job/:id", guard("read"), async (c) => {
    const stored = (await findJob(store, c.req.param("id"))).rec;
    if (c.req.query("outputs") === "false") {
      // Results without outputs: what a live view needs, at any size.
      const lean = await deps.fold(stored);
      return c.json(
        jobView(withCurrentStep(stored, lean), resultsView(lean.results)),
      );
    }
    const state = await history.results(stored);
    const lost = await history.stream.lost(stored);
    const rec = withCurrentStep(stored, state);
    if (!hasDroppedOutput(state.results)) {
      return c.json(jobView(rec, resultsView(state.results), lost));
    }
    const chunks = jobViewJson(
      rec,
      state.results,
      (seq) => history.stored(seq),
      lost,
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

  app.post("/job/:id/cancel", guard("operate", "job.cancel"), async (c) => {
    const id = (await findJob(store, c.req.param("id"))).rec.id;
    c.set("auditTarget", id);
    const rec = await requests.cancel(id);
    const state = await history.results(rec);
    return c.json(
      jobView(withCurrentStep(rec, state), resultsView(state.results)),
    );
  });

  app.post("/job/:id/resume", guard("operate", "job.resume"), async (c) => {
    const stored = (await findJob(store, c.req.param("id"))).rec;
    c.set("auditTarget", stored.id);
    // The log says whether it is paused; the record follows a moment later.
    const now = await deps.fold(stored);
    const rec = await requests.resume(
      stored,
      now.rollout && rolloutStatus(now, now.rollout),
    );
    const after = await deps.fold(rec);
    return c.json(
      jobView(withCurrentStep(rec, after), resultsView(after.results)),
    );
  });

  app.get("/jobs", guard("read"), async (c) => {
    const limit = pageLimit(c.req.query("limit"));
    const status = c.req.query("status");
    if (status !== undefined && !JobStatus.safeParse(status).success) {
      throw invalid(
        `status: must be one of ${
          JobStatus.options.join(", ")
        }, got "${status}"`,
      );
    }
    const page = await store.list({
      limit,
      before: c.req.query("before"),
      status,
    });
    if (page.next) {
      // The reference's API answers a bare array; the next page goes here.
      const q = new URLSearchParams({
        limit: String(limit),
        before: page.next,
      });
      if (status) q.set("status", status);
      c.header("Link", `</jobs?${q}>; rel="next"`);
    }
    const summaries = await rows.rows(page.jobs);
    const lost = await Promise.all(
      page.jobs.map((r) => history.stream.lost(r)),
    );
    return c.json(
      summaries.map((row, i) => ({ ...row, ...lostFields(lost[i]) })),
    );
  });
}
