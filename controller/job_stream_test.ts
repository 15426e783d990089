/**
 * `GET /job/:id/events` over the memory stand-ins: served by a controller
 * that does not run the job (the log and records are shared), resuming
 * with `Last-Event-ID` without gaps or duplicates.
 */
import assert from "node:assert/strict";
import { readSse, type SseEvent } from "../client/sse.ts";
import type { JobRecord } from "../models/job.ts";
import { ManualClock } from "../lib/clock.ts";
import { apiRig } from "./api_testing.ts";
import { EventLogFollower } from "./job_follow.ts";
import { jobStream } from "./job_stream.ts";
import { MemoryEventLog, steps } from "./testing.ts";

type Rig = Awaited<ReturnType<typeof apiRig>>;

/** Two controllers on one store and log: `a` runs jobs, `b` only serves. */
async function pair(fn: (a: Rig, b: Rig) => Promise<void>): Promise<void> {
  const a = await apiRig();
  const b = await apiRig({
    id: "ctl-2",
    passive: true,
    shared: {
      bucket: a.bucket,
      events: a.events,
      claims: a.claims,
      clock: a.clock,
    },
  });
  try {
    await fn(a, b);
  } finally {
    await b.stop();
    await a.stop();
  }
}

/** Reads the stream until `end`, moving `r`'s clock so the record is looked at. */
async function events(r: Rig, res: Response): Promise<SseEvent[]> {
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const out: SseEvent[] = [];
  let done = false;
  const reading = (async () => {
    for await (const e of readSse(res.body!)) {
      out.push(e);
      if (e.type === "end") break;
    }
    done = true;
  })();
  for (let i = 0; i < 200 && !done; i++) await r.clock.advance(250);
  await reading;
  assert.ok(done, "the stream ended");
  return out;
}

const data = (e: SseEvent) => JSON.parse(e.data);

/** Submits `spec` as an operator on `r`; its job's id. */
async function submit(r: Rig, spec: unknown): Promise<string> {
  const res = await r.call("POST", "/job", {
    scope: "operate",
    type: "application/json",
    body: JSON.stringify(spec),
  });
  return (await res.json()).id;
}

Deno.test("events: another controller streams a job's status and results, then ends", () =>
  pair(async (a, b) => {
    const id = await submit(a, {
      target: { scope: "group", value: "web" },
      tasks: steps(2),
    });
    const res = await b.call("GET", `/job/${id}/events`, { scope: "read" });
    const reading = events(b, res);
    await a.clock.advance(0);
    for (const node of ["web-01", "web-02", "web-01", "web-02"]) {
      await a.answer(node, "success");
    }
    const got = await reading;

    const statuses = got.filter((e) => e.type === "status").map(data);
    assert.equal(statuses[0].id, id);
    assert.deepEqual(
      [...new Set(statuses.map((s) => s.status))],
      ["pending", "running", "completed"].filter((s) =>
        statuses.some((x) => x.status === s)
      ),
    );
    assert.equal(statuses.at(-1).status, "completed");
    assert.equal(got.at(-1)!.type, "end");
    assert.deepEqual(data(got.at(-1)!), { status: "completed" });
    // The final status comes after the last result.
    const lastResult = got.findLastIndex((e) => e.type === "result");
    const final = got.findIndex((e) =>
      e.type === "status" && data(e).status === "completed"
    );
    assert.ok(lastResult < final);

    const results = got.filter((e) => e.type === "result");
    assert.deepEqual(results.map((e) => e.id), ["1.0", "2.0", "3.0", "4.0"]);
    const rows = results.flatMap((e) =>
      data(e).results.map((x: { step: number; node: string }) =>
        `${x.step}:${x.node}`
      )
    );
    assert.deepEqual(rows, ["0:web-01", "0:web-02", "1:web-01", "1:web-02"]);
    assert.equal(data(results[0]!).results[0].status, "success");
    assert.ok(!("output" in data(results[0]!).results[0]));
    // Only result events carry ids (no output here): a resumed client gets whole batches.
    assert.ok(got.filter((e) => e.type !== "result").every((e) => !e.id));

    // Resuming after event 2 brings 3 and 4, once each.
    const again = await events(
      b,
      await b.call("GET", `/job/${id}/events`, {
        scope: "read",
        headers: { "last-event-id": "2" },
      }),
    );
    assert.deepEqual(
      again.filter((e) => e.type === "result").map((e) => e.id),
      ["3.0", "4.0"],
    );
    // A finished job says so after its results.
    assert.deepEqual(again.map((e) => e.type), [
      "result",
      "result",
      "status",
      "end",
    ]);
  }));

