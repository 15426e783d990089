import assert from "node:assert/strict";
import type { NodeEnrollment, NodeRecord } from "../models/node.ts";
import type { NodeParams } from "../models/params.ts";
import { encodeJson } from "../lib/nats.ts";
import type { BucketEntry } from "../lib/bucket.ts";
import { type EnrollmentLookup, Registry } from "./registry.ts";
import { MemoryBucket } from "./testing.ts";
import { ManualClock } from "../lib/clock.ts";

class FakeEnrollments implements EnrollmentLookup {
  readonly items = new Map<string, NodeEnrollment>();
  #fns: ((e: NodeEnrollment) => void)[] = [];
  get(id: string) {
    return this.items.get(id);
  }
  onChange(fn: (e: NodeEnrollment) => void) {
    this.#fns.push(fn);
  }
  set(e: Partial<NodeEnrollment> & { id: string }) {
    const rec: NodeEnrollment = {
      groups: [],
      user: "U",
      enrolled_at: "",
      enrolled_by: "t",
      retired: [],
      ...e,
    };
    this.items.set(e.id, rec);
    for (const fn of this.#fns) fn(rec);
  }
}

/** A bucket that stamps each write with a time of the test's choosing. */
class StampedBucket extends MemoryBucket {
  at = Date.now();
  override follow(apply: (e: BucketEntry) => void) {
    return super.follow((e) => apply({ ...e, time: this.at }));
  }
}

const record = (id: string, fields: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  hostname: id,
  groups: ["web"],
  backends: { ping: ["echo"] },
  status: "online",
  last_seen: new Date().toISOString(),
  started_at: new Date().toISOString(),
  version: "t",
  cmd_seq: 0,
  queued: 0,
  ...fields,
});

async function rig() {
  const bucket = new StampedBucket();
  const enrolled = new FakeEnrollments();
  const clock = new ManualClock();
  const reg = new Registry(bucket, 15_000, enrolled, "c1", clock);
  await reg.start();
  const write = async (rec: NodeRecord, key = rec.id) => {
    await bucket.put(key, encodeJson(rec));
    await new Promise((r) => setTimeout(r, 0));
  };
  return { bucket, enrolled, reg, write, clock };
}

Deno.test("Registry: only an enrolled node's record counts, under its own key", async () => {
  const { enrolled, reg, write } = await rig();
  await write(record("ghost"));
  assert.equal(reg.nodes.size, 0);
  enrolled.set({ id: "n1", groups: ["web"] });
  await write(record("n2"), "n1");
  assert.equal(reg.nodes.size, 0, "a record under another node's key");
  await write(record("n1"));
  assert.deepEqual([...reg.nodes.keys()], ["n1"]);
  // Enrolled later: its record counts from then on.
  enrolled.set({ id: "ghost", groups: ["web"] });
  assert.ok(reg.nodes.has("ghost"));
});

Deno.test("Registry: groups are cut to those the node was enrolled with", async () => {
  const { enrolled, reg, write } = await rig();
  enrolled.set({ id: "n1", groups: ["web"] });
  await write(record("n1", { groups: ["web", "db", "prod"] }));
  assert.deepEqual(reg.nodes.get("n1")!.groups, ["web"]);
});

Deno.test("Registry: liveness is the server's time, not the node's claim", async () => {
  const { bucket, enrolled, reg, write } = await rig();
  enrolled.set({ id: "skewed", groups: [] });
  enrolled.set({ id: "forged", groups: [] });
  // Ten minutes behind, and far in the future: both heard just now.
  await write(record("skewed", {
    last_seen: new Date(Date.now() - 600_000).toISOString(),
  }));
  await write(record("forged", { last_seen: "2099-01-01T00:00:00.000Z" }));
  assert.ok(reg.isOnline("skewed"));
  assert.ok(reg.isOnline("forged"));
  assert.ok(!reg.isOnline("forged", Date.now() + 16_000));
  // Last heard long ago by the server: offline, whatever it claimed.
  bucket.at = Date.now() - 60_000;
  await write(record("forged", { last_seen: "2099-01-01T00:00:00.000Z" }));
  assert.ok(!reg.isOnline("forged"));
});

Deno.test("Registry: a revoked node is kept apart and never online", async () => {
  const { enrolled, reg, write } = await rig();
  enrolled.set({ id: "n1", groups: ["web"] });
  await write(record("n1"));
  enrolled.set({ id: "n1", groups: ["web"], revoked_at: "2026-01-01" });
  assert.equal(reg.nodes.has("n1"), false);
  assert.equal(reg.revoked.get("n1")!.status, "offline");
  assert.ok(!reg.isOnline("n1"));
});

