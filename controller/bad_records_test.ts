/**
 * Whatever bytes sit in a bucket or stream the controller reads, it skips
 * the bad ones, counts them once, and carries on: fuzzed with fast-check
 * over the memory stand-ins. tests/bad_records_test.ts does the same over
 * a real nats-server.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { KV } from "@nats-io/kv";
import type { JsMsg } from "@nats-io/jetstream";
import type { JobRecord } from "../models/job.ts";
import { ManualClock } from "../lib/clock.ts";
import { setLogLevel } from "../lib/log.ts";
import { encodeJson } from "../lib/nats.ts";
import { BadRecords } from "./bad_records.ts";
import { KvClaims } from "./claims.ts";
import { JobStore } from "./job_store.ts";
import { entryOf } from "./nats_logs.ts";
import { MemoryBucket } from "./testing.ts";
import { hashToken, TokenStore } from "./tokens.ts";
import { apiRig } from "./api_testing.ts";

const RUNS = 200;
// Each bad record is logged once: thousands here, none worth reading.
setLogLevel("error");
const encoder = new TextEncoder();

/** Lets the bucket's followers see what was written. */
const settle = () => new Promise((r) => setTimeout(r, 0));

function jobRecord(id: string): JobRecord {
  return {
    id,
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: [{ backend: "test", action: "succeed" }],
    status: "completed",
    step: 0,
    expected: [],
    offline: [],
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  };
}

/**
 * Values that are not a record: any bytes, any JSON, and records that are
 * nearly right (a field of the wrong type, another record's id or name).
 */
const badValue = (good: Record<string, unknown>) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.jsonValue().map((v) => encoder.encode(JSON.stringify(v))),
    fc.string().map((s) => encoder.encode(s)),
    // A required field of a type no field of these records takes.
    fc.constantFrom(...Object.keys(good)).chain((k) =>
      fc.constantFrom(null, { x: 1 }, [1]).map((v) =>
        encodeJson({ ...good, [k]: v })
      )
    ),
  );

/** Writes: [key index, value], with `null` for a good record. */
const writes = (good: Record<string, unknown>) =>
  fc.array(
    fc.tuple(fc.nat({ max: 5 }), fc.option(badValue(good), { freq: 3 })),
    { maxLength: 12 },
  );

Deno.test("job store: fuzzed values in grid_jobs, before and after start, are skipped and counted", async () => {
  await fc.assert(
    fc.asyncProperty(writes(jobRecord("j0")), writes(jobRecord("j0")), async (
      before,
      after,
    ) => {
      const bucket = new MemoryBucket();
      const bad = new BadRecords();
      /** Each key's newest good revision, as the store should have it. */
      const want = new Map<string, number>();
      let bads = 0;
      const write = async ([k, v]: [number, Uint8Array | null]) => {
        const key = `j${k}`;
        const rev = await bucket.put(key, v ?? encodeJson(jobRecord(key)));
        if (v === null) want.set(key, rev);
        else bads++;
      };
      for (const w of before) await write(w);
      // Before the start only what a key holds last is read.
      want.clear();
      bads = 0;
      for (const [k, v] of new Map(before)) {
        if (v !== null) bads++;
        else want.set(`j${k}`, (await bucket.get(`j${k}`))!.revision);
      }
      const store = new JobStore(bucket, bad);
      await store.start();
      for (const w of after) await write(w);
      await settle();
      store.stop();
      assert.equal(bad.count("jobs"), bads);
      // Every key shows its newest good record, whatever came after it.
      for (let k = 0; k <= 5; k++) {
        const key = `j${k}`;
        assert.equal(store.get(key)?.rev, want.get(key), key);
      }
      assert.equal([...store.values()].length, want.size);
    }),
    { numRuns: RUNS },
  );
});

Deno.test("job store: a record filed under another job's id is skipped", async () => {
  const bucket = new MemoryBucket();
  const bad = new BadRecords();
  await bucket.put("j1", encodeJson(jobRecord("j2")));
  const store = new JobStore(bucket, bad);
  await store.start();
  assert.equal(store.get("j1"), undefined);
  assert.equal(store.get("j2"), undefined);
  assert.equal(bad.count("jobs"), 1);
  store.stop();
});

