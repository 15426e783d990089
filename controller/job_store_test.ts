import assert from "node:assert/strict";
import type { JobRecord, JobStatus } from "../models/job.ts";
import { encodeJson } from "../lib/nats.ts";
import { setLogLevel } from "../lib/log.ts";
import { BadRecords } from "./bad_records.ts";
import { Checkpoints } from "./job_checkpoint.ts";
import { JobStore } from "./job_store.ts";
import { findJob } from "./job_lookup.ts";
import { MemoryBucket } from "./testing.ts";

setLogLevel("error");

/** Lets the bucket's followers see what was written. */
const settle = () => new Promise((r) => setTimeout(r, 0));

/** Ids as GRID makes them: time-ordered hex. */
const idOf = (i: number) =>
  (0x19b70000000 + i).toString(16).padStart(11, "0") + "00000";

function rec(i: number, status: JobStatus, extra = 0): JobRecord {
  return {
    id: idOf(i),
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: [{ backend: "test", action: "succeed" }],
    status,
    step: 0,
    expected: Array.from({ length: extra }, (_, n) => `node-${n}`),
    offline: [],
    epoch: status === "pending" ? undefined : 1,
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  };
}

/** Status of job i: most completed, some failed, one running, one pending. */
function statusOf(i: number, n: number): JobStatus {
  if (i === n - 1) return "pending";
  if (i === n - 2) return "running";
  return i % 5 === 0 ? "failed" : "completed";
}

/** Counts the records read one by one. */
class CountingBucket extends MemoryBucket {
  reads = 0;
  override get(key: string) {
    this.reads++;
    return super.get(key);
  }
}

async function filled(n: number, cacheJobs = 5) {
  const bucket = new CountingBucket();
  for (let i = 0; i < n; i++) {
    await bucket.put(idOf(i), encodeJson(rec(i, statusOf(i, n))));
  }
  const store = new JobStore(bucket, new BadRecords(), { cacheJobs });
  await store.start();
  return { bucket, store };
}

Deno.test("job store: finished records beyond the cache are not kept, and are read when asked for", async () => {
  const { store } = await filled(40);
  try {
    assert.deepEqual(store.counts(), {
      completed: 30,
      failed: 8,
      running: 1,
      pending: 1,
    });
    const inMemory = [...store.values()];
    assert.equal(inMemory.length, 2 + 5, "active ones and five cached");
    assert.equal(store.get(idOf(38))?.rec.status, "running");
    assert.equal(store.get(idOf(39))?.rec.status, "pending");
    assert.equal(store.get(idOf(0)), undefined, "an old finished one is out");
    assert.equal((await store.load(idOf(0)))?.rec.status, "failed");
    assert.equal(store.get(idOf(0))?.rec.id, idOf(0), "now cached");
    assert.equal(await store.load("no-such-job"), undefined);
    assert.equal(await store.load("not a key"), undefined);
    // Finished jobs not in memory are still found by a unique prefix.
    assert.equal((await findJob(store, idOf(3).slice(0, 11))).rec.id, idOf(3));
    assert.deepEqual(store.pendingIds(), [idOf(39)]);
    assert.deepEqual([...store.owners()], []);
  } finally {
    store.stop();
  }
});

Deno.test("job store: list pages newest first from the index, by status and before an id", async () => {
  const { store } = await filled(40, 3);
  try {
    const all: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await store.list({ limit: 7, before });
      all.push(...page.jobs.map((j) => j.id));
      if (!page.next) break;
      assert.equal(page.next, page.jobs.at(-1)!.id);
      before = page.next;
    }
    assert.deepEqual(all, Array.from({ length: 40 }, (_, i) => idOf(39 - i)));

    const failed = await store.list({ limit: 3, status: "failed" });
    assert.deepEqual(failed.jobs.map((j) => j.id), [35, 30, 25].map(idOf));
    assert.equal(failed.next, idOf(25));
    const rest = await store.list({
      limit: 5,
      status: "failed",
      before: idOf(25),
    });
    assert.deepEqual(rest.jobs.map((j) => j.id), [20, 15, 10, 5, 0].map(idOf));
    assert.equal(
      rest.next,
      undefined,
      "no next page after the last failed one",
    );
    const exact = await store.list({ limit: 8, status: "failed" });
    assert.equal(exact.jobs.length, 8);
    assert.equal(exact.next, undefined, "a full page with nothing after it");
    assert.deepEqual(
      (await store.list({ limit: 2, status: "pending" })).jobs.map((j) => j.id),
      [idOf(39)],
    );
  } finally {
    store.stop();
  }
});

