/**
 * The finished job records a controller keeps in memory: the most
 * recently used, bounded in count and in bytes (a job on thousands of
 * nodes has a record of tens of KB). And reading several at once.
 */
import type { Stored } from "./job_store.ts";

/** Finished records, least recently used first, bounded in count and bytes. */
export class RecordCache {
  #items = new Map<string, { s: Stored; bytes: number }>();
  #bytes = 0;

  constructor(readonly maxJobs: number, readonly maxBytes: number) {}

  get(id: string): Stored | undefined {
    const e = this.#items.get(id);
    if (!e) return undefined;
    this.#items.delete(id);
    this.#items.set(id, e);
    return e.s;
  }

  peek(id: string): Stored | undefined {
    return this.#items.get(id)?.s;
  }

  set(id: string, s: Stored, bytes: number): void {
    this.delete(id);
    this.#items.set(id, { s, bytes });
    this.#bytes += bytes;
    while (
      this.#items.size > 1 &&
      (this.#items.size > this.maxJobs || this.#bytes > this.maxBytes)
    ) {
      this.delete(this.#items.keys().next().value!);
    }
  }

  delete(id: string): void {
    const e = this.#items.get(id);
    if (!e) return;
    this.#items.delete(id);
    this.#bytes -= e.bytes;
  }

  *values(): Generator<Stored> {
    for (const e of this.#items.values()) yield e.s;
  }
}

/** `fn` over `items`, at most `limit` at once; answers in order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  return out;
}