Deno.test("job store: a write that loses to a malformed value is stale, not a throw", async () => {
  const bucket = new MemoryBucket();
  const bad = new BadRecords();
  const store = new JobStore(bucket, bad);
  await store.start();
  const s = await store.create(jobRecord("j1"));
  store.stop(); // the update's refresh, not the follower, reads the bad value
  await bucket.put("j1", encoder.encode("{not json"));
  await assert.rejects(
    store.update({ ...s.rec, step: 1 }, s.rev),
    { name: "StaleRecordError" },
  );
  assert.equal(store.get("j1")!.rev, s.rev, "the good record stays");
  assert.equal(bad.count("jobs"), 1);
});

function tokenRecord(name: string) {
  return {
    name,
    scope: "admin",
    hash: hashToken(`grid_${name}`),
    created_at: "2026-01-01T00:00:00.000Z",
    created_by: "test",
  };
}

Deno.test("tokens: fuzzed values in grid_tokens grant nothing and are counted", async () => {
  await fc.assert(
    fc.asyncProperty(writes(tokenRecord("t0")), async (ws) => {
      const bucket = new MemoryBucket();
      const bad = new BadRecords();
      const tokens = new TokenStore(bucket, new ManualClock(), bad);
      await tokens.start();
      const good = new Set<string>();
      let bads = 0;
      for (const [k, v] of ws) {
        const key = `t${k}`;
        if (v === null) {
          await bucket.put(key, encodeJson(tokenRecord(key)));
          good.add(key);
        } else {
          await bucket.put(key, v);
          good.delete(key);
          bads++;
        }
      }
      await settle();
      tokens.stop();
      assert.equal(bad.count("tokens"), bads);
      for (let k = 0; k <= 5; k++) {
        const auth = tokens.authenticate(`grid_t${k}`);
        assert.equal(typeof auth !== "string", good.has(`t${k}`), `t${k}`);
      }
    }),
    { numRuns: RUNS },
  );
});

Deno.test("claims: a claim held under any bytes is taken by a stranger, never a throw", async () => {
  await fc.assert(
    fc.asyncProperty(
      badValue({ controller: "a", purpose: "run", at: "" }),
      async (v) => {
        const bad = new BadRecords();
        const kv = {
          create: () => Promise.reject(new Error("wrong last sequence")),
          get: (key: string) =>
            Promise.resolve({
              key,
              revision: 7,
              operation: "PUT",
              value: v,
              json: () => JSON.parse(new TextDecoder().decode(v)),
            }),
        } as unknown as KV;
        const held = await new KvClaims(kv, bad).claim("j1", 1, {
          controller: "me",
          purpose: "run",
          at: "",
        });
        assert.equal(held.controller, "(unreadable)");
        assert.equal(bad.count("claims"), 1);
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("results: an entry that is not an event is kept as unreadable and counted once", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const bad = new BadRecords();
      const m = {
        seq: 9,
        subject: "grid.res.j1.0.a",
        json: () => JSON.parse(new TextDecoder().decode(bytes)),
      } as unknown as JsMsg;
      assert.deepEqual(entryOf(m, bad), { seq: 9, job: "j1" });
      entryOf(m, bad);
      assert.equal(bad.count("results"), 1, "read twice, counted once");
    }),
    { numRuns: RUNS },
  );
});

Deno.test("GET /status counts malformed job records, and the API keeps serving", async () => {
  const r = await apiRig();
  const status = async () => {
    const res = await r.call("GET", "/status", { scope: "read" });
    assert.equal(res.status, 200);
    return await res.json();
  };
  const before = (await status()).bad_records.jobs ?? 0;
  await r.bucket.put("j-bad", encoder.encode("\u0000not json"));
  await r.bucket.put("j-odd", encodeJson({ id: "j-odd", status: 7 }));
  await settle();
  const after = await status();
  assert.equal(after.bad_records.jobs, before + 2);
  assert.equal(after.jobs.completed ?? 0, 0);
  const list = await r.call("GET", "/jobs", { scope: "read" });
  assert.equal(list.status, 200);
  await list.body?.cancel();
  await r.stop();
});
