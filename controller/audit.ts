/**
 * The audit trail: every state change made through the API, and every
 * refused attempt at one, appended to the stream GRID_AUDIT (one subject
 * per action) and read back newest first, a page at a time.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { AuditEntry } from "../models/auth.ts";
import type { AuditPage } from "../models/auth.ts";
import { encodeJson } from "../lib/nats.ts";
import { readRange } from "../lib/ordered.ts";
import { STREAM_AUDIT, subjects } from "../lib/topology.ts";
import { type BadRecords, badRecords, readRecord } from "./bad_records.ts";

export interface AuditLog {
  /** Resolves once the entry is stored. */
  append(entry: AuditEntry): Promise<void>;
  /** At most `limit` entries older than sequence `before`, newest first. */
  page(limit: number, before?: number): Promise<AuditPage>;
}

export class NatsAuditLog implements AuditLog {
  constructor(
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly bad: BadRecords = badRecords,
  ) {}

  async append(entry: AuditEntry): Promise<void> {
    await this.js.publish(subjects.audit(entry.action), encodeJson(entry));
  }

  async page(limit: number, before?: number): Promise<AuditPage> {
    const { state } = await this.jsm.streams.info(STREAM_AUDIT);
    const to = Math.min(state.last_seq, (before ?? Infinity) - 1);
    // Sequences are contiguous apart from what aged out at the front, so
    // the page is the last `limit` sequences up to `to`.
    const from = Math.max(state.first_seq, to - limit + 1);
    const entries: AuditEntry[] = [];
    if (to >= from && state.messages > 0) {
      await readRange(this.js, STREAM_AUDIT, { from, to }, (m) => {
        const e = readRecord(() => m.json(), AuditEntry);
        if (e.ok) entries.push({ ...e.value, seq: m.seq });
        else this.bad.report("audit", m.subject, m.seq, e.why);
      });
    }
    entries.reverse();
    return {
      entries,
      ...(from > state.first_seq && to >= from ? { next: from } : {}),
    };
  }
}

/** The audit trail in memory, for unit tests. */
export class MemoryAuditLog implements AuditLog {
  readonly entries: AuditEntry[] = [];
  failing = false;

  append(entry: AuditEntry): Promise<void> {
    if (this.failing) return Promise.reject(new Error("no stream answered"));
    this.entries.push({ ...entry, seq: this.entries.length + 1 });
    return Promise.resolve();
  }

  page(limit: number, before?: number): Promise<AuditPage> {
    const older = this.entries.filter((e) =>
      before === undefined || e.seq! < before
    );
    const entries = older.slice(-limit).reverse();
    const more = older.length > limit;
    return Promise.resolve({
      entries,
      ...(more ? { next: entries.at(-1)!.seq! } : {}),
    });
  }
}
