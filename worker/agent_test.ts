/**
 * The agent on in-memory logs and a manual clock: what runs, what is
 * reported, and what the node record says, for commands delivered live,
 * read back, duplicated, re-sent, and cut off by a drain or a restart.
 * `clock.advance(0)` lets what is under way settle; nothing sleeps.
 */
import assert from "node:assert/strict";
import { iso } from "../lib/clock.ts";
import type { ResultEvent } from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";
import {
  HEARTBEAT_MS,
  heldCmd,
  NODE,
  runCmd,
  testAgent,
  WINDOW_MS,
} from "./testing.ts";

/** An outcome held before this run of the worker. */
function earlier(job: string, attempt = 1): ResultEvent {
  return {
    type: "result",
    job,
    step: 0,
    node: NODE,
    attempt,
    status: "success",
    output: "",
    finished_at: "2025-12-31T23:00:00.000Z",
    duration_ms: 1,
    by: "worker",
  };
}

/** A started agent running the first of `jobs` with the rest queued, all held. */
async function busy(...jobs: string[]) {
  const t = testAgent();
  await t.agent.start();
  const cmds = jobs.map((job) => heldCmd(t.clock, job));
  for (const cmd of cmds) t.commands.send(cmd);
  await t.clock.advance(0);
  return { ...t, cmds };
}

/** The record an earlier run of the worker left, killed while running `job`. */
function killedWhileRunning(now: number, job: string): NodeRecord {
  return {
    id: NODE,
    hostname: NODE,
    groups: [],
    backends: {},
    status: "online",
    last_seen: iso(now),
    started_at: iso(now - 60_000),
    version: "0",
    cmd_seq: 0,
    resume_seq: 0,
    running: { job, step: 0, attempt: 1, since: iso(now) },
    queued: 0,
  };
}

Deno.test("agent: a command delivered live runs and its outcome is reported", async () => {
  const t = testAgent();
  await t.agent.start();
  t.commands.send(runCmd(t.clock, "a"));
  await t.clock.advance(0);
  const ev = t.results.of("a");
  assert.equal(ev?.status, "success");
  assert.equal(ev?.output, "a ran");
  assert.equal(ev?.by, "worker");
  assert.equal(ev?.started_at, iso(t.clock.now()));
  await t.agent.stop();
});

Deno.test("agent: live and read-back copies of one attempt run once", async () => {
  const t = testAgent();
  const cmd = heldCmd(t.clock, "a");
  const seq = t.commands.append(cmd);
  await t.agent.start();
  assert.deepEqual(t.gates.started, ["a"]);
  // The live copy of what catch-up took, and the same attempt published again.
  t.commands.deliver(seq);
  t.commands.send(cmd);
  t.commands.resync();
  await t.clock.advance(0);
  t.gates.open("a");
  await t.clock.advance(0);
  assert.deepEqual(t.gates.started, ["a"]);
  assert.equal(t.results.reportCalls, 1);
  await t.agent.stop();
});

Deno.test("agent: a re-sent copy of a queued or running attempt does not run beside it", async () => {
  const t = await busy("a", "b");
  for (const cmd of t.cmds) t.commands.send({ ...cmd, resend: true });
  await t.clock.advance(0);
  assert.deepEqual(t.gates.started, ["a"]);
  t.gates.open("a");
  await t.clock.advance(0);
  t.gates.open("b");
  await t.clock.advance(0);
  assert.deepEqual(t.gates.started, ["a", "b"]);
  assert.equal(t.results.reportCalls, 2);
  await t.agent.stop();
});

Deno.test("agent: a re-send whose attempt has an outcome is not run; one without is", async () => {
  const t = testAgent();
  t.results.events.push(earlier("done"), earlier("older"));
  await t.agent.start();
  t.commands.send(heldCmd(t.clock, "done", { resend: true }));
  // Only an earlier attempt has an outcome: this one must run.
  t.commands.send(heldCmd(t.clock, "older", { resend: true, attempt: 2 }));
  t.commands.send(heldCmd(t.clock, "new", { resend: true }));
  await t.clock.advance(0);
  assert.deepEqual(t.gates.started, ["older"]);
  t.gates.open("older");
  await t.clock.advance(0);
  assert.deepEqual(t.gates.started, ["older", "new"]);
  t.gates.open("new");
  await t.clock.advance(0);
  assert.equal(t.results.of("done")?.output, "", "the earlier outcome stays");
  assert.equal(t.results.of("older", 2)?.status, "success");
  await t.agent.stop();
});

Deno.test("agent: a failed outcome look-up is retried before deciding", async () => {
  const t = testAgent();
  t.results.events.push(earlier("done"));
  t.results.failLookUps = 2;
  await t.agent.start();
  t.commands.send(heldCmd(t.clock, "done", { resend: true }));
  t.commands.send(heldCmd(t.clock, "next"));
  await t.clock.advance(0);
  // Intake is in order: nothing behind the look-up is taken meanwhile.
  assert.deepEqual(t.gates.started, []);
  await t.clock.advance(250 + 500);
  assert.equal(t.results.lookUps, 3);
  assert.deepEqual(t.gates.started, ["next"], "the third answer was heeded");
  t.gates.open("next");
  await t.agent.stop();
});

