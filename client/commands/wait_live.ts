/**
 * `--wait` over the job's event stream (`GET /job/:id/events`): results
 * arrive as the controller folds them, with no polling, and so do the
 * running tasks' output lines when asked for. A broken stream is resumed
 * where it stopped (`Last-Event-ID`), through whichever controller
 * answers; a controller without the stream makes the caller poll instead.
 */
import type { JobView, NodeResult } from "../../models/job.ts";
import { LiveOutput, LiveResults, LiveStatus } from "../../models/live.ts";
import type { Context } from "../context.ts";
import type { SseEvent } from "../sse.ts";
import { followStream } from "./stream_follow.ts";

export interface LiveHooks {
  /** The job as known so far changed: results merged, status updated. */
  changed(job: JobView): void;
  /** Output of a running task; without this hook none is asked for. */
  output?(o: LiveOutput): void;
}

/**
 * Follows the job in `start` until its stream ends. Returns false when
 * the controller does not serve streams (nothing was read).
 */
export function followLive(
  ctx: Context,
  start: JobView,
  hooks: LiveHooks,
): Promise<boolean> {
  const job: JobView = structuredClone(start);
  const output = hooks.output !== undefined;
  return followStream(
    ctx,
    `the event stream of job ${start.id}`,
    (lastId) =>
      ctx.api.jobEvents(start.id, lastId, output ? {} : { output: false }),
    (ev) => {
      if (ev.type === "end") return true;
      if (ev.type === "output") {
        const o = parse(ev, LiveOutput);
        if (o) hooks.output?.(o);
      } else if (apply(job, ev)) hooks.changed(job);
      return false;
    },
  );
}

interface Schema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false };
}

/** An event's data checked against its schema; undefined when it does not fit. */
export function parse<T>(ev: SseEvent, schema: Schema<T>): T | undefined {
  let data: unknown;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return undefined;
  }
  const r = schema.safeParse(data);
  return r.success ? r.data : undefined;
}

/** Merges one event into `job`; true when something changed. */
function apply(job: JobView, ev: SseEvent): boolean {
  if (ev.type === "status") {
    const s = parse(ev, LiveStatus);
    if (!s) return false;
    Object.assign(job, s);
    return true;
  }
  if (ev.type === "result") {
    const r = parse(ev, LiveResults);
    if (!r) return false;
    for (const { step, node, ...result } of r.results) {
      const byNode = job.results[String(step)] ??= {};
      byNode[node] = result satisfies NodeResult;
    }
    return r.results.length > 0;
  }
  return false; // types added later
}
