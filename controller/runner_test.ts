/**
 * The runner over in-memory logs, buckets and a manual clock: liveness,
 * re-sends, fencing and takeover, each in milliseconds and without NATS.
 */
import assert from "node:assert/strict";
import type { JobRecord } from "../models/job.ts";
import { resultEvent } from "../models/messages.ts";
import { iso } from "../lib/clock.ts";
import { encodeJson } from "../lib/nats.ts";
import { OFFLINE_AFTER_MS, runnerRig, steps } from "./testing.ts";
import { RefusedError } from "./errors.ts";
import { CURRENT_WAIT_MS } from "./requests.ts";

type Rig = Awaited<ReturnType<typeof runnerRig>>;

async function submitted(rig: Rig, n = 1): Promise<string> {
  const rec = await rig.runner.submit({
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: steps(n),
  });
  await rig.clock.advance(0);
  return rec.id;
}

const status = (rig: Rig, id: string) => rig.store.get(id)?.rec.status;

/** A second controller on the same store, logs and claims as `first`. */
const successor = (first: Rig) =>
  runnerRig({
    id: "ctl-2",
    bucket: first.bucket,
    events: first.events,
    claims: first.claims,
    clock: first.clock,
  });

Deno.test("runner: a node that stops heartbeating with a task is failed as lost, once", async () => {
  const rig = await runnerRig();
  const id = await submitted(rig);
  assert.equal(rig.commands.runs("a").length, 1);
  assert.equal(rig.commands.runs("b").length, 1);
  await rig.answer("a", "success");

  // b goes silent; a keeps beating. Nothing is decided before offline_after.
  await rig.pass(OFFLINE_AFTER_MS - 2000, ["a"]);
  assert.equal(rig.events.of(id).length, 1);
  await rig.pass(4000, ["a"]);
  const lost = rig.events.of(id).filter((e) =>
    e.type === "result" && e.by === "controller"
  );
  assert.equal(lost.length, 1);
  assert.match(
    lost[0]!.type === "result" ? lost[0]!.error ?? "" : "",
    /node lost: no heartbeat for 15s/,
  );
  await rig.pass(5000, ["a"]);
  assert.equal(status(rig, id), "failed");
  assert.equal(
    rig.events.of(id).filter((e) => e.type === "result" && e.node === "b")
      .length,
    1,
    "b is judged lost once",
  );
  await rig.runner.stop(false);
});

Deno.test("runner: no node is judged lost while the registry is not current", async () => {
  const rig = await runnerRig();
  const id = await submitted(rig);
  // No heartbeat arrives, but our own writes do not come back either: an
  // outage (or a stuck follower), not a dead fleet.
  rig.fleet.stale = true;
  await rig.pass(OFFLINE_AFTER_MS * 2);
  assert.equal(rig.events.of(id).length, 0);
  assert.equal(status(rig, id), "running");
  // Back: the nodes get offline_after to report again before anyone is lost.
  rig.fleet.stale = false;
  await rig.pass(OFFLINE_AFTER_MS - 2000);
  assert.equal(rig.events.of(id).length, 0);
  await rig.pass(4000);
  assert.equal(rig.events.of(id).length, 2, "then silent nodes are lost");
  await rig.runner.stop(false);
});

Deno.test("runner: a command a heartbeating node never takes is re-sent with a fresh id", async () => {
  const rig = await runnerRig();
  const id = await submitted(rig);
  const first = rig.commands.runs("b")[0]!;
  // a takes its command (cmd_seq moves past it); b never does.
  const a = rig.commands.runs("a")[0]!;
  await rig.pass(6000, ["b"]);
  rig.fleet.beat("a", { cmd_seq: a.seq, resume_seq: a.seq - 1 });
  await rig.pass(2000, ["a", "b"]);
  const again = rig.commands.runs("b");
  assert.equal(again.length, 2, "b gets the command again");
  assert.equal(again[1]!.msgId, `${first.msgId}.r1`);
  assert.equal(again[1]!.cmd.resend, true);
  assert.deepEqual(
    { job: again[1]!.cmd.job, step: again[1]!.cmd.step },
    { job: id, step: 0 },
  );
  assert.equal(rig.commands.runs("a").length, 1, "a took it: no re-send");
  await rig.runner.stop(false);
});

Deno.test("runner: a command taken and passed without an outcome is re-sent", async () => {
  const rig = await runnerRig({ nodes: ["a"] });
  await submitted(rig);
  const { seq } = rig.commands.runs("a")[0]!;
  // The node took it and says everything up to it has an outcome, yet none came.
  rig.fleet.beat("a", { cmd_seq: seq, resume_seq: seq });
  await rig.pass(8000, ["a"]);
  assert.equal(rig.commands.runs("a").length, 2);
  await rig.runner.stop(false);
});

