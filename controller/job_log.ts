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
import { planJob } from "./plan.ts";
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
  };
}