Deno.test("events: a cancel's results come in one event, under the cancel's sequence", () =>
  pair(async (a, b) => {
    const id = await submit(a, { target: { scope: "all" }, tasks: steps(1) });
    await a.clock.advance(0);
    const res = await b.call("GET", `/job/${id.slice(0, 14)}/events`, {
      scope: "read",
    });
    const reading = events(b, res);
    const cancel = await a.call("POST", `/job/${id}/cancel`, {
      scope: "operate",
    });
    assert.equal(cancel.status, 200);
    await cancel.body?.cancel();
    const got = await reading;
    const results = got.filter((e) => e.type === "result");
    assert.equal(results.length, 1);
    const batch = data(results[0]!);
    assert.equal(`${batch.seq}.0`, results[0]!.id);
    assert.deepEqual(
      batch.results.map((x: { node: string; status: string }) =>
        `${x.node}:${x.status}`
      ),
      ["web-01:cancelled", "web-02:cancelled"],
    );
    assert.deepEqual(data(got.at(-1)!), { status: "cancelled" });
  }));

Deno.test("events: a job's one result with its output, by step and node", async () => {
  const r = await apiRig();
  try {
    const submitted = await r.call("POST", "/job", {
      scope: "operate",
      type: "application/json",
      body: JSON.stringify({ target: { scope: "all" }, tasks: steps(1) }),
    });
    const { id } = await submitted.json();
    await r.clock.advance(0);
    await r.answer("web-01", "success");
    const one = await r.call("GET", `/job/${id}/result/0/web-01`, {
      scope: "read",
    });
    assert.equal(one.status, 200);
    const body = await one.json();
    assert.equal(body.node, "web-01");
    assert.equal(body.status, "success");
    const none = await r.call("GET", `/job/${id}/result/0/web-02`, {
      scope: "read",
    });
    assert.equal(none.status, 404);
    await none.body?.cancel();
  } finally {
    await r.stop();
  }
});

Deno.test("events: at shutdown an open stream closes without `end`, so the client resumes elsewhere", async () => {
  const closing = new AbortController();
  const clock = new ManualClock();
  const rec: JobRecord = {
    id: "j1",
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: steps(1),
    status: "running",
    step: 0,
    expected: ["a"],
    offline: [],
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    started_at: "2026-01-01T00:00:00.000Z",
    res_seq: 0,
  };
  const stream = jobStream(
    {
      record: () => rec,
      follower: new EventLogFollower(new MemoryEventLog()),
      clock,
      closing: closing.signal,
    },
    rec,
    { res: 0, out: 0 },
  );
  const got: SseEvent[] = [];
  const reading = (async () => {
    for await (const e of readSse(stream)) got.push(e);
  })();
  await clock.advance(1000);
  closing.abort();
  await reading;
  assert.deepEqual(got.map((e) => e.type), ["status"]);
});

Deno.test("events: a rollout's status events say when it moved: paused after the canary, then the next batch", () =>
  pair(async (a, b) => {
    const id = await submit(a, {
      target: { scope: "group", value: "web" },
      tasks: [{ backend: "test", action: "succeed" }],
      rollout: { batch: 1, canary: 1 },
    });
    const res = await b.call("GET", `/job/${id}/events`, { scope: "read" });
    const reading = events(b, res);
    await a.clock.advance(0);
    await a.answer("web-01", "success");
    const resumed = a.call("POST", `/job/${id}/resume`, { scope: "operate" });
    await a.pass(1000, ["web-01", "web-02"]);
    assert.equal((await resumed).status, 200);
    await a.answer("web-02", "success");
    const got = await reading;

    const rollouts = got.filter((e) => e.type === "status")
      .map((e) => data(e).rollout_status)
      .filter((r) => r !== undefined)
      .map((r) => `${r.batch}/${r.batches}${r.paused ? " paused" : ""}`);
    const moves = rollouts.filter((r, i) => r !== rollouts[i - 1]);
    assert.deepEqual(moves, ["1/2", "1/2 paused", "2/2"]);
    // The short form: the counts per batch are GET /job/:id's.
    assert.ok(
      got.filter((e) => e.type === "status").every((e) =>
        data(e).rollout_status?.progress === undefined
      ),
    );
  }));
