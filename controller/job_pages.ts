/**
 * Reading stored jobs in order, the index choosing which: `GET /jobs`
 * pages (newest first, by status, before an id) and every job oldest
 * first. Records not in memory are read from the bucket, several at once.
 */
import type { JobRecord } from "../models/job.ts";
import type { JobIndex } from "./job_index.ts";
import type { Stored } from "./job_store.ts";
import { mapLimited } from "./record_cache.ts";

/** Records read from the bucket at once for a page. */
const PARALLEL = 32;

export interface PageOptions {
  limit: number;
  before?: string;
  status?: string;
}

export interface Page {
  jobs: JobRecord[];
  /** The last id of this page, when another job follows it. */
  next?: string;
}

type Load = (id: string) => Promise<Stored | undefined>;

export async function listPage(
  index: Pick<JobIndex, "newestFirst">,
  load: Load,
  opts: PageOptions,
): Promise<Page> {
  const fits = (status: string) => !opts.status || status === opts.status;
  const ids = index.newestFirst(opts.before);
  const out: JobRecord[] = [];
  let more = true;
  // A record may be gone, or have moved on, by the time it is read: the
  // page is topped up from the index until it is full.
  while (more && out.length < opts.limit) {
    const batch: string[] = [];
    while (batch.length < opts.limit - out.length) {
      const n = ids.next();
      if (n.done) {
        more = false;
        break;
      }
      if (fits(n.value[1].status)) batch.push(n.value[0]);
    }
    const got = await mapLimited(batch, PARALLEL, load);
    for (const s of got) if (s && fits(s.rec.status)) out.push(s.rec);
  }
  if (!more || out.length < opts.limit) return { jobs: out };
  for (let n = ids.next(); !n.done; n = ids.next()) {
    if (fits(n.value[1].status)) return { jobs: out, next: out.at(-1)!.id };
  }
  return { jobs: out };
}

/** Every stored job, oldest first, read as it goes. */
export async function* readOldestFirst(
  index: Pick<JobIndex, "oldestFirst">,
  load: Load,
): AsyncGenerator<Stored> {
  let batch: string[] = [];
  // Callers often stop early: the first reads are small.
  let size = 1;
  const flush = async () => {
    const got = await mapLimited(batch, PARALLEL, load);
    batch = [];
    size = Math.min(size * 2, 256);
    return got.filter((s): s is Stored => s !== undefined);
  };
  for (const [id] of index.oldestFirst()) {
    batch.push(id);
    if (batch.length >= size) yield* await flush();
  }
  yield* await flush();
}