Deno.test("agent: when the look-up keeps failing, the task runs after the last try", async () => {
  const t = testAgent();
  t.results.events.push(earlier("x"));
  t.results.failLookUps = Infinity;
  await t.agent.start();
  t.commands.send(heldCmd(t.clock, "x", { resend: true }));
  // Waits of 250 ms × 1..7 between eight tries.
  await t.clock.advance(6999);
  assert.deepEqual(t.gates.started, []);
  await t.clock.advance(1);
  assert.deepEqual(t.gates.started, ["x"]);
  assert.equal(t.results.lookUps, 8);
  t.gates.open("x");
  await t.agent.stop();
});

Deno.test("agent: drain finishes the running task within the grace, reports queued ones as not run, goes offline", async () => {
  const t = await busy("a", "b", "c");
  const stopped = t.agent.stop(10_000);
  await t.clock.advance(0);
  for (const job of ["b", "c"]) {
    const ev = t.results.of(job);
    assert.equal(ev?.status, "failed", job);
    assert.equal(ev?.error, "not run: the worker is shutting down");
    assert.equal(ev?.retryable, true);
    assert.equal(ev?.started_at, undefined);
    assert.equal(ev?.duration_ms, 0);
  }
  // Taken no more: neither delivered nor read back.
  t.commands.send(runCmd(t.clock, "d"));
  t.commands.resync();
  await t.clock.advance(9000);
  assert.equal(t.results.of("a"), undefined);
  t.gates.open("a");
  await stopped;
  assert.equal(t.results.of("a")?.status, "success");
  assert.equal(t.results.of("d"), undefined);
  assert.deepEqual(t.gates.started, ["a"]);
  const rec = t.nodes.record!;
  assert.equal(rec.status, "offline");
  assert.equal(rec.running, undefined);
  assert.equal(rec.queued, 0);
  assert.equal(t.clock.pending, 0, "no timer outlives stop()");
});

Deno.test("agent: drain aborts a task still running when the grace ends", async () => {
  const t = await busy("a");
  const stopped = t.agent.stop(1000, "draining for maintenance");
  await t.clock.advance(999);
  assert.deepEqual(t.gates.holding, ["a"]);
  const putsBefore = t.nodes.puts.length;
  await t.clock.advance(1);
  await stopped;
  const ev = t.results.of("a");
  assert.equal(ev?.status, "failed");
  assert.match(ev?.error ?? "", /draining for maintenance/);
  assert.equal(ev?.retryable, true);
  assert.equal(t.nodes.puts.length, putsBefore + 1, "only the offline mark");
  assert.equal(t.nodes.record?.status, "offline");
  assert.equal(t.clock.pending, 0);
});

Deno.test("agent: a live command after a gap first reads the gap back, in order", async () => {
  const t = testAgent();
  await t.agent.start();
  // Lost while disconnected, among other nodes' commands.
  t.commands.append(runCmd(t.clock, "a"), 2);
  t.commands.append(runCmd(t.clock, "b"), 1);
  t.commands.send(runCmd(t.clock, "c"), 4);
  await t.clock.advance(0);
  assert.deepEqual(t.results.events.map((e) => e.job), ["a", "b", "c"]);
  assert.deepEqual(t.commands.reads.at(-1), { from: 1, to: 5 });
  // After a reconnect, what came meanwhile is read back.
  t.commands.append(runCmd(t.clock, "d"));
  t.commands.resync();
  await t.clock.advance(0);
  assert.equal(t.results.of("d")?.status, "success");
  await t.agent.stop();
});

Deno.test("agent: read back past the catch-up window, a command is history and not run", async () => {
  const t = testAgent();
  t.commands.append(runCmd(t.clock, "old"));
  await t.clock.advance(WINDOW_MS + 1);
  t.commands.append(runCmd(t.clock, "fresh"));
  await t.agent.start();
  await t.clock.advance(0);
  assert.deepEqual(t.results.events.map((e) => e.job), ["fresh"]);
  await t.agent.stop();
});

Deno.test("agent: after a restart, the interrupted task is reported and what had no outcome runs", async () => {
  const t = testAgent();
  const since = t.clock.now();
  // The log and the record an earlier run left: "done" reported, "cut"
  // running when it was killed, "queued" not started.
  t.nodes.record = { ...killedWhileRunning(since, "cut"), cmd_seq: 3 };
  await t.clock.advance(5000);
  for (const job of ["done", "cut", "queued"]) {
    t.commands.append(runCmd(t.clock, job));
  }
  t.results.events.push(earlier("done"));
  await t.agent.start();
  await t.clock.advance(0);
  assert.deepEqual(t.commands.reads[0], { from: 1, to: 3 });
  const cut = t.results.of("cut");
  assert.equal(cut?.status, "failed");
  assert.equal(
    cut?.error,
    "interrupted: the worker stopped while running this task",
  );
  assert.equal(cut?.started_at, iso(since));
  assert.equal(cut?.duration_ms, 5000);
  assert.equal(t.results.of("done")?.output, "");
  assert.equal(t.results.of("queued")?.status, "success");
  // A live copy of the interrupted attempt is not run either.
  t.commands.deliver(2);
  await t.clock.advance(0);
  assert.equal(t.results.of("cut")?.status, "failed");
  assert.deepEqual(
    t.results.events.map((e) => e.job),
    ["done", "cut", "queued"],
  );
  await t.agent.stop();
});

