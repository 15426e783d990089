/**
 * What the controller reads from NATS, over a real nats-server this test
 * starts without auth (the controller's own asks for credentials): any
 * bytes in its buckets and streams are skipped and counted, never thrown;
 * a results stream deleted and created again is noticed, old jobs say
 * their results are lost, and new results are read.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { JobRecord } from "../models/job.ts";
import { resultEvent } from "../models/messages.ts";
import { ManualClock } from "../lib/clock.ts";
import { followBucket } from "../lib/kv_follow.ts";
import { natsBucket } from "../lib/bucket.ts";
import { setLogLevel } from "../lib/log.ts";
import { encodeJson } from "../lib/nats.ts";
import { jetstreamClient } from "../lib/ordered.ts";
import { ensureTopology, STREAM_RESULTS, subjects } from "../lib/topology.ts";
import { BadRecords, badRecords } from "../controller/bad_records.ts";
import { KvClaims } from "../controller/claims.ts";
import { JobStore } from "../controller/job_store.ts";
import { foldJob, JobHistory } from "../controller/job_log.ts";
import type { LogEntry } from "../controller/logs.ts";
import { NatsEventLog } from "../controller/nats_logs.ts";
import { Peers } from "../controller/peers.ts";
import { hashToken, TokenStore } from "../controller/tokens.ts";
import { freePort, waitFor } from "./harness.ts";

// Every bad record is logged once: hundreds here, none worth reading.
setLogLevel("error");

const encoder = new TextEncoder();

interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kvm: Kvm;
}

/** A JetStream nats-server of our own, with GRID's streams and buckets. */
async function withNats(fn: (n: Nats) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "grid-records-" });
  const port = freePort();
  const proc = new Deno.Command("nats-server", {
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let nc: NatsConnection | undefined;
  try {
    nc = await waitFor(
      "nats-server",
      () => connect({ servers: `127.0.0.1:${port}` }),
    );
    await ensureTopology(nc);
    await fn({
      nc,
      js: jetstreamClient(nc),
      jsm: await jetstreamManager(nc),
      kvm: new Kvm(nc),
    });
  } finally {
    await nc?.close();
    proc.kill("SIGKILL");
    await proc.status;
    Deno.removeSync(dir, { recursive: true });
  }
}

function jobRecord(id: string, over: Partial<JobRecord> = {}): JobRecord {
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
    ...over,
  };
}

const controllerRecord = (id: string) => ({
  id,
  hostname: id,
  status: "online",
  last_seen: "2026-01-01T00:00:00.000Z",
  started_at: "2026-01-01T00:00:00.000Z",
  version: "test",
});

const tokenRecord = (name: string) => ({
  name,
  scope: "read",
  hash: hashToken(`grid_${name}`),
  created_at: "2026-01-01T00:00:00.000Z",
  created_by: "test",
});

/** Not a record: any bytes, any JSON, a record with a field of no type it takes. */
const badValue = (good: Record<string, unknown>) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 48 }),
    fc.jsonValue({ maxDepth: 2 }).map((v) => encoder.encode(JSON.stringify(v))),
    fc.constantFrom(...Object.keys(good)).chain((k) =>
      fc.constantFrom(null, { x: 1 }, [1]).map((v) =>
        encodeJson({ ...good, [k]: v })
      )
    ),
  );

/** [key index, bad value or null for a good record]. */
const writes = fc.array(
  fc.tuple(fc.nat({ max: 3 }), fc.option(badValue(jobRecord("x")))),
  { maxLength: 6 },
);

Deno.test("kv follower: an entry whose reader throws is skipped, in the snapshot and live", async () => {
  await withNats(async ({ js, kvm }) => {
    const kv = await kvm.create("follow_test", { history: 1 });
    await kv.put("a", encoder.encode("1"));
    await kv.put("boom", encoder.encode("not json"));
    const seen = new Set<string>();
    const f = await followBucket(js, kv, "test", (e) => {
      if (e.key === "boom") JSON.parse(new TextDecoder().decode(e.value));
      seen.add(e.key);
    });
    try {
      await kv.put("boom", encoder.encode("still not json"));
      await kv.put("b", encoder.encode("2"));
      await waitFor("b, after a bad entry live", () => seen.has("b"));
      assert.deepEqual([...seen].sort(), ["a", "b"]);
    } finally {
      f.stop();
    }
  });
});

