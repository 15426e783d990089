/** Shapes the API returns, built from records and scheduler state. */
import { formatDuration } from "../models/duration.ts";
import type {
  JobRecord,
  JobSummary,
  JobView,
  NodeResult,
  StepCounts,
} from "../models/job.ts";
import type { NodeRecord, NodeView } from "../models/node.ts";
import { countSteps } from "./plan.ts";
import { lostFields } from "./results_stream.ts";
import type { Outcome } from "./job_state.ts";
import type { StoredResult } from "./logs.ts";
import { isOnline } from "./targets.ts";

type Results = ReadonlyMap<number, ReadonlyMap<string, Outcome>>;

export function nodeResult(
  o: Outcome,
  output = o.output,
  data = o.data,
): NodeResult {
  return {
    status: o.status,
    ...(output ? { output } : {}),
    ...(data !== undefined ? { data } : {}),
    ...(o.error ? { error: o.error } : {}),
    duration: formatDuration(o.durationMs),
    attempts: o.attempts,
    ...(o.startedAt ? { started_at: o.startedAt } : {}),
    ...(o.finishedAt ? { finished_at: o.finishedAt } : {}),
  };
}

function* ordered(results: Results): Generator<[number, [string, Outcome][]]> {
  for (const step of [...results.keys()].sort((a, b) => a - b)) {
    const nodes = results.get(step)!;
    yield [step, [...nodes.keys()].sort().map((n) => [n, nodes.get(n)!])];
  }
}

export function resultsView(results: Results): JobView["results"] {
  const out: JobView["results"] = {};
  for (const [step, nodes] of ordered(results)) {
    out[String(step)] = Object.fromEntries(
      nodes.map(([n, o]) => [n, nodeResult(o)]),
    );
  }
  return out;
}

/** True when some output was left out of memory and must be read back to serve the job. */
export function hasDroppedOutput(results: Results): boolean {
  for (const nodes of results.values()) {
    for (const o of nodes.values()) if (o.outputDropped) return true;
  }
  return false;
}

/**
 * The job view as JSON text, piece by piece. Outputs that were not kept in
 * memory are read back one at a time as they are written, so a job with
 * gigabytes of output is served in bounded memory.
 */
export async function* jobViewJson(
  rec: JobRecord,
  results: Results,
  load: (seq: number) => Promise<StoredResult>,
  lost?: string,
): AsyncGenerator<string> {
  const head = JSON.stringify(jobView(rec, {}, lost));
  // jobView puts `results` last, so the text ends with `"results":{}}`.
  yield head.slice(0, -2);
  let firstStep = true;
  for (const [step, nodes] of ordered(results)) {
    yield `${firstStep ? "" : ","}${JSON.stringify(String(step))}:{`;
    firstStep = false;
    let firstNode = true;
    for (const [node, o] of nodes) {
      const kept = o.outputDropped && o.seq !== undefined
        ? await load(o.seq)
        : o;
      yield `${firstNode ? "" : ","}${JSON.stringify(node)}:${
        JSON.stringify(nodeResult(o, kept.output, kept.data))
      }`;
      firstNode = false;
    }
    yield "}";
  }
  yield "}}";
}

/** `lost`: why the job's results are gone from the stream (results_stream.ts). */
export function jobView(
  rec: JobRecord,
  results: JobView["results"],
  lost?: string,
): JobView {
  const { res_seq: _, res_last: __, ...rest } = rec;
  // `results` must stay the last key: jobViewJson relies on it.
  return { ...rest, ...lostFields(lost), results };
}

export function jobSummary(rec: JobRecord, results: StepCounts): JobSummary {
  const { res_seq: _, res_last: __, ...rest } = rec;
  return { ...rest, steps: countSteps(rec.tasks), results };
}

export function nodeView(
  n: NodeRecord,
  now: number,
  offlineAfterMs: number,
): NodeView {
  const {
    cmd_seq: _,
    resume_seq: __,
    params_digest: ___,
    params: ____,
    backends,
    ...rest
  } = n;
  return {
    ...rest,
    backends: Object.keys(backends).sort(),
    actions: backends,
    status: isOnline(n, now, offlineAfterMs) ? "online" : "offline",
  };
}
