/**
 * Rollouts through the runner, over in-memory logs and a manual clock: the
 * pause timer appends the resume, `resume` goes through the job's log, and
 * a controller that adopts a paused rollout runs no node twice.
 */
import assert from "node:assert/strict";
import type { JobSpec } from "../models/job.ts";
import type { Rollout } from "../models/rollout.ts";
import { runnerRig, steps } from "./testing.ts";
import { RefusedError } from "./errors.ts";

type Rig = Awaited<ReturnType<typeof runnerRig>>;
const NODES = ["a", "b", "c"];

async function submit(rig: Rig, rollout: Rollout): Promise<string> {
  const spec: JobSpec = {
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: steps(1),
    rollout,
  };
  const rec = await rig.runner.submit(spec);
  await rig.clock.advance(0);
  return rec.id;
}

const record = (rig: Rig, id: string) => rig.store.get(id)!.rec;
const ran = (rig: Rig) => NODES.filter((n) => rig.commands.runs(n).length > 0);

Deno.test("rollout runner: the pause timer appends a resume, then the next batch is sent", async () => {
  const rig = await runnerRig({ nodes: NODES });
  const id = await submit(rig, { batch: 1, pause: "10s" });
  assert.deepEqual(ran(rig), ["a"]);
  await rig.answer("a", "success");
  await rig.pass(1000, NODES);
  assert.equal(record(rig, id).rollout_status?.next_at !== undefined, true);
  await rig.pass(8000, NODES);
  assert.deepEqual(ran(rig), ["a"], "not before the pause is over");
  await rig.pass(2000, NODES);
  const resumes = rig.events.of(id).filter((e) => e.type === "resume");
  assert.deepEqual(resumes.map((e) => e.type === "resume" && e.batch), [2]);
  assert.deepEqual(ran(rig), ["a", "b"]);
  await rig.pass(3000, NODES);
  assert.equal(record(rig, id).rollout_status?.batch, 2);
  assert.equal(
    rig.events.of(id).filter((e) => e.type === "resume").length,
    1,
    "asked once",
  );
  await rig.answer("b", "success");
  await rig.pass(11_000, NODES);
  await rig.answer("c", "success");
  await rig.pass(1000, NODES);
  assert.equal(record(rig, id).status, "completed");
  await rig.runner.stop(false);
});

Deno.test("rollout runner: canary pauses, resume goes through the log, 409 when not paused", async () => {
  const rig = await runnerRig({ nodes: NODES });
  const id = await submit(rig, { batch: 2, canary: 1 });
  await assert.rejects(
    () => rig.runner.requests.resume(record(rig, id)),
    (e) => e instanceof RefusedError && e.kind === "conflict",
    "not paused while the canary runs",
  );
  await rig.answer("a", "success");
  await rig.pass(1000, NODES);
  const paused = record(rig, id);
  assert.equal(paused.status, "running");
  assert.equal(paused.rollout_status?.paused, true);
  await rig.pass(60_000, NODES);
  assert.deepEqual(ran(rig), ["a"], "a pause waits however long");
  const resumed = rig.runner.requests.resume(paused);
  await rig.pass(2000, NODES);
  const rec = await resumed;
  assert.equal(rec.rollout_status?.paused, undefined);
  assert.equal(rec.rollout_status?.batch, 2);
  assert.deepEqual(ran(rig), ["a", "b", "c"]);
  assert.deepEqual(
    rig.events.of(id).flatMap((e) => e.type === "resume" ? [e.batch] : []),
    [2],
  );
  await rig.runner.stop(false);
});

Deno.test("rollout runner: a successor adopts a paused rollout and runs no node twice", async () => {
  const first = await runnerRig({ id: "ctl-dead", nodes: NODES });
  const id = await submit(first, { batch: 2, canary: 1 });
  await first.answer("a", "success");
  await first.pass(1000, NODES);
  assert.equal(record(first, id).rollout_status?.paused, true);
  await first.runner.stop(false);

  const second = await runnerRig({
    id: "ctl-2",
    nodes: NODES,
    bucket: first.bucket,
    events: first.events,
    claims: first.claims,
    clock: first.clock,
  });
  await second.clock.advance(0);
  assert.equal(record(second, id).owner, "ctl-2");
  assert.equal(record(second, id).rollout_status?.paused, true);
  assert.deepEqual(ran(second), [], "nothing re-sent: the canary is done");
  const resumed = second.runner.requests.resume(record(second, id));
  await second.pass(2000, NODES);
  await resumed;
  assert.deepEqual(ran(second), ["b", "c"]);
  await second.answer("b", "success");
  await second.answer("c", "success");
  await second.pass(1000, NODES);
  assert.equal(record(second, id).status, "completed");
  assert.deepEqual(ran(second), ["b", "c"], "a never ran again");
  await second.runner.stop(false);
});

Deno.test("rollout runner: a successor keeps a pause's deadline and starts the next batch once", async () => {
  const first = await runnerRig({ id: "ctl-dead", nodes: NODES });
  const id = await submit(first, { batch: 1, pause: "20s" });
  await first.answer("a", "success");
  const due = first.clock.now() + 20_000;
  await first.pass(1000, NODES);
  await first.runner.stop(false);

  const second = await runnerRig({
    id: "ctl-2",
    nodes: NODES,
    bucket: first.bucket,
    events: first.events,
    claims: first.claims,
    clock: first.clock,
  });
  await second.clock.advance(0);
  assert.equal(record(second, id).owner, "ctl-2");
  assert.equal(
    record(second, id).rollout_status?.next_at,
    new Date(due).toISOString(),
    "the deadline comes from the log, not from when we adopted it",
  );
  while (second.clock.now() < due - 1000) await second.pass(1000, NODES);
  assert.deepEqual(ran(second), [], "not before the deadline");
  await second.pass(2000, NODES);
  assert.deepEqual(ran(second), ["b"]);
  assert.equal(
    second.events.of(id).filter((e) => e.type === "resume").length,
    1,
  );
  await second.runner.stop(false);
});