Deno.test("stores: fuzzed values in grid_jobs, grid_controllers, grid_tokens and grid_claims are skipped and counted", async () => {
  await withNats(async ({ js, kvm }) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(writes, writes, async (before, after) => {
        run++;
        const bad = new BadRecords();
        const kinds = {
          jobs: { prefix: "j", good: (k: string) => jobRecord(k) },
          controllers: { prefix: "c", good: controllerRecord },
          tokens: { prefix: "t", good: tokenRecord },
        } as const;
        const kvs = {
          jobs: await kvm.create(`fz${run}_jobs`, { history: 1 }),
          controllers: await kvm.create(`fz${run}_ctl`, { history: 1 }),
          tokens: await kvm.create(`fz${run}_tok`, { history: 1 }),
        };
        const claims = await kvm.create(`fz${run}_claims`, { history: 1 });
        /**
         * Per kind: the revision of each key's newest value when good, and
         * how many bad values must be counted at least and may be at most.
         * A bucket keeps one value per key, so a bad value overwritten at
         * once may be gone before the follower reads it.
         */
        const expect = () => ({
          good: new Map<string, number>(),
          /** Keys a good value may have been read for. */
          everGood: new Set<string>(),
          min: 0,
          max: 0,
        });
        const want = {
          jobs: expect(),
          controllers: expect(),
          tokens: expect(),
        };
        const writeAll = async (ws: typeof before, live: boolean) => {
          for (const kind of ["jobs", "controllers", "tokens"] as const) {
            const { prefix, good } = kinds[kind];
            const last = new Map<string, Uint8Array | null>();
            for (const [k, v] of ws) {
              const key = `${prefix}${k}`;
              const rev = await kvs[kind].put(key, v ?? encodeJson(good(key)));
              last.set(key, v);
              if (v === null) want[kind].good.set(key, rev);
              else want[kind].good.delete(key);
              if (v === null && live) want[kind].everGood.add(key);
              if (live && v !== null) want[kind].max++;
            }
            for (const [key, v] of last) {
              if (v === null) want[kind].everGood.add(key);
              if (v === null) continue;
              want[kind].min++;
              if (!live) want[kind].max++;
            }
          }
        };
        await writeAll(before, false);
        await claims.put("j1.1", encoder.encode("{"));

        const clock = new ManualClock();
        const store = new JobStore(natsBucket(kvs.jobs, js, "jobs"), bad);
        const peers = new Peers(
          kvs.controllers,
          clock,
          { id: "me", hostname: "me", version: "test" },
          3_600_000,
          30_000,
          js,
          bad,
        );
        const tokens = new TokenStore(
          natsBucket(kvs.tokens, js, "tokens"),
          clock,
          bad,
        );
        await store.start();
        await peers.start();
        await tokens.start();
        try {
          await writeAll(after, true);
          const held = await new KvClaims(claims, bad).claim("j1", 1, {
            controller: "me",
            purpose: "run",
            at: "",
          });
          assert.equal(held.controller, "(unreadable)");
          assert.equal(bad.count("claims"), 1);
          const kindsRead = ["jobs", "controllers", "tokens"] as const;
          /** Every key's newest value read, and at least the bad ones that must be. */
          const caughtUp = () => {
            const got = bad.counts();
            if (kindsRead.some((k) => (got[k] ?? 0) < want[k].min)) {
              throw new Error(`counted ${JSON.stringify(got)}`);
            }
            const stale = [
              ...[...want.jobs.good].filter(([k, rev]) =>
                store.get(k)?.rev !== rev
              ).map(([k]) => k),
              ...[...want.controllers.good.keys()].filter((k) =>
                !peers.all.has(k)
              ),
              ...[...want.tokens.good.keys()].filter((k) =>
                typeof tokens.authenticate(`grid_${k}`) === "string"
              ),
            ];
            if (stale.length === 0) return true;
            throw new Error(`not read yet: ${stale.join(",")}`);
          };
          await waitFor("every newest value read", caughtUp, 10_000);
          for (const k of ["jobs", "controllers", "tokens"] as const) {
            assert.ok(bad.count(k) <= want[k].max, k);
          }
          // A key that never held a good value has no record.
          for (const { rec } of store.values()) {
            assert.ok(want.jobs.everGood.has(rec.id), rec.id);
          }
          for (const id of peers.all.keys()) {
            assert.ok(id === "me" || want.controllers.everGood.has(id), id);
          }
        } finally {
          store.stop();
          tokens.stop();
          await peers.stop();
          for (const kv of [...Object.values(kvs), claims]) await kv.destroy();
        }
      }),
      { numRuns: 12, endOnFailure: true },
    );
  });
});

