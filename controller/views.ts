/** Shapes the API returns, built from records and scheduler state. */
import { formatDuration } from "../models/duration.ts";
import type {
  JobRecord,
  JobSummary,
  JobView,
  NodeResult,
} from "../models/job.ts";
import type { NodeRecord, NodeView } from "../models/node.ts";
import { countSteps } from "./plan.ts";
import type { Outcome } from "./scheduler.ts";
import { isOnline } from "./targets.ts";

export function resultsView(
  results: ReadonlyMap<number, ReadonlyMap<string, Outcome>>,
): JobView["results"] {
  const out: JobView["results"] = {};
  for (const step of [...results.keys()].sort((a, b) => a - b)) {
    const byNode: Record<string, NodeResult> = {};
    const nodes = results.get(step)!;
    for (const node of [...nodes.keys()].sort()) {
      const o = nodes.get(node)!;
      byNode[node] = {
        status: o.status,
        ...(o.output ? { output: o.output } : {}),
        ...(o.error ? { error: o.error } : {}),
        duration: formatDuration(o.durationMs),
        attempts: o.attempts,
        ...(o.startedAt ? { started_at: o.startedAt } : {}),
        ...(o.finishedAt ? { finished_at: o.finishedAt } : {}),
      };
    }
    out[String(step)] = byNode;
  }
  return out;
}

export function jobView(rec: JobRecord, results: JobView["results"]): JobView {
  const { res_seq: _, ...rest } = rec;
  return { ...rest, results };
}

export function jobSummary(rec: JobRecord): JobSummary {
  const { res_seq: _, tasks, ...rest } = rec;
  return { ...rest, steps: countSteps(tasks) };
}

export function nodeView(
  n: NodeRecord,
  now: number,
  offlineAfterMs: number,
): NodeView {
  const { cmd_seq: _, ...rest } = n;
  return {
    ...rest,
    status: isOnline(n, now, offlineAfterMs) ? "online" : "offline",
  };
}
