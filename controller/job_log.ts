/**
 * Reads a job's event log back from the results stream. The same fold the
 * runner uses turns it into results, so what the API shows is exactly what
 * the scheduler decided.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { JobRecord } from "../models/job.ts";
import type { JobEvent } from "../models/messages.ts";
import { STREAM_RESULTS, subjects } from "../lib/topology.ts";
import { readRange } from "../lib/ordered.ts";
import { countSteps, initFor } from "./plan.ts";
import { applyEvent, startJob } from "./scheduler.ts";
import type { JobState } from "./job_state.ts";
import { type EventLog, readEvent, type StoredResult } from "./logs.ts";
import { factsOf, misplaced, ResultsStream } from "./results_stream.ts";

/**
 * Calls `fn` for each event of the job, in log order, up to at least
 * `untilSeq` (the last event the runner applied, when known) and whatever
 * was pending when the read began.
 */
export async function readJobEvents(
  js: JetStreamClient,
  rec: JobRecord,
  fn: (ev: JobEvent, seq: number) => void,
  untilSeq = 0,
): Promise<void> {
  if (await readFinishedRange(js, rec, fn)) return;
  let last = rec.res_seq ?? 0;
  // A reader that goes quiet before `untilSeq` (placed on a lost peer) is replaced.
  for (
    let readers = 0;
    readers < 3 && (readers === 0 || last < untilSeq);
    readers++
  ) {
    last = await readRange(js, STREAM_RESULTS, {
      filter: subjects.jobEvents(rec.id),
      from: last + 1,
      to: untilSeq,
      drain: true,
    }, (m) => {
      const ev = readEvent(m);
      if (ev) fn(ev, m.seq);
    });
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
  if (own <= FEW_EVENTS && await readFewDirect(js, rec, from, end, fn)) {
    return true;
  }
  if (end - from + 1 > 4 * own + 2000) return false;
  const prefix = subjects.jobEvents(rec.id).slice(0, -1); // "grid.res.<id>."
  // Short of `end` when the rest aged out of the stream: what is left is shown.
  await readRange(js, STREAM_RESULTS, { from, to: end }, (m) => {
    if (!m.subject.startsWith(prefix)) return;
    const ev = readEvent(m);
    if (ev) fn(ev, m.seq);
  });
  return true;
}

/** Jobs with at most this many events are read by direct gets. */
const FEW_EVENTS = 24;

/**
 * A small finished job's events, one direct get each (the next message on
 * the job's subjects from a sequence): a few round trips, where opening a
 * consumer costs several and then delivers every other job's events stored
 * in between (with many jobs running at once, hundreds). Nothing is passed
 * on unless the walk reaches `end`, the job's last event: a gap (aged out,
 * or a replica still catching up answered) leaves it to the consumer read.
 */
async function readFewDirect(
  js: JetStreamClient,
  rec: JobRecord,
  from: number,
  end: number,
  fn: (ev: JobEvent, seq: number) => void,
): Promise<boolean> {
  const jsm = await js.jetstreamManager(false);
  const filter = subjects.jobEvents(rec.id);
  const got: [JobEvent, number][] = [];
  for (let seq = from; seq <= end;) {
    if (got.length > FEW_EVENTS) return false;
    const m = await jsm.direct.getMessage(STREAM_RESULTS, {
      seq,
      next_by_subj: filter,
    }).catch(() => null);
    if (!m || m.seq > end) return false;
    const ev = readEvent(m);
    if (ev) got.push([ev, m.seq]);
    seq = m.seq + 1;
  }
  for (const [ev, seq] of got) fn(ev, seq);
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

/**
 * Jobs as the API shows them: folded from the log up to what the runner
 * has applied (when the job runs here), with outputs past `outputBudget`
 * bytes left in the stream to be read one by one while the answer is sent.
 */
export class JobHistory {
  constructor(
    readonly js: JetStreamClient,
    readonly events: Pick<EventLog, "output" | "stored">,
    readonly appliedSeq: (id: string) => number | undefined,
    readonly outputBudget = 64 << 20,
    /** Whether a job's results can still be there. */
    readonly stream = new ResultsStream(async () =>
      factsOf(await (await js.jetstreamManager()).streams.info(STREAM_RESULTS))
    ),
  ) {}

  async results(rec: JobRecord): Promise<JobState> {
    const untilSeq = this.appliedSeq(rec.id) ?? rec.res_last ?? 0;
    return foldJob(
      this.js,
      await this.#placed(rec),
      true,
      this.outputBudget,
      untilSeq,
    );
  }

  /**
   * A job that started on a recreated stream while its controller still
   * read the old one has a range past the stream's end: its events are
   * all in the current stream, so they are read from its start.
   */
  async #placed(rec: JobRecord): Promise<JobRecord> {
    if (rec.res_seq === undefined) return rec;
    const s = await this.stream.facts().catch(() => undefined);
    if (!s || !misplaced(rec, s)) return rec;
    const { res_last: _, ...rest } = rec;
    return { ...rest, res_seq: s.first_seq - 1 };
  }

  output(seq: number): Promise<string> {
    return this.events.output(seq);
  }

  async stored(seq: number): Promise<StoredResult> {
    return this.events.stored
      ? await this.events.stored(seq)
      : { output: await this.events.output(seq) };
  }
}
