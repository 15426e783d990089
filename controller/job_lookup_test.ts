import assert from "node:assert/strict";
import type { JobRecord } from "../models/job.ts";
import { RefusedError } from "./errors.ts";
import { JobStore } from "./job_store.ts";
import { findJob } from "./job_lookup.ts";
import { MemoryBucket } from "./testing.ts";

function rec(id: string): JobRecord {
  return {
    id,
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: [{ backend: "test", action: "succeed" }],
    status: "pending",
    step: 0,
    expected: [],
    offline: [],
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  };
}

Deno.test("findJob(): exact id, unique prefix, ambiguous and unknown prefixes", async () => {
  const store = new JobStore(new MemoryBucket());
  await store.start();
  try {
    const ids = [
      "19b7000000100001",
      "19b7000000100002",
      "19b7000001a00000",
      "19b8000000000000",
    ];
    // Out of order on purpose: the store keeps ids sorted.
    for (const id of [ids[2]!, ids[0]!, ids[3]!, ids[1]!]) {
      await store.create(rec(id));
    }
    assert.deepEqual(store.idsWithPrefix("19b7", 10), ids.slice(0, 3));
    assert.deepEqual(store.idsWithPrefix("19b7", 2), ids.slice(0, 2));
    assert.deepEqual(store.idsWithPrefix("2", 10), []);

    assert.equal((await findJob(store, ids[0]!)).rec.id, ids[0]);
    assert.equal((await findJob(store, "19b8")).rec.id, ids[3]);
    assert.equal((await findJob(store, "19b7000001a")).rec.id, ids[2]);
    await assert.rejects(
      () => findJob(store, "19b70000001"),
      (e: unknown) =>
        e instanceof RefusedError && e.kind === "conflict" &&
        e.message.includes(ids[0]!) && e.message.includes(ids[1]!),
    );
    for (const missing of ["19b9", "", "x", "a b", "*", "j.>"]) {
      await assert.rejects(
        () => findJob(store, missing),
        (e: unknown) => e instanceof RefusedError && e.kind === "not_found",
      );
    }
  } finally {
    store.stop();
  }
});