Deno.test("Registry: a malformed record is skipped", async () => {
  const { bucket, enrolled, reg } = await rig();
  enrolled.set({ id: "n1", groups: ["web"] });
  await bucket.put("n1", new TextEncoder().encode("{oops"));
  await bucket.put("n1", encodeJson({ id: "n1" }));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(reg.nodes.size, 0);
});

Deno.test("Registry: current while its own sentinel comes back, not when writes stop landing", async () => {
  const { bucket, reg, clock } = await rig();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(reg.freshAt, clock.now(), "the first write came back");
  const before = reg.freshAt;
  // Writes fail now (an outage): the view stops being current.
  const put = bucket.put;
  bucket.put = () => Promise.reject(new Error("no stream answered"));
  await clock.advance(10_000);
  assert.equal(reg.freshAt, before);
  // Back: not current until the nodes have had time to report again, so
  // no job starts against heartbeats that could not be stored.
  const current = () => clock.now() - reg.freshAt < reg.offlineAfterMs / 2;
  bucket.put = put;
  await clock.advance(2_000);
  assert.ok(!current());
  await clock.advance(reg.offlineAfterMs / 2);
  assert.ok(current());
  reg.stop();
});

Deno.test("Registry: not current while the store is full, though its own writes land", async () => {
  const { bucket, reg, clock } = await rig();
  await new Promise((r) => setTimeout(r, 0));
  const storage = { full: false, notes: [] as string[] };
  reg.storage = { ...storage, note: (t) => storage.notes.push(t) };
  Object.defineProperty(reg.storage, "full", { get: () => storage.full });
  const current = () => clock.now() - reg.freshAt < reg.offlineAfterMs / 2;
  assert.ok(current());
  storage.full = true;
  assert.ok(!current(), "at once, not offline_after/2 later");
  await clock.advance(5_000);
  assert.ok(!current(), "the sentinel coming back does not count meanwhile");
  storage.full = false;
  await clock.advance(2_000);
  assert.ok(!current(), "back, but the nodes have not reported again yet");
  await clock.advance(reg.offlineAfterMs / 2);
  assert.ok(current());
  // A failed sentinel write hands its words over.
  bucket.put = () => Promise.reject(new Error("no space left on device"));
  await clock.advance(2_000);
  assert.ok(storage.notes.includes("no space left on device"));
  reg.stop();
});

const described = (kind: string): NodeParams => ({
  specs: [{ kind }],
  actions: { ping: { echo: { params: { message: 0 } } } },
});

Deno.test("Registry: a node's description is kept while its heartbeats name it", async () => {
  const { enrolled, reg, write } = await rig();
  enrolled.set({ id: "n1", groups: ["web"] });
  enrolled.set({ id: "n2", groups: ["web"] });
  const d1 = described("text");
  await write(record("n1", { params_digest: "d1", params: d1 }));
  assert.deepEqual(reg.paramsOf("n1"), d1);
  assert.equal(reg.nodes.get("n1")!.params, undefined, "not kept per beat");
  await write(record("n1", { params_digest: "d1" }));
  assert.deepEqual(reg.paramsOf("n1"), d1, "a heartbeat naming it");
  // The same content from another node: one copy.
  await write(record("n2", { params_digest: "d1", params: described("text") }));
  assert.equal(reg.paramsOf("n2"), reg.paramsOf("n1"));
  // Restarted with other backends: undescribed until it sends them.
  await write(record("n1", { params_digest: "d2" }));
  assert.equal(reg.paramsOf("n1"), undefined);
  await write(record("n1", { params_digest: "d2", params: described("int") }));
  assert.equal(reg.paramsOf("n1")!.specs[0]!.kind, "int");
  // An older worker names none.
  await write(record("n1"));
  assert.equal(reg.paramsOf("n1"), undefined);
  // A description that does not read is ignored, the record still counts.
  const broken = { specs: [{ kind: "text", checks: [{ pattern: "(" }] }] };
  await write(record("n1", { params_digest: "d3", params: broken }));
  assert.equal(reg.paramsOf("n1"), undefined);
  assert.ok(reg.nodes.has("n1"));
  assert.equal(reg.paramsOf("ghost"), undefined);
  reg.stop();
});
