/**
 * What a controller keeps of every stored job: its id, status, when its
 * record was last written, its revision and epoch. A few dozen bytes a
 * job, never the record: enough to count jobs by status, page through
 * them newest first, find ids by prefix and pick the ones to expire, while
 * the records themselves stay in the bucket (job_store.ts keeps the active
 * ones and a bounded cache of finished ones).
 */
import { type JobStatus, TERMINAL } from "../models/job.ts";

export interface IndexEntry {
  status: JobStatus;
  /** When the record was last written (ms): the server's time when known. */
  at: number;
  rev: number;
  /** The record's epoch: its claims are epochs 1 to this. */
  epoch: number;
}

/** A key deleted by a marker the bucket still holds. */
export interface Marker {
  rev: number;
  at: number;
}

export class JobIndex {
  #entries = new Map<string, IndexEntry>();
  /** Ids in sort order (creation order for GRID's ids); removed ones linger until compacted. */
  #order: string[] = [];
  #dead = 0;
  #counts = new Map<string, number>();
  /** Keys removed by a marker still in the bucket (to be erased once old). */
  readonly markers = new Map<string, Marker>();

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): IndexEntry | undefined {
    return this.#entries.get(id);
  }

  /** Sets `id` unless what it has is as new; answers whether it did. */
  set(id: string, e: IndexEntry): boolean {
    const have = this.#entries.get(id);
    if (have && have.rev >= e.rev) return false;
    if (have) this.#count(have.status, -1);
    else this.#insert(id);
    this.#entries.set(id, e);
    this.#count(e.status, 1);
    this.markers.delete(id);
    return true;
  }

  /** A marker at `rev` removed `id`: answers the entry it held, if older. */
  remove(id: string, rev: number, at: number): IndexEntry | undefined {
    const have = this.#entries.get(id);
    if (have && have.rev >= rev) return undefined;
    const m = this.markers.get(id);
    if (!m || m.rev < rev) this.markers.set(id, { rev, at });
    if (!have) return undefined;
    this.#drop(id, have);
    return have;
  }

  /** Forgets `id` (gone from the bucket without a word: erased). */
  forget(id: string): void {
    const have = this.#entries.get(id);
    if (have) this.#drop(id, have);
    this.markers.delete(id);
  }

  count(status: string): number {
    return this.#counts.get(status) ?? 0;
  }

  counts(): Record<string, number> {
    return Object.fromEntries([...this.#counts].filter(([, n]) => n > 0));
  }

  /** Finished jobs, all statuses together. */
  finished(): number {
    let n = 0;
    for (const s of TERMINAL) n += this.count(s);
    return n;
  }

  /** Newest first, from just before `before` (exclusive) when given. */
  *newestFirst(before?: string): Generator<[string, IndexEntry]> {
    const o = this.#order;
    let i = before === undefined ? o.length - 1 : this.#lowerBound(before) - 1;
    for (; i >= 0; i--) {
      const e = this.#entries.get(o[i]!);
      if (e) yield [o[i]!, e];
    }
  }

  *oldestFirst(): Generator<[string, IndexEntry]> {
    for (const id of this.#order) {
      const e = this.#entries.get(id);
      if (e) yield [id, e];
    }
  }

  /** Ids starting with `prefix`, oldest first, at most `max`. */
  withPrefix(prefix: string, max: number): string[] {
    const o = this.#order;
    const out: string[] = [];
    for (let i = this.#lowerBound(prefix); i < o.length; i++) {
      if (out.length >= max || !o[i]!.startsWith(prefix)) break;
      if (this.#entries.has(o[i]!)) out.push(o[i]!);
    }
    return out;
  }

  /**
   * Finished jobs to remove, oldest first, at most `limit`: the oldest
   * beyond the newest `maxJobs`, and any last written before `before`.
   * Pending and running jobs are never among them.
   */
  expired(
    before: number,
    maxJobs: number,
    limit: number,
  ): [string, IndexEntry][] {
    let over = this.finished() - maxJobs;
    const out: [string, IndexEntry][] = [];
    for (const [id, e] of this.oldestFirst()) {
      if (out.length >= limit) break;
      if (!TERMINAL.has(e.status)) continue;
      if (over > 0 || e.at < before) out.push([id, e]);
      over--;
    }
    return out;
  }

  #drop(id: string, have: IndexEntry): void {
    this.#entries.delete(id);
    this.#count(have.status, -1);
    // Removals come oldest first, far from where ids are added: the
    // order is compacted now and then rather than spliced each time.
    if (++this.#dead > 1000 && this.#dead * 4 > this.#order.length) {
      this.#order = this.#order.filter((k) => this.#entries.has(k));
      this.#dead = 0;
    }
  }

  #count(status: string, by: number): void {
    this.#counts.set(status, (this.#counts.get(status) ?? 0) + by);
  }

  /** The first position whose id is not below `id`. */
  #lowerBound(id: string): number {
    const o = this.#order;
    let lo = 0;
    let hi = o.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (o[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #insert(id: string): void {
    const o = this.#order;
    // New jobs have the highest ids: almost always an append.
    if (o.length === 0 || o[o.length - 1]! < id) {
      o.push(id);
      return;
    }
    const at = this.#lowerBound(id);
    if (o[at] === id) {
      this.#dead--; // back before it was compacted away
      return;
    }
    o.splice(at, 0, id);
  }
}
