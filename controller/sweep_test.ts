/**
 * The sweep as a pure function: facts in, effects out, no clock.
 */
import assert from "node:assert/strict";
import type { NodeRecord } from "../models/node.ts";
import { iso } from "../lib/clock.ts";
import {
  fleetCurrent,
  graceAfterOutage,
  holdsLease,
  sweep,
  sweepConfig,
  type SweepJob,
} from "./sweep.ts";

const T = Date.parse("2026-05-01T00:00:00Z");
const config = sweepConfig(15_000);

function node(
  id: string,
  lastSeenAgo: number,
  extra: Partial<NodeRecord> = {},
) {
  return {
    id,
    hostname: id,
    groups: [],
    backends: {},
    status: "online",
    last_seen: iso(T - lastSeenAgo),
    started_at: iso(T - 60_000),
    version: "test",
    cmd_seq: 0,
    queued: 0,
    ...extra,
  } satisfies NodeRecord;
}

type SentFacts = {
  seq: number;
  sentAgo: number;
  settled?: boolean;
  waiting?: boolean;
};

function job(
  sent: Record<string, SentFacts>,
  extra: Partial<SweepJob> = {},
): SweepJob {
  return {
    record: { id: "j1" },
    sent: new Map(
      Object.entries(sent).map(([n, s]) => [n, {
        step: 2,
        seq: s.seq,
        sentAt: s.sentAgo < 0 ? 0 : T - s.sentAgo,
        settled: s.settled,
        retryTimer: s.waiting ? () => {} : undefined,
      }]),
    ),
    ...extra,
  };
}

const run = (j: SweepJob, nodes: NodeRecord[], graceUntil = 0) =>
  sweep([j], {
    now: T,
    graceUntil,
    nodes: new Map(nodes.map((n) => [n.id, n])),
  }, config);

Deno.test("sweep: a node silent past offline_after with a task is lost", () => {
  const effects = run(job({ a: { seq: 5, sentAgo: 1000 } }), [
    node("a", 15_000),
  ]);
  assert.deepEqual(effects, [{
    kind: "node_lost",
    job: "j1",
    node: "a",
    error: "node lost: no heartbeat for 15s",
  }]);
});

Deno.test("sweep: an unregistered or offline-marked node is lost too", () => {
  assert.equal(
    run(job({ gone: { seq: 5, sentAgo: 1 } }), [])[0]?.kind,
    "node_lost",
  );
  const off = node("a", 0, { status: "offline" });
  assert.equal(
    run(job({ a: { seq: 5, sentAgo: 1 } }), [off])[0]?.kind,
    "node_lost",
  );
});

Deno.test("sweep: nobody is lost during the grace after a restart or an outage", () => {
  assert.deepEqual(
    run(job({ a: { seq: 5, sentAgo: 1000 } }), [node("a", 60_000)], T + 1),
    [],
  );
});

Deno.test("sweep: settled, backing-off and unsent attempts are left alone", () => {
  const j = job({
    a: { seq: 5, sentAgo: 60_000, settled: true },
    b: { seq: 0, sentAgo: 60_000, waiting: true },
    c: { seq: 0, sentAgo: -1 },
  });
  assert.deepEqual(run(j, []), []);
});

Deno.test("sweep: a command not taken is re-sent after half of offline_after, not before", () => {
  const healthy = node("a", 1000, { cmd_seq: 4 });
  assert.deepEqual(run(job({ a: { seq: 5, sentAgo: 7500 } }), [healthy]), []);
  assert.deepEqual(run(job({ a: { seq: 5, sentAgo: 7501 } }), [healthy]), [{
    kind: "resend",
    job: "j1",
    node: "a",
    step: 2,
    why: "missed",
  }]);
});

Deno.test("sweep: a command taken and passed without an outcome is re-sent; one in hand is not", () => {
  const passed = node("a", 1000, { cmd_seq: 9, resume_seq: 5 });
  assert.equal(
    run(job({ a: { seq: 5, sentAgo: 10_000 } }), [passed])[0]?.kind,
    "resend",
  );
  const working = node("a", 1000, { cmd_seq: 9, resume_seq: 4 });
  assert.deepEqual(run(job({ a: { seq: 5, sentAgo: 60_000 } }), [working]), []);
});

Deno.test("sweep: a failed publish is tried again after a second", () => {
  const n = node("a", 0);
  assert.deepEqual(run(job({ a: { seq: -1, sentAgo: 999 } }), [n]), []);
  assert.deepEqual(run(job({ a: { seq: -1, sentAgo: 1000 } }), [n]), [
    { kind: "republish", job: "j1", node: "a" },
  ]);
});

Deno.test("sweep: a job past its timeout times out once", () => {
  assert.deepEqual(run(job({}, { timeoutAt: T }), []), [
    { kind: "job_timeout", job: "j1" },
  ]);
  assert.deepEqual(run(job({}, { timeoutAt: T, timeoutSent: true }), []), []);
  assert.deepEqual(run(job({}, { timeoutAt: T + 1 }), []), []);
});

Deno.test("graceAfterOutage: grace is extended while the registry is not current", () => {
  const off = 15_000;
  // Our sentinel came back 1 s ago: the view is current, grace stays.
  assert.equal(graceAfterOutage(T, 0, T - 1000, off), 0);
  // Not for half of offline_after: grace runs a whole offline_after from now.
  assert.equal(graceAfterOutage(T, 0, T - 7500, off), T + off);
  assert.equal(graceAfterOutage(T, T + 60_000, T - 8000, off), T + 60_000);
  assert.ok(fleetCurrent(T, T - 7499, off));
  assert.ok(!fleetCurrent(T, T - 7500, off));
});

Deno.test("holdsLease: the lease lapses at half the stale threshold", () => {
  assert.ok(holdsLease(T, T - 14_999, 30_000));
  assert.ok(!holdsLease(T, T - 15_000, 30_000));
});
