import assert from "node:assert/strict";
import type { JobRecord, JobStatus } from "../models/job.ts";
import { ManualClock } from "../lib/clock.ts";
import { encodeJson } from "../lib/nats.ts";
import { setLogLevel } from "../lib/log.ts";
import { BadRecords } from "./bad_records.ts";
import { MemoryClaims } from "./claims.ts";
import { Checkpoints } from "./job_checkpoint.ts";
import { JobStore } from "./job_store.ts";
import { onDuty, Retention, type RetentionConfig } from "./retention.ts";
import { MemoryBucket } from "./testing.ts";

setLogLevel("error");

const HOUR = 3_600_000;
const idOf = (i: number) =>
  (0x19b70000000 + i).toString(16).padStart(11, "0") + "00000";

function rec(i: number, status: JobStatus, epoch?: number): JobRecord {
  return {
    id: idOf(i),
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: [{ backend: "test", action: "succeed" }],
    status,
    step: 0,
    expected: [],
    offline: [],
    ...(epoch === undefined ? {} : { epoch }),
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  };
}

async function rig(config: Partial<RetentionConfig> = {}) {
  const clock = new ManualClock();
  const bucket = new MemoryBucket();
  bucket.now = () => clock.now();
  const claims = new MemoryClaims();
  const store = new JobStore(bucket, new BadRecords(), {
    cacheJobs: 2,
    now: () => clock.now(),
  });
  await store.start();
  const checkpoints = new Checkpoints(new MemoryBucket());
  let duty = true;
  const retention = new Retention({
    store,
    claims,
    checkpoints,
    bucketCreated: async () => (await bucket.info()).created,
    clock,
    onDuty: () => duty,
  }, { maxAgeMs: 24 * HOUR, maxJobs: 3, ...config });
  /** Stores job `i` with its claims, as the controllers that ran it left them. */
  const job = async (i: number, status: JobStatus, epoch?: number) => {
    await store.create(rec(i, status, epoch));
    for (let e = 1; e <= (epoch ?? 0); e++) {
      await claims.claim(idOf(i), e, {
        controller: "c",
        purpose: "run",
        at: "",
      });
    }
  };
  const ids = async () =>
    (await store.list({ limit: 100 })).jobs.map((j) => j.id).reverse();
  const claimed = () => [...claims.held.keys()].sort();
  return {
    clock,
    bucket,
    claims,
    store,
    checkpoints,
    retention,
    job,
    ids,
    claimed,
    setDuty: (d: boolean) => duty = d,
  };
}

Deno.test("retention: finished jobs past max_jobs go, oldest first, with their claims; pending and running ones stay", async () => {
  const r = await rig();
  try {
    await r.job(0, "pending");
    await r.job(1, "running", 2);
    for (let i = 2; i < 8; i++) {
      await r.job(i, i === 4 ? "failed" : "completed", 1);
    }
    await r.job(8, "cancelled", 1);
    const report = await r.retention.round();
    await r.clock.advance(0);
    assert.equal(report?.removed, 4);
    assert.deepEqual(await r.ids(), [0, 1, 6, 7, 8].map(idOf));
    assert.deepEqual(r.store.counts(), {
      pending: 1,
      running: 1,
      completed: 2,
      cancelled: 1,
    });
    assert.deepEqual(r.claimed(), [
      `${idOf(1)}.1`,
      `${idOf(1)}.2`,
      `${idOf(6)}.1`,
      `${idOf(7)}.1`,
      `${idOf(8)}.1`,
    ]);
    assert.equal((await r.retention.round())?.removed, 0, "nothing more");
  } finally {
    r.store.stop();
  }
});

Deno.test("retention: finished jobs go max_age after their last write; active ones never", async () => {
  const r = await rig({ maxJobs: 100 });
  try {
    await r.job(0, "running", 1);
    await r.job(1, "pending");
    await r.job(2, "completed", 1);
    await r.clock.advance(20 * HOUR);
    await r.job(3, "failed", 1);
    await r.clock.advance(5 * HOUR);
    await r.retention.round();
    await r.clock.advance(0);
    assert.deepEqual(await r.ids(), [0, 1, 3].map(idOf));
    await r.clock.advance(20 * HOUR);
    await r.retention.round();
    await r.clock.advance(0);
    assert.deepEqual(await r.ids(), [0, 1].map(idOf), "old, but still active");
    assert.deepEqual(r.claimed(), [`${idOf(0)}.1`]);
  } finally {
    r.store.stop();
  }
});

