/**
 * Reads a job's event log back from the results stream. The same fold the
 * runner uses turns it into results, so what the API shows is exactly what
 * the scheduler decided.
 */
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import type { JobRecord } from "../models/job.ts";
import { parseDuration } from "../models/duration.ts";
import { JobEvent } from "../models/messages.ts";
import { STREAM_RESULTS, subjects } from "../lib/topology.ts";
import { openOrdered } from "../lib/ordered.ts";
import { countSteps, planJob } from "./plan.ts";
import { applyEvent, type JobState, startJob } from "./scheduler.ts";

/**
 * Calls `fn` for each event of the job, in log order, up to at least
 * `untilSeq` (the last event the runner applied, when known). The server's
 * pending count for a brand-new filtered consumer can lag a message that was
 * just stored, so a known last sequence is the stopping rule, not the count.
 */
export async function readJobEvents(
  js: JetStreamClient,
  rec: JobRecord,
  fn: (ev: JobEvent, seq: number) => void,
  untilSeq = 0,
): Promise<void> {
  if (await readFinishedRange(js, rec, fn)) return;
  let last = rec.res_seq ?? 0;
  // A consumer that goes quiet before `untilSeq` (placed on a lost peer) is replaced.
  for (let consumers = 0; consumers < 3; consumers++) {
    const c = await openOrdered(js, STREAM_RESULTS, {
      filter_subjects: subjects.jobEvents(rec.id),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: last + 1,
    });
    let pending = (await c.info(true)).num_pending;
    while (pending > 0 || last < untilSeq) {
      const batch = await c.fetch({
        max_messages: Math.max(1, Math.min(pending, 500)),
        expires: 3000,
      });
      let got = 0;
      for await (const m of batch) {
        got++;
        last = m.seq;
        pending = m.info.pending;
        const ev = JobEvent.safeParse(m.json());
        if (ev.success) fn(ev.data, m.seq);
      }
      if (got === 0) break;
    }
    if (last >= untilSeq) return;
  }
}

/**
 * A finished job's events all lie in [res_seq + 1, res_last]. Reading that
 * range unfiltered costs the server O(1) to set up, where a filtered
 * consumer makes it scan every subject stored after the start, O(history):
 * 13-24 ms per GET /job/:id with 43k results stored, and growing. Worth it
 * unless other jobs' events crowd the range; false means "read filtered".
 */
async function readFinishedRange(
  js: JetStreamClient,
  rec: JobRecord,
  fn: (ev: JobEvent, seq: number) => void,
): Promise<boolean> {
  const end = rec.res_last;
  const from = (rec.res_seq ?? 0) + 1;
  if (end === undefined || end < from) return false;
  const own = rec.expected.length * countSteps(rec.tasks) + 4;
  if (end - from + 1 > 4 * own + 2000) return false;
  const c = await openOrdered(js, STREAM_RESULTS, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: from,
  });
  const prefix = subjects.jobEvents(rec.id).slice(0, -1); // "grid.res.<id>."
  let last = from - 1;
  while (last < end) {
    const batch = await c.fetch({
      max_messages: Math.min(end - last, 500),
      expires: 3000,
    });
    let got = 0;
    for await (const m of batch) {
      got++;
      last = m.seq;
      if (m.seq > end || !m.subject.startsWith(prefix)) continue;
      const ev = JobEvent.safeParse(m.json());
      if (ev.success) fn(ev.data, m.seq);
    }
    if (got === 0) break; // the rest aged out of the stream
  }
  return true;
}

/** Rebuilds a job's scheduler state from its record and log. */
export async function foldJob(
  js: JetStreamClient,
  rec: JobRecord,
  keepOutput: boolean,
  outputBudget = Infinity,
  untilSeq = 0,
): Promise<JobState> {
  const { state } = startJob({ ...initFor(rec, keepOutput), outputBudget });
  if (rec.status === "pending") return state;
  await readJobEvents(
    js,
    rec,
    (ev, seq) => applyEvent(state, ev, seq),
    untilSeq,
  );
  return state;
}

export function initFor(rec: JobRecord, keepOutput: boolean) {
  return {
    id: rec.id,
    strategy: rec.strategy,
    timeoutMs: rec.timeout ? parseDuration(rec.timeout) : undefined,
    phases: planJob(rec.tasks),
    nodes: rec.expected,
    keepOutput,
    // The runner (keepOutput false) decides from progress alone and would
    // otherwise hold every outcome of a running job: nodes × steps objects.
    keepResults: keepOutput,
  };
}
