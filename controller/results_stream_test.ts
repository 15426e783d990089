/**
 * Telling a job whose results are gone from GRID_RES (recreated, aged
 * out, purged) from one whose results are merely few, from the record and
 * the stream's facts alone.
 */
import assert from "node:assert/strict";
import type { JobRecord } from "../models/job.ts";
import { iso } from "../lib/clock.ts";
import {
  CLOCK_SKEW_MS,
  misplaced,
  resultsLost,
  ResultsStream,
  type ResultsStreamFacts,
} from "./results_stream.ts";
import type { Stored } from "./job_store.ts";
import { apiRig } from "./api_testing.ts";

const T = Date.parse("2026-05-01T00:00:00Z");

function rec(over: Partial<JobRecord> = {}): JobRecord {
  return {
    id: "j1",
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: [{ backend: "test", action: "succeed" }],
    status: "completed",
    step: 0,
    expected: ["a", "b"],
    offline: [],
    created_at: iso(T),
    updated_at: iso(T + 2000),
    started_at: iso(T),
    finished_at: iso(T + 2000),
    res_seq: 100,
    res_last: 110,
    ...over,
  };
}

const stream = (
  over: Partial<ResultsStreamFacts> = {},
): ResultsStreamFacts => ({
  created: T - 86_400_000,
  first_seq: 1,
  last_seq: 500,
  ...over,
});

Deno.test("results: a job whose range is in the stream has its results", () => {
  assert.equal(resultsLost(rec(), stream()), undefined);
  assert.equal(resultsLost(rec(), stream({ first_seq: 101 })), undefined);
  // Running: its range runs to the stream's end.
  assert.equal(
    resultsLost(rec({ status: "running", res_last: undefined }), stream()),
    undefined,
  );
});

Deno.test("results: a stream created again after the job started lost them", () => {
  // Deleted and created anew seconds after: sequences start over.
  const soon = stream({ created: T + 5000, first_seq: 1, last_seq: 3 });
  assert.match(
    resultsLost(rec(), soon) ?? "",
    /^GRID_RES was recreated at 2026-05-01T00:00:05.000Z, after this job started/,
  );
  // Long after, however far the new stream has come since.
  const later = stream({ created: T + CLOCK_SKEW_MS + 1, last_seq: 9000 });
  assert.match(resultsLost(rec(), later) ?? "", /was recreated/);
  // A running job the stream was recreated under: its last event came in
  // the new stream, before its first in the old one.
  assert.match(
    resultsLost(
      rec({ status: "failed", res_last: 2 }),
      stream({ created: T + 1000, last_seq: 10 }),
    ) ?? "",
    /was recreated/,
  );
});

Deno.test("results: a stream created just before by a clock a little ahead is not a loss", () => {
  // The server's clock says the stream is 5 s younger than the job, but
  // the job's range is in it: a fresh install, not a recreation.
  const skewed = stream({ created: T + 5000, first_seq: 1, last_seq: 500 });
  assert.equal(resultsLost(rec(), skewed), undefined);
});

Deno.test("results: aged out or purged, wholly or in part", () => {
  assert.match(
    resultsLost(rec(), stream({ first_seq: 111 })) ?? "",
    /^its results are no longer in GRID_RES \(aged out or purged\): the stream starts at sequence 111, after this job's last, 110$/,
  );
  assert.match(
    resultsLost(rec(), stream({ first_seq: 105 })) ?? "",
    /^some of its results are no longer in GRID_RES .* after this job's first, 101$/,
  );
});

Deno.test("results: jobs that logged nothing lose nothing", () => {
  const gone = stream({ created: T + 3_600_000, first_seq: 900, last_seq: 0 });
  for (
    const r of [
      rec({ status: "pending", started_at: undefined, res_seq: undefined }),
      rec({ status: "cancelled", started_at: undefined, res_seq: undefined }),
      rec({ expected: [] }),
      rec({ res_last: 100 }),
    ]
  ) {
    assert.equal(resultsLost(r, gone), undefined, JSON.stringify(r));
  }
});