Deno.test("retention: a record that changed since the index saw it is left for the next round", async () => {
  const r = await rig({ maxJobs: 0 });
  try {
    await r.job(0, "completed", 1);
    const seen = r.store.get(idOf(0))!;
    // Someone writes it again, and the round starts before the follower
    // has delivered it.
    const written = r.bucket.update(
      idOf(0),
      encodeJson(rec(0, "completed", 1)),
      seen.rev,
    );
    assert.equal((await r.retention.round())?.removed, 0);
    await written;
    await r.clock.advance(0);
    assert.equal((await r.retention.round())?.removed, 1);
  } finally {
    r.store.stop();
  }
});

Deno.test("retention: markers are erased once old and behind a checkpoint; off duty it does nothing", async () => {
  const r = await rig({ maxJobs: 1, markerAgeMs: 600_000 });
  try {
    for (let i = 0; i < 4; i++) await r.job(i, "completed", 1);
    r.setDuty(false);
    assert.equal(await r.retention.round(), undefined);
    assert.equal(r.store.count("completed"), 4, "off duty, nothing goes");
    r.setDuty(true);
    const first = await r.retention.round();
    await r.clock.advance(0);
    assert.deepEqual(first, { removed: 3, erased: 0, checkpoint: true });
    assert.equal(r.bucket.markers().length, 3, "markers stay while young");
    await r.clock.advance(11 * 60_000);
    // The first round's checkpoint was written after the markers came
    // back: it covers them.
    const later = await r.retention.round();
    assert.deepEqual(later, { removed: 0, erased: 3, checkpoint: false });
    assert.deepEqual(r.bucket.markers(), []);
    const cp = await r.checkpoints.read();
    assert.deepEqual(cp?.jobs.map(([id]) => id), [idOf(3)]);
  } finally {
    r.store.stop();
  }
});

Deno.test("retention: off duty, markers are forgotten after a while; on duty they wait to be erased", async () => {
  const r = await rig({ maxJobs: 0, markerAgeMs: 600_000 });
  try {
    await r.job(0, "completed", 1);
    await r.retention.round();
    await r.clock.advance(0);
    assert.ok(r.store.index.markers.has(idOf(0)));
    r.setDuty(false);
    await r.clock.advance(10 * 60_000);
    await r.retention.round();
    assert.ok(r.store.index.markers.has(idOf(0)), "kept 15 minutes");
    await r.clock.advance(6 * 60_000);
    await r.retention.round();
    assert.equal(r.store.index.markers.size, 0);
    assert.equal(r.bucket.markers().length, 1, "left for a full read to find");
  } finally {
    r.store.stop();
  }
});

Deno.test("retention: started, it runs a round every `everyMs`", async () => {
  const r = await rig({ maxJobs: 1, everyMs: 10_000 });
  try {
    for (let i = 0; i < 3; i++) await r.job(i, "completed", 1);
    r.retention.start();
    await r.clock.advance(9_000);
    assert.equal((await r.ids()).length, 3);
    await r.clock.advance(1_000);
    await r.clock.advance(0);
    assert.deepEqual(await r.ids(), [idOf(2)]);
  } finally {
    r.retention.stop();
    r.store.stop();
  }
});

Deno.test("onDuty(): the live controller with the lowest id, while its heartbeat gets through", () => {
  const now = 1_000_000;
  const peers = (id: string, alive: string[], lastBeatOk = now) => ({
    id,
    all: new Map([["a", {}], ["b", {}], ["c", {}]]),
    alive: (p: string | undefined) => p !== undefined && alive.includes(p),
    lastBeatOk,
    staleMs: 30_000,
  });
  assert.equal(onDuty(peers("a", ["a", "b", "c"]), now), true);
  assert.equal(onDuty(peers("b", ["a", "b", "c"]), now), false);
  assert.equal(onDuty(peers("b", ["b", "c"]), now), true, "a is gone");
  assert.equal(onDuty(peers("a", ["a"], now - 20_000), now), false);
});

Deno.test("retention: a clean shutdown on duty checkpoints what changed since the last; off duty it does not", async () => {
  const r = await rig({ maxJobs: 100 });
  try {
    await r.job(0, "completed", 1);
    assert.equal((await r.retention.round())?.checkpoint, true);
    // Fewer changes than a round waits for, and sooner.
    await r.job(1, "completed", 1);
    await r.job(2, "running", 1);
    assert.equal((await r.retention.round())?.checkpoint, false);
    r.setDuty(false);
    await r.retention.shutdown();
    assert.deepEqual(
      (await r.checkpoints.read())?.jobs.map(([id]) => id),
      [idOf(0)],
      "off duty: the next start reads what came after",
    );
    r.setDuty(true);
    await r.retention.shutdown();
    assert.deepEqual(
      (await r.checkpoints.read())?.jobs.map(([id]) => id).sort(),
      [0, 1, 2].map(idOf).sort(),
    );
  } finally {
    r.store.stop();
  }
});
