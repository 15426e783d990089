/**
 * The runner's logs on JetStream: events in GRID_RES, commands in GRID_CMD.
 */
import type {
  JetStreamClient,
  JetStreamManager,
  JsMsg,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { JobEvent } from "../models/messages.ts";
import { logger } from "../lib/log.ts";
import { AckedPublisher } from "../lib/acked.ts";
import { encodeJson } from "../lib/nats.ts";
import { readRange, StreamFollower, watchStall } from "../lib/ordered.ts";
import { STREAM_RESULTS, subjects } from "../lib/topology.ts";
import {
  type CommandLog,
  type EventLog,
  type LogEntry,
  readEvent,
  type Sent,
  type StoredResult,
} from "./logs.ts";
import { type BadRecords, badRecords } from "./bad_records.ts";

const log = logger("runner");

/** An entry as read; bytes that are not an event are kept as "unreadable". */
export function entryOf(m: JsMsg, bad: BadRecords = badRecords): LogEntry {
  const job = m.subject.split(".")[2] ?? "";
  const event = readEvent(m, bad);
  return event ? { seq: m.seq, job, event } : { seq: m.seq, job };
}

export class NatsEventLog implements EventLog {
  constructor(
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly bad: BadRecords = badRecords,
  ) {}

  async last(): Promise<number> {
    return (await this.jsm.streams.info(STREAM_RESULTS)).state.last_seq;
  }

  follow(after: number, fn: (e: LogEntry) => void): () => void {
    const reader = new StreamFollower(
      this.js,
      STREAM_RESULTS,
      subjects.allResults,
      after,
      (m) => fn(entryOf(m, this.bad)),
      (e) => log.warn("reading results stopped", { error: String(e) }),
    );
    let created: string | undefined;
    this.jsm.streams.info(STREAM_RESULTS).then((i) => created ??= i.created)
      .catch(() => {});
    // A reader can go quiet without failing (see watchStall): read again.
    const stopWatchdog = watchStall(
      async () => {
        const info = await this.jsm.streams.info(STREAM_RESULTS);
        // Deleted and created again: its sequences start over, and a reader
        // waiting past the old end would hear nothing of new jobs for ever.
        if (created !== undefined && info.created !== created) {
          log.warn(
            "the results stream was recreated; reading it from its start",
            {
              at: reader.seen,
              created: info.created,
            },
          );
          reader.seen = info.state.first_seq - 1;
          reader.restart();
        }
        created = info.created;
        return info.state.last_seq;
      },
      () => reader.seen,
      (at, last) => {
        log.warn("reading results stalled; reading again", {
          at,
          stream: last,
        });
        reader.restart();
      },
    );
    return () => {
      stopWatchdog();
      reader.stop();
    };
  }

  read(
    from: number,
    to: number,
    fn: (e: LogEntry) => void,
  ): Promise<number> {
    // A reader that goes quiet before `to` (placed on a lost or lagging peer)
    // ends the read short; the caller retries.
    return readRange(this.js, STREAM_RESULTS, {
      filter: subjects.allResults,
      from,
      to,
      quietMs: 5000,
    }, (m) => fn(entryOf(m, this.bad)));
  }

  async append(ev: JobEvent): Promise<void> {
    const subject = ev.type === "result"
      ? subjects.result(ev.job, ev.step, ev.node)
      : subjects.control(ev.job);
    await this.js.publish(subject, encodeJson(ev));
  }

  async output(seq: number): Promise<string> {
    return (await this.stored(seq)).output;
  }

  async stored(seq: number): Promise<StoredResult> {
    const m = await this.jsm.streams.getMessage(STREAM_RESULTS, { seq });
    if (!m) return { output: "" };
    const ev = readEvent(m, this.bad);
    if (ev?.type !== "result") return { output: "" };
    return ev.data === undefined
      ? { output: ev.output }
      : { output: ev.output, data: ev.data };
  }
}

/** Commands, acknowledged on one inbox rather than one request each. */
export class NatsCommandLog implements CommandLog {
  #pub: AckedPublisher;

  constructor(nc: NatsConnection) {
    this.#pub = new AckedPublisher(nc);
  }

  send(
    node: string,
    body: Uint8Array,
    msgId: string | undefined,
    done: Sent,
  ): void {
    this.#pub.publish(subjects.command(node), body, msgId, done);
  }

  stop(): void {
    this.#pub.stop();
  }
}