Deno.test("runner: a record from a later epoch fences the job: nothing more is sent for it", async () => {
  const rig = await runnerRig();
  const id = await submitted(rig, 2);
  const mine = rig.store.get(id)!;
  assert.equal(mine.rec.owner, "ctl-1");
  // A live peer took the job over under the next epoch.
  rig.peers.live.add("ctl-2");
  const theirs: JobRecord = {
    ...mine.rec,
    owner: "ctl-2",
    epoch: (mine.rec.epoch ?? 0) + 1,
  };
  await rig.bucket.put(id, encodeJson(theirs));
  await rig.clock.advance(0);
  assert.equal(rig.runner.active.has(id), false);

  await rig.answer("a", "success");
  await rig.answer("b", "success");
  await rig.pass(OFFLINE_AFTER_MS * 2);
  assert.deepEqual(
    rig.commands.stored.map((c) => c.cmd.step),
    [0, 0],
    "no step 1, no re-send, no lost-node decision from a fenced controller",
  );
  assert.equal(rig.events.of(id).length, 2);
  assert.equal(rig.store.get(id)!.rec.owner, "ctl-2", "their record stands");
  await rig.runner.stop(false);
});

Deno.test("runner: without its lease a controller sends nothing, then catches up", async () => {
  const rig = await runnerRig();
  rig.peers.beatFailing = true;
  await rig.pass(16_000, ["a", "b"]);
  const id = await submitted(rig);
  assert.equal(rig.commands.stored.length, 0);
  rig.peers.beatFailing = false;
  await rig.pass(2000, ["a", "b"]);
  assert.equal(rig.commands.runs("a").length, 1);
  assert.equal(rig.commands.runs("b").length, 1);
  assert.equal(status(rig, id), "running");
  await rig.runner.stop(false);
});

Deno.test("runner: takeover replays a dead peer's job and re-sends only what is open", async () => {
  const first = await runnerRig({ id: "ctl-dead" });
  const id = await submitted(first, 2);
  await first.answer("a", "success");
  await first.answer("b", "success");
  // Step 1 went out; a answered, then its controller died (no release).
  assert.equal(first.commands.runs("b").at(-1)!.cmd.step, 1);
  await first.answer("a", "success");
  await first.runner.stop(false);

  const second = await successor(first);
  await second.clock.advance(0);
  const rec = second.store.get(id)!.rec;
  assert.equal(rec.owner, "ctl-2");
  assert.equal(rec.epoch, 2);
  assert.equal(rec.step, 1);
  // Only b's step 1 is open, and it may have reached b before.
  assert.deepEqual(
    ["a", "b"].flatMap((n) =>
      second.commands.runs(n).map((c) => [n, c.cmd.step, c.cmd.resend])
    ),
    [["b", 1, true]],
  );
  await second.answer("b", "success");
  await second.clock.advance(0);
  assert.equal(status(second, id), "completed");
  await second.runner.stop(false);
});

Deno.test("runner: a job adopted while its peer's cancel is in the log ends cancelled", async () => {
  const first = await runnerRig({ id: "ctl-dead" });
  const id = await submitted(first, 2);
  await first.runner.stop(false);
  await first.events.append({
    type: "cancel",
    job: id,
    at: iso(first.clock.now()),
    reason: "cancelled by request",
  });
  const second = await successor(first);
  await second.clock.advance(0);
  assert.equal(status(second, id), "cancelled");
  await second.runner.stop(false);
});

Deno.test("runner: a retry waits out its backoff before it is sent", async () => {
  const rig = await runnerRig({ nodes: ["a"] });
  const rec = await rig.runner.submit({
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: [{ backend: "test", action: "succeed", max_retries: 1 }],
  });
  await rig.clock.advance(0);
  const cmd = rig.commands.runs("a")[0]!.cmd;
  await rig.events.append(
    resultEvent(cmd, "a", "worker", { status: "failed", retryable: true }, {
      finishedAt: rig.clock.now(),
    }),
  );
  await rig.clock.advance(900);
  assert.equal(rig.commands.runs("a").length, 1, "not before 1s");
  await rig.clock.advance(200);
  assert.equal(rig.commands.runs("a").at(-1)!.cmd.attempt, 2);
  assert.equal(status(rig, rec.id), "running");
  await rig.runner.stop(false);
});

Deno.test("requests: refusals say what is wrong, in domain terms", async () => {
  const rig = await runnerRig();
  const refused = async (p: Promise<unknown>, kind: string) => {
    const e = await p.then(() => undefined, (e) => e);
    assert.ok(e instanceof RefusedError, String(e));
    assert.equal(e.kind, kind);
    return e.message;
  };
  assert.match(
    await refused(rig.runner.cancel("nope"), "not_found"),
    /job "nope" not found/,
  );
  assert.match(
    await refused(
      rig.runner.submit({
        target: { scope: "group", value: "db" },
        strategy: "fail-fast",
        tasks: steps(1),
      }),
      "invalid",
    ),
    /^target: no registered node matches group "db"/,
  );
  const id = await submitted(rig);
  await rig.answer("a", "success");
  await rig.answer("b", "success");
  await rig.clock.advance(0);
  assert.match(
    await refused(rig.runner.cancel(id), "conflict"),
    /is already completed/,
  );
  await rig.runner.stop(false);
});

