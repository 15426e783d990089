/**
 * One job's event log, followed live from a sequence on: what a live view
 * (`GET /job/:id/events`) reads. The log is in the shared results stream,
 * so any controller can follow any job.
 */
import {
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
} from "@nats-io/jetstream";
import { JobEvent } from "../models/messages.ts";
import type { Cancel } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { openOrdered, QUICK_RECOVERY } from "../lib/ordered.ts";
import { STREAM_RESULTS, subjects } from "../lib/topology.ts";
import type { EventLog } from "./logs.ts";

const log = logger("api");

export interface JobLogFollower {
  /**
   * Calls `fn` for each readable event of `job` after sequence `after`, in
   * order, as they come, until cancelled. A reader that fails starts again
   * where it stopped.
   */
  follow(
    job: string,
    after: number,
    fn: (ev: JobEvent, seq: number) => void,
  ): Cancel;
}

function eventOf(m: JsMsg): JobEvent | undefined {
  try {
    const ev = JobEvent.safeParse(m.json());
    return ev.success ? ev.data : undefined;
  } catch {
    return undefined;
  }
}

/** Follows a job's subjects in GRID_RES with an ordered consumer. */
export class NatsJobFollower implements JobLogFollower {
  constructor(readonly js: JetStreamClient, readonly retryMs = 500) {}

  follow(
    job: string,
    after: number,
    fn: (ev: JobEvent, seq: number) => void,
  ): Cancel {
    let seen = after;
    let stopped = false;
    let stopReader = () => {};
    let retry: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      const c = await openOrdered(this.js, STREAM_RESULTS, {
        filter_subjects: subjects.jobEvents(job),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: seen + 1,
      });
      const msgs = await c.consume(QUICK_RECOVERY);
      stopReader = () => msgs.stop();
      if (stopped) msgs.stop();
      for await (const m of msgs) {
        if (m.seq <= seen) continue;
        seen = m.seq;
        const ev = eventOf(m);
        if (ev) fn(ev, m.seq);
      }
    };
    const loop = () => {
      read()
        .catch((e) => {
          if (!stopped) {
            log.warn("following a job stopped", { job, error: String(e) });
          }
        })
        .finally(() => {
          if (!stopped) retry = setTimeout(loop, this.retryMs);
        });
    };
    loop();
    return () => {
      stopped = true;
      clearTimeout(retry);
      stopReader();
    };
  }
}

/** The same over the runner's event log seam (unit tests' memory log). */
export class EventLogFollower implements JobLogFollower {
  constructor(readonly events: Pick<EventLog, "follow">) {}

  follow(
    job: string,
    after: number,
    fn: (ev: JobEvent, seq: number) => void,
  ): Cancel {
    return this.events.follow(after, (e) => {
      if (e.job === job && e.event) fn(e.event, e.seq);
    });
  }
}
