/**
 * One job's event log, followed live from a sequence on: what a live view
 * (`GET /job/:id/events`) reads. The log is in the shared results stream,
 * so any controller can follow any job.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { JobEvent } from "../models/messages.ts";
import type { Cancel } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { StreamFollower } from "../lib/ordered.ts";
import { STREAM_RESULTS, subjects } from "../lib/topology.ts";
import { type EventLog, readEvent } from "./logs.ts";

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

/** Follows a job's subjects in GRID_RES with an ordered consumer. */
export class NatsJobFollower implements JobLogFollower {
  constructor(readonly js: JetStreamClient, readonly retryMs = 500) {}

  follow(
    job: string,
    after: number,
    fn: (ev: JobEvent, seq: number) => void,
  ): Cancel {
    const reader = new StreamFollower(
      this.js,
      STREAM_RESULTS,
      subjects.jobEvents(job),
      after,
      (m) => {
        const ev = readEvent(m);
        if (ev) fn(ev, m.seq);
      },
      (e) => log.warn("following a job stopped", { job, error: String(e) }),
      this.retryMs,
    );
    return () => reader.stop();
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