Deno.test("agent: the record's resume point stays below every command without an outcome", async () => {
  const t = testAgent();
  await t.agent.start();
  const a = t.commands.send(heldCmd(t.clock, "a"), 2);
  const b = t.commands.send(heldCmd(t.clock, "b"), 1);
  await t.clock.advance(HEARTBEAT_MS);
  let rec = t.nodes.record!;
  assert.equal(rec.status, "online");
  assert.equal(rec.cmd_seq, b);
  assert.equal(rec.resume_seq, a - 1);
  assert.equal(rec.running?.job, "a");
  assert.equal(rec.queued, 1);
  t.gates.open("a");
  await t.clock.advance(HEARTBEAT_MS);
  rec = t.nodes.record!;
  assert.equal(rec.resume_seq, b - 1);
  assert.equal(rec.running?.job, "b");
  assert.equal(rec.queued, 0);
  t.gates.open("b");
  // Other nodes' commands move the resume point too.
  const c = t.commands.send(runCmd(t.clock, "c"), 3);
  await t.clock.advance(HEARTBEAT_MS);
  rec = t.nodes.record!;
  assert.equal(rec.cmd_seq, c);
  assert.equal(rec.resume_seq, c);
  assert.equal(rec.running, undefined);
  await t.agent.stop();
  assert.equal(t.nodes.record?.resume_seq, c);
});

Deno.test("agent: a long task shows in the node record before the next heartbeat", async () => {
  const t = testAgent();
  await t.agent.start();
  t.commands.send(runCmd(t.clock, "quick"));
  await t.clock.advance(0);
  const puts = t.nodes.puts.length;
  await t.clock.advance(250);
  assert.equal(t.nodes.puts.length, puts, "a short task costs no write");
  t.commands.send(heldCmd(t.clock, "long"));
  await t.clock.advance(249);
  assert.equal(t.nodes.puts.length, puts);
  await t.clock.advance(1);
  assert.equal(t.nodes.record?.running?.job, "long");
  t.gates.open("long");
  await t.agent.stop();
});

Deno.test("agent: an abort stops the running attempt and drops a queued one", async () => {
  const t = await busy("a", "b");
  const abort = (job: string) =>
    t.commands.send({
      type: "abort",
      job,
      step: 0,
      attempt: 1,
      reason: "cancelled",
    });
  abort("b");
  abort("a");
  await t.clock.advance(0);
  assert.equal(t.results.of("a")?.error, "cancelled");
  assert.equal(t.results.of("b"), undefined);
  assert.deepEqual(t.gates.started, ["a"]);
  // A copy arriving after its abort does not run either.
  t.commands.send({ ...t.cmds[1]!, resend: true });
  await t.clock.advance(0);
  assert.deepEqual(t.gates.started, ["a"]);
  await t.agent.stop();
});

Deno.test("agent: a malformed command is skipped and the next one still runs", async () => {
  const t = testAgent();
  await t.agent.start();
  t.commands.send("{not json");
  t.commands.send(JSON.stringify({ type: "run", job: "x" }));
  t.commands.send(runCmd(t.clock, "ok"));
  await t.clock.advance(0);
  assert.deepEqual(t.results.events.map((e) => e.job), ["ok"]);
  await t.agent.stop();
});

Deno.test("agent: what intake holds when stop() begins is neither run nor read back", async () => {
  const t = testAgent();
  t.results.failLookUps = Infinity;
  await t.agent.start();
  t.commands.send(heldCmd(t.clock, "x", { resend: true }));
  t.commands.append(runCmd(t.clock, "lost"));
  t.commands.send(runCmd(t.clock, "y"));
  await t.clock.advance(0);
  const reads = t.commands.reads.length;
  await t.agent.stop();
  await t.clock.advance(10_000);
  assert.equal(t.results.lookUps, 2, "no look-up is retried once stopping");
  assert.equal(t.commands.reads.length, reads, "no gap is read back");
  assert.deepEqual(t.gates.started, []);
  assert.deepEqual(t.results.events, []);
  assert.equal(t.clock.pending, 0);
});

Deno.test("agent: after a restart, the interrupted attempt is not run again even if look-ups fail", async () => {
  const t = testAgent();
  t.nodes.record = killedWhileRunning(t.clock.now(), "cut");
  t.commands.append(heldCmd(t.clock, "cut"));
  t.results.failLookUps = Infinity;
  const started = t.agent.start();
  await t.clock.advance(7000);
  await started;
  assert.deepEqual(t.gates.started, []);
  assert.equal(t.results.of("cut")?.error?.startsWith("interrupted"), true);
  await t.agent.stop();
});