Deno.test("requests: a pending job is cancelled in place and never runs", async () => {
  const rig = await runnerRig({ config: { maxConcurrent: 1 } });
  await submitted(rig);
  const queued = await rig.runner.submit({
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: steps(1),
  });
  assert.equal(status(rig, queued.id), "pending");
  const rec = await rig.runner.cancel(queued.id);
  assert.equal(rec.status, "cancelled");
  assert.equal(rec.error, "cancelled before it started");
  await rig.answer("a", "success");
  await rig.answer("b", "success");
  await rig.clock.advance(0);
  assert.equal(
    rig.commands.stored.filter((c) => c.cmd.job === queued.id).length,
    0,
  );
  await rig.runner.stop(false);
});

Deno.test("runner: in a barrier step, a node that reported is not re-sent the command while another is slow", async () => {
  const rig = await runnerRig();
  const id = await submitted(rig);
  const a = rig.commands.runs("a")[0]!;
  const b = rig.commands.runs("b")[0]!;
  await rig.answer("a", "success");
  // a took its command and has an outcome for it; b is still running its task.
  rig.fleet.beat("a", { cmd_seq: a.seq, resume_seq: a.seq });
  rig.fleet.beat("b", { cmd_seq: b.seq, resume_seq: b.seq - 1 });
  await rig.pass(OFFLINE_AFTER_MS * 2, ["a", "b"]);
  assert.equal(rig.commands.runs("a").length, 1, "a already answered");
  assert.equal(rig.commands.runs("b").length, 1, "b took it and is running");
  // Nor is a judged lost when it goes quiet afterwards.
  await rig.pass(OFFLINE_AFTER_MS * 2, ["b"]);
  assert.deepEqual(
    rig.events.of(id).filter((e) => e.type === "result").map((e) =>
      e.type === "result" ? [e.node, e.status, e.by] : []
    ),
    [["a", "success", "worker"]],
  );
  await rig.answer("b", "success");
  assert.equal(status(rig, id), "completed");
  await rig.runner.stop(false);
});

Deno.test("requests: while the registry is not current, nothing starts and submits are refused", async () => {
  const rig = await runnerRig({ config: { maxConcurrent: 1 } });
  await submitted(rig);
  const queued = await rig.runner.submit({
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: steps(1),
  });
  rig.fleet.stale = true;
  await rig.pass(OFFLINE_AFTER_MS);
  await rig.answer("a", "success");
  await rig.answer("b", "success");
  await rig.pass(2000);
  // The first job finished; the queued one waits for a view it can trust.
  assert.equal(status(rig, queued.id), "pending");
  // A submit waits a while for the view to turn current, then is refused.
  const refused = assert.rejects(
    rig.runner.submit({
      target: { scope: "all" },
      strategy: "fail-fast",
      tasks: steps(1),
    }),
    (e) => e instanceof RefusedError && e.kind === "unavailable",
  );
  await rig.pass(CURRENT_WAIT_MS);
  await refused;
  rig.fleet.stale = false;
  await rig.pass(6000, ["a", "b"]);
  assert.equal(status(rig, queued.id), "running");
  await rig.runner.stop(false);
});

Deno.test("requests: a submit while the registry is briefly not current waits for it and is taken", async () => {
  const rig = await runnerRig();
  rig.fleet.stale = true;
  await rig.pass(OFFLINE_AFTER_MS, ["a", "b"]);
  const got: { rec?: JobRecord; error?: unknown } = {};
  rig.runner.submit({
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: steps(1),
  }).then((r) => got.rec = r, (e) => got.error = e);
  await rig.pass(1000, ["a", "b"]);
  assert.deepEqual(got, {}, "still waiting for a view it can trust");
  rig.fleet.stale = false;
  await rig.pass(200, ["a", "b"]);
  assert.equal(got.error, undefined);
  assert.ok(got.rec, "taken once the view is current");
  await rig.pass(100, ["a", "b"]);
  assert.equal(status(rig, got.rec.id), "running");
  await rig.runner.stop(false);
});

Deno.test("runner: a job whose final record is still being written is not adopted again", async () => {
  const rig = await runnerRig();
  // The write of the finished record hangs, as a slow store's would.
  const held: (() => void)[] = [];
  const update = rig.bucket.update.bind(rig.bucket);
  rig.bucket.update = (key, value, rev) =>
    new TextDecoder().decode(value).includes('"status":"completed"')
      ? new Promise((ok) => held.push(() => ok(update(key, value, rev))))
      : update(key, value, rev);
  const id = await submitted(rig);
  await rig.answer("a", "success");
  await rig.answer("b", "success");
  assert.equal(held.length, 1, "the final write is under way");
  assert.equal(status(rig, id), "running", "as stored so far");
  // Takeover rounds come and go: the job is ours and stored as running,
  // but it is done here, not lost.
  await rig.pass(3 * rig.peers.heartbeatMs, ["a", "b"]);
  assert.equal(rig.runner.active.has(id), false);
  held[0]!();
  await rig.clock.advance(0);
  assert.equal(status(rig, id), "completed");
  assert.equal(rig.runner.active.has(id), false);
  await rig.runner.stop(false);
});