Deno.test("results: a job started on the new stream with an old res_seq is read from the stream's start", () => {
  const s = stream({ created: T - 60_000, first_seq: 1, last_seq: 40 });
  const r = rec({ res_seq: 7000, res_last: 12 });
  assert.equal(resultsLost(r, s), undefined);
  assert.equal(misplaced(r, s), true);
  assert.equal(misplaced(rec({ res_seq: 10, res_last: 20 }), s), false);
});

Deno.test("results stream: status names the jobs that ran on the stream before", async () => {
  let facts = stream();
  let reads = 0;
  let now = T;
  const rs = new ResultsStream(() => {
    reads++;
    return Promise.resolve(facts);
  }, () => now);
  const jobs: Stored[] = [
    { rec: rec({ id: "j1" }), rev: 1 },
    { rec: rec({ id: "j2", expected: [] }), rev: 2 },
    {
      rec: rec({
        id: "j3",
        created_at: iso(T + 10 * 60_000),
        started_at: iso(T + 10 * 60_000),
        res_seq: 0,
        res_last: 5,
      }),
      rev: 3,
    },
  ];
  assert.deepEqual(await rs.status(jobs), {
    created: iso(facts.created),
    first_seq: 1,
    last_seq: 500,
  });
  assert.equal(await rs.lost(jobs[0]!.rec), undefined);
  assert.equal(reads, 1, "read once a second at most");

  facts = stream({ created: T + 5 * 60_000, first_seq: 1, last_seq: 40 });
  now += 1000;
  const s = await rs.status(jobs);
  assert.match(
    s.problem ?? "",
    /^GRID_RES was recreated at 2026-05-01T00:05:00.000Z, after 1 job had logged results to the one before/,
  );
  assert.match(await rs.lost(jobs[0]!.rec) ?? "", /was recreated/);
  assert.equal(await rs.lost(jobs[2]!.rec), undefined);

  const broken = new ResultsStream(
    () => Promise.reject(new Error("stream not found")),
  );
  assert.deepEqual(await broken.status(jobs), {
    problem: "GRID_RES cannot be read: stream not found",
  });
  assert.equal(await broken.lost(jobs[0]!.rec), undefined);
});

Deno.test("results stream: status does not wait out a stream that does not answer", async () => {
  let answer = true;
  const rs = new ResultsStream(
    () => answer ? Promise.resolve(stream()) : new Promise(() => {}),
    Date.now,
    0,
    10,
  );
  assert.equal((await rs.status([])).last_seq, 500);
  answer = false;
  assert.equal((await rs.status([])).last_seq, 500, "what it said last");
  const silent = new ResultsStream(
    () => new Promise(() => {}),
    Date.now,
    0,
    10,
  );
  assert.deepEqual(await silent.status([]), {
    problem: "GRID_RES cannot be read: JetStream has not answered yet",
  });
});

Deno.test("GET /jobs and /status say when results are lost", async () => {
  const r = await apiRig();
  const res = await r.call("POST", "/job", {
    scope: "operate",
    type: "application/json",
    body: JSON.stringify({ tasks: [{ backend: "test", action: "succeed" }] }),
  });
  assert.equal(res.status, 202);
  const { id } = await res.json();
  await r.clock.advance(0);
  await r.answer("web-01", "success");
  await r.answer("web-02", "success");
  await r.clock.advance(2000);
  const stored = r.store.get(id)!.rec;
  assert.equal(stored.status, "completed");

  const row = async () => {
    const list = await r.call("GET", "/jobs", { scope: "read" });
    return (await list.json()).find((j: { id: string }) => j.id === id);
  };
  const status = async () =>
    (await (await r.call("GET", "/status", { scope: "read" })).json())
      .results_stream;
  Object.assign(r.resultsFacts, { first_seq: 1, last_seq: stored.res_last });
  assert.equal((await row()).results_lost, undefined);
  assert.equal((await status()).problem, undefined);

  // GRID_RES deleted and created again: its sequences start over.
  Object.assign(r.resultsFacts, {
    created: r.clock.now() + 1000,
    first_seq: 0,
    last_seq: 0,
  });
  const lost = await row();
  assert.equal(lost.results_lost, true);
  assert.match(lost.results_lost_reason, /^GRID_RES was recreated at /);
  assert.match((await status()).problem, /after 1 job had logged results/);
  await r.stop();
});
