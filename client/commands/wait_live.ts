/**
 * `--wait` over the job's event stream (`GET /job/:id/events`): results
 * arrive as the controller folds them, with no polling. A broken stream is
 * resumed where it stopped (`Last-Event-ID`), through whichever controller
 * answers; a controller without the stream makes the caller poll instead.
 */
import type { JobView, NodeResult } from "../../models/job.ts";
import { LiveResults, LiveStatus } from "../../models/live.ts";
import { UnreachableError } from "../api.ts";
import type { Context } from "../context.ts";
import type { SseEvent } from "../sse.ts";

/** Connections in a row that may fail (a controller restarting) before giving up. */
export const MAX_STREAM_FAILURES = 20;

export interface LiveHooks {
  /** The job as known so far changed: results merged, status updated. */
  changed(job: JobView): void;
}

/**
 * Follows the job in `start` until its stream ends. Returns false when
 * the controller does not serve streams (nothing was read).
 */
export async function followLive(
  ctx: Context,
  start: JobView,
  hooks: LiveHooks,
): Promise<boolean> {
  const job: JobView = structuredClone(start);
  let lastId: string | undefined;
  let failures = 0;
  for (;;) {
    let events: AsyncGenerator<SseEvent> | undefined;
    try {
      events = await ctx.api.jobEvents(start.id, lastId);
    } catch (e) {
      if (e instanceof UnreachableError && ++failures < MAX_STREAM_FAILURES) {
        await ctx.io.sleep(ctx.pollMs);
        continue;
      }
      throw e;
    }
    // No stream here (an older controller, perhaps after a failover): poll.
    if (!events) return false;
    try {
      for await (const ev of events) {
        failures = 0;
        if (ev.id !== undefined) lastId = ev.id;
        if (ev.type === "end") return true;
        if (apply(job, ev)) hooks.changed(job);
      }
    } catch {
      // The connection broke: resume after the last event we have.
    }
    if (++failures >= MAX_STREAM_FAILURES) {
      throw new UnreachableError(
        `the event stream of job ${start.id} keeps breaking`,
      );
    }
    await ctx.io.sleep(ctx.pollMs);
  }
}

/** Merges one event into `job`; true when something changed. */
function apply(job: JobView, ev: SseEvent): boolean {
  let data: unknown;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return false;
  }
  if (ev.type === "status") {
    const s = LiveStatus.safeParse(data);
    if (!s.success) return false;
    Object.assign(job, s.data);
    return true;
  }
  if (ev.type === "result") {
    const r = LiveResults.safeParse(data);
    if (!r.success) return false;
    for (const { step, node, ...result } of r.data.results) {
      const byNode = job.results[String(step)] ??= {};
      byNode[node] = result satisfies NodeResult;
    }
    return r.data.results.length > 0;
  }
  return false; // `output` and types added later
}