Deno.test("results: bytes in GRID_RES that are no event are skipped and counted", async () => {
  await withNats(async ({ js, jsm }) => {
    const ev = resultEvent(
      { job: "j1", step: 0, attempt: 1 },
      "a",
      "worker",
      { status: "success", output: "hi" },
      { finishedAt: Date.now() },
    );
    await js.publish(subjects.result("j1", 0, "b"), encoder.encode("\u0001"));
    await js.publish(subjects.result("j1", 0, "a"), encodeJson(ev));
    const before = badRecords.count("results");
    const rec = jobRecord("j1", {
      expected: ["a", "b"],
      started_at: new Date().toISOString(),
      res_seq: 0,
      res_last: 2,
    });
    const state = await foldJob(js, rec, true);
    assert.deepEqual([...state.results.get(0)!.keys()], ["a"]);
    assert.equal(badRecords.count("results"), before + 1);

    const bad = new BadRecords();
    const events = new NatsEventLog(js, jsm, bad);
    const got: LogEntry[] = [];
    await events.read(1, 2, (e) => got.push(e));
    assert.deepEqual(got.map((e) => [e.seq, e.event?.type]), [
      [1, undefined],
      [2, "result"],
    ]);
    assert.equal(await events.output(1), "");
    assert.equal(await events.output(2), "hi");
    assert.equal(bad.count("results"), 1);
  });
});

Deno.test("results: GRID_RES deleted and created again is reported, and new results are read", async () => {
  await withNats(async ({ nc, js, jsm }) => {
    const result = (job: string, node: string) =>
      js.publish(
        subjects.result(job, 0, node),
        encodeJson(
          resultEvent({ job, step: 0, attempt: 1 }, node, "worker", {
            status: "success",
          }, { finishedAt: Date.now() }),
        ),
      );
    await result("j1", "a");
    await result("j1", "b");
    const old = jobRecord("j1", {
      expected: ["a", "b"],
      created_at: new Date(Date.now() - 5000).toISOString(),
      started_at: new Date(Date.now() - 5000).toISOString(),
      res_seq: 0,
      res_last: 2,
    });
    const events = new NatsEventLog(js, jsm);
    const live: LogEntry[] = [];
    const stopFollow = events.follow(await events.last(), (e) => live.push(e));
    try {
      const history = new JobHistory(js, events, () => undefined);
      assert.equal((await history.results(old)).results.get(0)!.size, 2);
      assert.equal(await history.stream.lost(old), undefined);

      await jsm.streams.delete(STREAM_RESULTS);
      await ensureTopology(nc);
      const lost = await waitFor(
        "the old job's results reported lost",
        () => history.stream.lost(old),
      );
      assert.match(
        lost,
        /^GRID_RES was recreated at .*, after this job started/,
      );
      assert.match(
        (await history.stream.status([{ rec: old, rev: 1 }])).problem ?? "",
        /^GRID_RES was recreated at .*, after 1 job had logged results/,
      );

      // A job started while its controller still read the old stream: its
      // res_seq points past the new one, its events are in it.
      await result("j2", "a");
      await waitFor(
        "the follower reading the new stream",
        () => live.some((e) => e.job === "j2"),
        15_000,
      );
      const stale = jobRecord("j2", {
        expected: ["a"],
        started_at: new Date().toISOString(),
        res_seq: 2,
        res_last: 1,
      });
      assert.equal(await history.stream.lost(stale), undefined);
      assert.deepEqual(
        [...(await history.results(stale)).results.get(0)!.keys()],
        ["a"],
      );
    } finally {
      stopFollow();
    }
  });
});
