/**
 * Every controller's view of the job records (KV `grid_jobs`), kept current
 * by a watch, with compare-and-set writes. Several controllers share the
 * bucket; the revision a write was based on decides who wins.
 */
import type { Bucket, BucketEntry } from "../lib/bucket.ts";
import { JobRecord } from "../models/job.ts";
import { encodeJson } from "../lib/nats.ts";
import { type BadRecords, badRecords, readRecord } from "./bad_records.ts";

export interface Stored {
  rec: JobRecord;
  rev: number;
}

/** A write lost a compare-and-set race: someone else changed the record. */
export class StaleRecordError extends Error {
  constructor(readonly id: string) {
    super(`job "${id}" was changed by another controller`);
    this.name = "StaleRecordError";
  }
}

export class JobStore {
  #kv: Bucket;
  #items = new Map<string, Stored>();
  /** Ids in creation order (ids sort by creation time). */
  #order: string[] = [];
  #listeners: ((s: Stored) => void)[] = [];
  #counts = new Map<string, number>();
  /** Pending ids: few (at most max_pending), so the oldest is found by a scan. */
  #pending = new Set<string>();
  #stop?: () => void;
  /** Records this controller is writing, as sent. */
  #writing = new Map<string, { bytes: Uint8Array; rec: JobRecord }>();

  #bad: BadRecords;

  constructor(kv: Bucket, bad: BadRecords = badRecords) {
    this.#kv = kv;
    this.#bad = bad;
  }

  /** Reads every record, then follows changes. */
  async start(): Promise<void> {
    const f = await this.#kv.follow((e) => {
      if (e.operation !== "PUT") return;
      // Our own writes come back here, often before the write's ack:
      // what we wrote needs no parsing or validating.
      if ((this.#items.get(e.key)?.rev ?? 0) >= e.revision) return;
      const mine = this.#writing.get(e.key);
      if (mine && sameBytes(mine.bytes, e.value)) {
        this.#apply(e.key, { ...mine.rec }, e.revision);
        return;
      }
      this.#read(e);
    });
    this.#stop = () => f.stop();
  }

  stop(): void {
    this.#stop?.();
  }

  /** Called after every change, from this controller or another. */
  onChange(fn: (s: Stored) => void): void {
    this.#listeners.push(fn);
  }

  get(id: string): Stored | undefined {
    return this.#items.get(id);
  }

  values(): IterableIterator<Stored> {
    return this.#items.values();
  }

  /** Newest first. */
  *newestFirst(): Generator<Stored> {
    for (let i = this.#order.length - 1; i >= 0; i--) {
      yield this.#items.get(this.#order[i]!)!;
    }
  }

  /** Oldest first. */
  *oldestFirst(): Generator<Stored> {
    for (const id of this.#order) yield this.#items.get(id)!;
  }

  count(status: string): number {
    return this.#counts.get(status) ?? 0;
  }

  counts(): Record<string, number> {
    return Object.fromEntries([...this.#counts].filter(([, n]) => n > 0));
  }

  /** Pending ids, oldest first, as they are now. */
  pendingIds(): string[] {
    return [...this.#pending].sort();
  }

  /** Ids starting with `prefix`, oldest first, at most `max` (ids sort, so a range). */
  idsWithPrefix(prefix: string, max: number): string[] {
    const o = this.#order;
    let lo = 0;
    let hi = o.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (o[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = lo; i < o.length && out.length < max; i++) {
      if (!o[i]!.startsWith(prefix)) break;
      out.push(o[i]!);
    }
    return out;
  }

  /** Newest first, `before` an id (exclusive), optionally one status. */
  list(opts: { limit: number; before?: string; status?: string }): {
    jobs: JobRecord[];
    next?: string;
  } {
    const out: JobRecord[] = [];
    for (const { rec } of this.newestFirst()) {
      if (opts.before !== undefined && rec.id >= opts.before) continue;
      if (opts.status && rec.status !== opts.status) continue;
      if (out.length === opts.limit) return { jobs: out, next: out.at(-1)!.id };
      out.push(rec);
    }
    return { jobs: out };
  }

  /** Running jobs per owning controller. */
  owners(): Map<string, number> {
    const m = new Map<string, number>();
    for (const { rec } of this.#items.values()) {
      if (rec.status === "running" && rec.owner) {
        m.set(rec.owner, (m.get(rec.owner) ?? 0) + 1);
      }
    }
    return m;
  }

  async create(rec: JobRecord): Promise<Stored> {
    const bytes = encodeJson(rec);
    this.#writing.set(rec.id, { bytes, rec });
    try {
      const rev = await this.#kv.create(rec.id, bytes);
      return this.#apply(rec.id, { ...rec }, rev);
    } finally {
      if (this.#writing.get(rec.id)?.bytes === bytes) {
        this.#writing.delete(rec.id);
      }
    }
  }

  /** Writes `rec` if the stored revision is still `rev`; else StaleRecordError. */
  async update(rec: JobRecord, rev: number): Promise<Stored> {
    let next: number;
    const bytes = encodeJson(rec);
    this.#writing.set(rec.id, { bytes, rec });
    try {
      next = await this.#kv.update(rec.id, bytes, rev);
    } catch (e) {
      // Refresh our copy so the caller decides on what is really stored.
      const cur = await this.#kv.get(rec.id).catch(() => null);
      if (cur?.operation === "PUT") this.#read(cur);
      if (String(e).includes("wrong last sequence") || cur?.revision !== rev) {
        throw new StaleRecordError(rec.id);
      }
      throw e;
    } finally {
      if (this.#writing.get(rec.id)?.bytes === bytes) {
        this.#writing.delete(rec.id);
      }
    }
    return this.#apply(rec.id, { ...rec }, next);
  }

  /**
   * Applies a record read back from the bucket. One that is not a job
   * record, or is filed under another job's id, is skipped: the job keeps
   * the record it had (none, if it had none).
   */
  #read(e: BucketEntry): void {
    const r = readRecord(() => e.json(), JobRecord);
    if (r.ok && r.value.id === e.key) {
      this.#apply(e.key, r.value, e.revision);
      return;
    }
    const why = r.ok ? `its id is "${r.value.id}"` : r.why;
    this.#bad.report("jobs", e.key, e.revision, why);
  }

  #apply(id: string, rec: JobRecord, rev: number): Stored {
    const have = this.#items.get(id);
    if (have && have.rev >= rev) return have;
    const s = { rec, rev };
    if (!have) this.#insertOrdered(id);
    else {this.#counts.set(
        have.rec.status,
        this.#counts.get(have.rec.status)! - 1,
      );}
    this.#counts.set(s.rec.status, (this.#counts.get(s.rec.status) ?? 0) + 1);
    if (s.rec.status === "pending") this.#pending.add(id);
    else this.#pending.delete(id);
    this.#items.set(id, s);
    for (const fn of this.#listeners) fn(s);
    return s;
  }

  #insertOrdered(id: string): void {
    const o = this.#order;
    if (o.length === 0 || o[o.length - 1]! < id) {
      o.push(id);
      return;
    }
    let lo = 0;
    let hi = o.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (o[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    o.splice(lo, 0, id);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
