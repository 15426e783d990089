/**
 * Every controller's view of the job records (KV `grid_jobs`), kept current
 * by a follower, with compare-and-set writes. Several controllers share the
 * bucket; the revision a write was based on decides who wins.
 *
 * Memory stays bounded however many jobs are stored: the records of
 * pending and running jobs are kept (the scheduler works on them), finished
 * ones in a cache of the most recently used, and every job as an entry of
 * the index (job_index.ts: status, time, revision). A finished record that
 * is not cached is read from the bucket when asked for. At start the
 * bucket is followed from the newest checkpoint of the index
 * (job_checkpoint.ts), or from its start when there is none.
 */
import type { Bucket, BucketEntry } from "../lib/bucket.ts";
import { JobRecord, TERMINAL } from "../models/job.ts";
import { encodeJson } from "../lib/nats.ts";
import { logger } from "../lib/log.ts";
import { type BadRecords, badRecords, readRecord } from "./bad_records.ts";
import type { Checkpoint, Checkpoints } from "./job_checkpoint.ts";
import { JobIndex } from "./job_index.ts";
import {
  listPage,
  type Page,
  type PageOptions,
  readOldestFirst,
} from "./job_pages.ts";
import { mapLimited, RecordCache } from "./record_cache.ts";

const log = logger("history");

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

export interface JobStoreOptions {
  checkpoints?: Checkpoints;
  /** Finished records kept in memory: at most this many… */
  cacheJobs?: number;
  /** …and this many bytes of their JSON. */
  cacheBytes?: number;
  /** The time this controller's own writes are stamped with (ms). */
  now?: () => number;
}

/** Records read from the bucket at once (the active jobs at start). */
const PARALLEL = 32;
/** What a NATS KV key can be. */
const KEY = /^[-/=\w]+(\.[-/=\w]+)*$/;
/** Malformed records remembered for the checkpoint, so a restart still counts them. */
const BAD_KEPT = 1000;

export class JobStore {
  #kv: Bucket;
  #index = new JobIndex();
  /** Pending and running jobs' records. */
  #active = new Map<string, Stored>();
  #cache: RecordCache;
  #listeners: ((s: Stored) => void)[] = [];
  #stop?: () => void;
  /** Records this controller is writing, as sent. */
  #writing = new Map<string, { bytes: Uint8Array; rec: JobRecord }>();
  #bad: BadRecords;
  #badSeen = new Map<string, [string, number, string]>();
  /** Every entry of the bucket up to this revision has been applied. */
  #applied = 0;
  #opts: JobStoreOptions;