Deno.test("job store: a deleted record leaves the index, the counts and the lists", async () => {
  const { bucket, store } = await filled(10, 2);
  try {
    const victim = (await store.load(idOf(1)))!;
    await store.remove(idOf(1), victim.rev);
    await settle();
    assert.equal(store.count("completed"), 5);
    assert.equal(await store.load(idOf(1)), undefined);
    assert.ok(store.index.markers.has(idOf(1)), "its marker is known");
    const ids = (await store.list({ limit: 20 })).jobs.map((j) => j.id);
    assert.ok(!ids.includes(idOf(1)));
    await assert.rejects(store.remove(idOf(2), 999), /wrong last sequence/);
    await store.erase(idOf(1));
    assert.deepEqual(bucket.markers(), []);
    assert.ok(!store.index.markers.has(idOf(1)));
    // A record erased behind the index's back is dropped when read
    // (the two cached ones are others).
    await store.load(idOf(6));
    await store.load(idOf(7));
    await bucket.erase(idOf(3));
    assert.equal(await store.load(idOf(3)), undefined);
    assert.equal(store.count("completed"), 4);
  } finally {
    store.stop();
  }
});

Deno.test("job store: started from a checkpoint, it reads only what changed since, and agrees", async () => {
  const { bucket, store } = await filled(30, 3);
  const cps = new Checkpoints(new MemoryBucket(), 7);
  const created = (await bucket.info()).created;
  await store.remove(idOf(4), (await store.load(idOf(4)))!.rev);
  await settle();
  await cps.write(store.checkpoint(created));
  store.stop();
  // After the checkpoint: one job finishes, one is added, one deleted.
  const done = (await bucket.get(idOf(28)))!.revision;
  await bucket.update(idOf(28), encodeJson(rec(28, "completed")), done);
  await bucket.put(idOf(30), encodeJson(rec(30, "pending")));
  await bucket.delete(idOf(5));

  bucket.reads = 0;
  const fresh = new JobStore(bucket, new BadRecords(), {
    cacheJobs: 3,
    checkpoints: cps,
  });
  await fresh.start();
  const reads = bucket.reads;
  const full = new JobStore(bucket, new BadRecords(), { cacheJobs: 3 });
  await full.start();
  try {
    assert.equal(
      reads,
      1,
      "only the pending job the checkpoint named was read",
    );
    assert.deepEqual(fresh.counts(), full.counts());
    assert.deepEqual(fresh.pendingIds(), [idOf(29), idOf(30)]);
    const ids = async (s: JobStore) =>
      (await s.list({ limit: 100 })).jobs.map((j) => `${j.id} ${j.status}`);
    assert.deepEqual(await ids(fresh), await ids(full));
    assert.ok(fresh.index.markers.has(idOf(4)), "markers come with it");
    assert.ok(fresh.index.markers.has(idOf(5)));
  } finally {
    fresh.stop();
    full.stop();
  }
});

Deno.test("job store: a checkpoint of another bucket, or one cut short, is not used", async () => {
  const { bucket, store } = await filled(12, 3);
  const cpBucket = new MemoryBucket();
  const cps = new Checkpoints(cpBucket, 5);
  await cps.write(store.checkpoint((await bucket.info()).created + 1));
  store.stop();
  const other = new JobStore(bucket, new BadRecords(), { checkpoints: cps });
  await other.start();
  assert.equal(other.count("completed") + other.count("failed"), 10);
  other.stop();

  await cps.write(store.checkpoint((await bucket.info()).created));
  await cpBucket.put("part.1", encodeJson({ gen: "someone else's" }));
  assert.equal(await cps.read(), undefined);
  await cpBucket.erase("part.2");
  assert.equal(await cps.read(), undefined);
});

Deno.test("job store: malformed records skipped before a checkpoint are still counted after it", async () => {
  const { bucket, store } = await filled(4, 3);
  const cps = new Checkpoints(new MemoryBucket());
  await bucket.put("evil", new TextEncoder().encode("{not json"));
  await settle();
  await cps.write(store.checkpoint((await bucket.info()).created));
  store.stop();
  const bad = new BadRecords();
  const fresh = new JobStore(bucket, bad, { checkpoints: cps });
  await fresh.start();
  assert.equal(bad.count("jobs"), 1);
  fresh.stop();
});
