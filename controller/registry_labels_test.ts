/** Labels as the registry keeps them: only the pairs an enrollment grants. */
import assert from "node:assert/strict";
import type { NodeEnrollment, NodeRecord } from "../models/node.ts";
import { encodeJson } from "../lib/nats.ts";
import { ManualClock } from "../lib/clock.ts";
import { grantedLabels, Registry } from "./registry.ts";
import { MemoryBucket } from "./testing.ts";

Deno.test("grantedLabels: a claim counts only as enrolled, key and value", () => {
  const table: [
    Record<string, string>,
    Record<string, string>,
    Record<string, string>,
    string[],
  ][] = [
    [{ role: "web" }, { role: "web", env: "prod" }, { role: "web" }, []],
    [{ role: "db" }, { role: "web" }, {}, ["role=db"]],
    [{ role: "web", tier: "gold" }, { role: "web" }, { role: "web" }, [
      "tier=gold",
    ]],
    [{}, { role: "web" }, {}, []],
    [{ role: "web" }, {}, {}, ["role=web"]],
  ];
  for (const [claimed, enrolled, granted, refused] of table) {
    assert.deepEqual(grantedLabels(claimed, enrolled), { granted, refused });
  }
});

Deno.test("Registry: a node's labels are cut to its enrollment, and follow a re-enrollment", async () => {
  const bucket = new MemoryBucket();
  const items = new Map<string, NodeEnrollment>();
  const listeners: ((e: NodeEnrollment) => void)[] = [];
  const enroll = (labels?: Record<string, string>) => {
    const e: NodeEnrollment = {
      id: "n1",
      groups: ["web"],
      ...(labels ? { labels } : {}),
      user: "U",
      enrolled_at: "",
      enrolled_by: "t",
      retired: [],
    };
    items.set(e.id, e);
    for (const fn of listeners) fn(e);
  };
  const reg = new Registry(
    bucket,
    15_000,
    { get: (id) => items.get(id), onChange: (fn) => listeners.push(fn) },
    "c1",
    new ManualClock(),
  );
  await reg.start();
  try {
    enroll({ role: "web" });
    const rec: NodeRecord = {
      id: "n1",
      hostname: "n1",
      groups: ["web"],
      labels: { role: "web", env: "prod", tier: "gold" },
      backends: {},
      status: "online",
      last_seen: new Date().toISOString(),
      started_at: new Date().toISOString(),
      version: "t",
      cmd_seq: 0,
      queued: 0,
    };
    await bucket.put("n1", encodeJson(rec));
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(reg.nodes.get("n1")?.labels, { role: "web" });
    enroll({ role: "web", env: "prod" });
    assert.deepEqual(reg.nodes.get("n1")?.labels, {
      role: "web",
      env: "prod",
    });
    // Enrolled before labels existed: none.
    enroll();
    assert.deepEqual(reg.nodes.get("n1")?.labels, {});
  } finally {
    reg.stop();
  }
});