  constructor(
    kv: Bucket,
    bad: BadRecords = badRecords,
    opts: JobStoreOptions = {},
  ) {
    this.#kv = kv;
    this.#bad = bad;
    this.#opts = opts;
    this.#cache = new RecordCache(
      opts.cacheJobs ?? 2000,
      opts.cacheBytes ?? 8 << 20,
    );
  }

  /** Reads the index and the active jobs' records, then follows changes. */
  async start(): Promise<void> {
    const t0 = performance.now();
    const from = await this.#fromCheckpoint();
    const f = await this.#kv.followFrom(from, (e) => this.#follow(e));
    this.#stop = () => f.stop();
    const loaded = await this.#loadActive().catch((e) => {
      this.stop(); // so that a retried start follows once
      throw e;
    });
    if (this.#index.size === 0) return;
    log.info("job records read", {
      jobs: this.#index.size,
      from_checkpoint: from > 0 ? `revision ${from}` : "none",
      active_read: loaded,
      ms: Math.round(performance.now() - t0),
    });
  }

  stop(): void {
    this.#stop?.();
  }

  /** Called after every change, from this controller or another. */
  onChange(fn: (s: Stored) => void): void {
    this.#listeners.push(fn);
  }

  /** A record held in memory: every active job's, and cached finished ones. */
  get(id: string): Stored | undefined {
    return this.#active.get(id) ?? this.#cache.get(id);
  }

  /** A job's record, read from the bucket when it is not in memory. */
  async load(id: string): Promise<Stored | undefined> {
    const have = this.get(id);
    if (have) return have;
    // No job is stored under what cannot be a key (NATS refuses to look).
    if (!KEY.test(id)) return undefined;
    const e = await this.#kv.get(id);
    const idx = this.#index.get(id);
    if (e?.operation !== "PUT") {
      // Deleted or erased since the index heard of it.
      if (idx && idx.rev < (e?.revision ?? Infinity)) this.#index.forget(id);
      return undefined;
    }
    const r = readRecord(() => e.json(), JobRecord);
    if (!r.ok || r.value.id !== id) {
      this.#badRecord(
        id,
        e.revision,
        r.ok ? `its id is "${r.value.id}"` : r.why,
      );
      return undefined;
    }
    const s = { rec: r.value, rev: e.revision };
    // A newer write than the index has seen (its follower is behind) is
    // answered but not kept: the follower brings it.
    if (TERMINAL.has(s.rec.status) && idx?.rev === s.rev) {
      this.#cache.set(id, s, e.value.length);
    }
    return s;
  }

  /** The records in memory (active and cached), not every stored one. */
  values(): IterableIterator<Stored> {
    return [...this.#active.values(), ...this.#cache.values()].values();
  }

  /** Pending and running jobs. */
  active(): IterableIterator<Stored> {
    return this.#active.values();
  }

  /** Every stored job, oldest first, read as it goes. */
  oldestFirst(): AsyncGenerator<Stored> {
    return readOldestFirst(this.#index, (id) => this.load(id));
  }

  count(status: string): number {
    return this.#index.count(status);
  }

  counts(): Record<string, number> {
    return this.#index.counts();
  }

  /** Pending ids, oldest first, as they are now. */
  pendingIds(): string[] {
    const out: string[] = [];
    for (const [id, s] of this.#active) {
      if (s.rec.status === "pending") out.push(id);
    }
    return out.sort();
  }

  /** Ids starting with `prefix`, oldest first, at most `max` (ids sort, so a range). */
  idsWithPrefix(prefix: string, max: number): string[] {
    return this.#index.withPrefix(prefix, max);
  }

  /**
   * Newest first, `before` an id (exclusive), optionally one status. The
   * index picks the page; records not in memory are read for it.
   */
  list(opts: PageOptions): Promise<Page> {
    return listPage(this.#index, (id) => this.load(id), opts);
  }

  /** Running jobs per owning controller. */
  owners(): Map<string, number> {
    const m = new Map<string, number>();
    for (const { rec } of this.#active.values()) {
      if (rec.status === "running" && rec.owner) {
        m.set(rec.owner, (m.get(rec.owner) ?? 0) + 1);
      }
    }
    return m;
  }

  /** What retention works from: the index, read only. */
  get index(): Pick<JobIndex, "expired" | "markers" | "size"> {
    return this.#index;
  }

  /** Every entry up to this revision has been applied. */
  get applied(): number {
    return this.#applied;
  }

  async create(rec: JobRecord): Promise<Stored> {
    const bytes = encodeJson(rec);
    this.#writing.set(rec.id, { bytes, rec });
    try {
      const rev = await this.#kv.create(rec.id, bytes);
      return this.#apply(rec.id, { ...rec }, rev, bytes.length);
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
    return this.#apply(rec.id, { ...rec }, next, bytes.length);
  }

  /**
   * Deletes a job's record if it is still at `rev` (else fails: "wrong
   * last sequence"). Its marker stays in the bucket, so every follower
   * hears of it, until `erase` takes it out.
   */
  async remove(id: string, rev: number): Promise<void> {
    await this.#kv.remove(id, rev);
  }

  /** Takes a deleted job's marker out of the bucket. */
  async erase(id: string): Promise<void> {
    await this.#kv.erase(id, this.#index.markers.get(id)?.rev);
    this.#index.markers.delete(id);
  }

  /** The index as it stands, for a checkpoint; `created` is the bucket's. */
  checkpoint(created: number): Checkpoint {
    return {
      created,
      rev: this.#applied,
      jobs: [...this.#index.oldestFirst()],
      markers: [...this.#index.markers],
      bad: [...this.#badSeen.values()],
    };
  }

  async #fromCheckpoint(): Promise<number> {
    const cp = await this.#opts.checkpoints?.usable(() => this.#kv.info());
    if (!cp) return 0;
    for (const [id, e] of cp.jobs) this.#index.set(id, e);
    for (const [id, m] of cp.markers) this.#index.markers.set(id, m);
    for (const [key, rev, why] of cp.bad) this.#badRecord(key, rev, why);
    this.#applied = cp.rev;
    return cp.rev;
  }

  /** Reads the records of active jobs the checkpoint named and the bucket has not changed since. */
  async #loadActive(): Promise<number> {
    const missing: string[] = [];
    for (const [id, e] of this.#index.oldestFirst()) {
      if (!TERMINAL.has(e.status) && !this.#active.has(id)) missing.push(id);
    }
    await mapLimited(missing, PARALLEL, async (id) => {
      const e = await this.#kv.get(id);
      if (e?.operation === "PUT") this.#read(e);
      else this.#index.forget(id);
    });
    return missing.length;
  }

  #follow(e: BucketEntry): void {
    if (e.revision > this.#applied) this.#applied = e.revision;
    if (e.operation !== "PUT") {
      if (this.#index.remove(e.key, e.revision, e.time ?? this.#now())) {
        this.#active.delete(e.key);
        this.#cache.delete(e.key);
      }
      return;
    }
    if ((this.#index.get(e.key)?.rev ?? 0) >= e.revision) return;
    // Our own writes come back here, often before the write's ack:
    // what we wrote needs no parsing or validating.
    const mine = this.#writing.get(e.key);
    if (mine && sameBytes(mine.bytes, e.value)) {
      this.#apply(e.key, { ...mine.rec }, e.revision, e.value.length, e.time);
      return;
    }
    this.#read(e);
  }

  /**
   * Applies a record read back from the bucket. One that is not a job
   * record, or is filed under another job's id, is skipped: the job keeps
   * the record it had (none, if it had none).
   */
  #read(e: BucketEntry): void {
    const r = readRecord(() => e.json(), JobRecord);
    if (r.ok && r.value.id === e.key) {
      this.#apply(e.key, r.value, e.revision, e.value.length, e.time);
      return;
    }
    this.#badRecord(
      e.key,
      e.revision,
      r.ok ? `its id is "${r.value.id}"` : r.why,
    );
  }

  #badRecord(key: string, rev: number, why: string): void {
    this.#bad.report("jobs", key, rev, why);
    this.#badSeen.set(`${rev} ${key}`, [key, rev, why]);
    if (this.#badSeen.size > BAD_KEPT) {
      this.#badSeen.delete(this.#badSeen.keys().next().value!);
    }
  }

  #apply(
    id: string,
    rec: JobRecord,
    rev: number,
    bytes: number,
    time?: number,
  ): Stored {
    const idx = this.#index.get(id);
    const held = this.#active.get(id) ?? this.#cache.peek(id);
    // The same revision again is taken only to hold a record the index
    // named without it (an active job read after a checkpoint).
    if (idx && (idx.rev > rev || (idx.rev === rev && held))) {
      return held ?? { rec, rev };
    }
    const s = { rec, rev };
    this.#index.set(id, {
      status: rec.status,
      at: time ?? this.#now(),
      rev,
      epoch: rec.epoch ?? 0,
    });
    if (TERMINAL.has(rec.status)) {
      this.#active.delete(id);
      this.#cache.set(id, s, bytes);
    } else {
      this.#cache.delete(id);
      this.#active.set(id, s);
    }
    for (const fn of this.#listeners) fn(s);
    return s;
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
