/**
 * Rollouts on three controllers whose nats-servers form one JetStream
 * cluster, with four workers: a paused rollout is cancelled through a
 * controller that does not own it, and one whose owner crashed while it
 * waited for approval is resumed through a survivor, carrying on at the
 * next batch with no node run twice.
 */
import assert from "node:assert/strict";
import {
  assertStartedOnce,
  clusterConfig,
  ControllerSet,
  type Json,
  type Member,
  preferring,
  span,
  touched,
  waitFor,
  withControllers,
} from "./harness.ts";
import { batchesOf } from "../controller/rollout.ts";

const WORKERS = ["w1", "w2", "w3", "w4"];

/** Each step takes a moment, so batches are apart in time. */
const TASKS = [
  { backend: "test", action: "sleep", params: { duration: "1s" } },
  { backend: "ping", action: "echo", params: { message: "after" } },
];

/** Submits a rollout job through `via`; its id. */
async function submit(
  set: ControllerSet,
  via: Member,
  rollout: Json,
): Promise<string> {
  const r = await set.post(via, "/job", {
    strategy: "continue",
    rollout,
    tasks: TASKS,
  });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  return r.json.id;
}

/**
 * Until the job, as `via` sees it, is paused for approval after its
 * canary; then the job with its results. It polls the list, which opens
 * no JetStream reader per poll (see `waitJob`).
 */
async function waitPaused(
  set: ControllerSet,
  via: Member,
  id: string,
): Promise<Json> {
  await waitFor(
    `job ${id} to pause after its canary`,
    async () => {
      const jobs: Json[] = await set.get(via, "/jobs?limit=1000");
      return jobs.find((j) => j.id === id)?.rollout_status?.paused === true;
    },
    30_000,
    250,
  );
  const job = await set.get(via, `/job/${id}`);
  assert.equal(job.status, "running", JSON.stringify(job));
  assert.equal(job.rollout_status.paused, true);
  assert.equal(job.rollout_status.batch, 1);
  return job;
}

/**
 * Resumes the paused job through `via`. While JetStream elects leaders
 * after a server died the API answers 503 "try again shortly", or a
 * request outlasts its timeout: it is tried again, as an operator would.
 * A resume names the batch it starts, so one that landed before its
 * answer was lost is not applied twice; a retry then finds the job past
 * batch 1 (409), which counts as resumed.
 */
async function resume(
  set: ControllerSet,
  via: Member,
  id: string,
): Promise<void> {
  const outcomes: string[] = [];
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = await set.api(via, "POST", `/job/${id}/resume`, undefined, 30_000)
      .catch((e) => ({ status: 0, json: { error: String(e) } as Json }));
    outcomes.push(`${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
    const said = `resume via ${via.name}:\n${outcomes.join("\n")}`;
    if (r.status === 200) {
      assert.equal(r.json.rollout_status.paused, undefined, said);
      return;
    }
    if (r.status === 409 && outcomes.length > 1) {
      assert.match(
        r.json.error,
        /it is (running, batch [2-9] of|completed)/,
        said,
      );
      return;
    }
    assert.ok(r.status === 0 || r.status === 503, said);
    assert.ok(Date.now() < deadline, said);
    await new Promise((r) => setTimeout(r, 500));
  }
}

Deno.test("rollout cluster: cancel and resume through any controller; a crashed owner's paused rollout resumes at the next batch", async (t) => {
  const set = new ControllerSet(["c1", "c2", "c3"], clusterConfig());
  await withControllers(set, async () => {
    for (const m of set.members) set.start(m);
    await set.readyAll();
    for (const [i, id] of WORKERS.entries()) {
      await set.startWorker(id, preferring(set.natsUrls(), i));
    }
    await set.waitSettled(WORKERS);

    // A failed step throws here, so withControllers prints the logs.
    assert.ok(
      await t.step(
        "a cancel sent to a controller that does not own the paused job cancels it",
        async () => {
          const rollout = { canary: 1, batch: 1 };
          const id = await submit(set, set.members[0]!, rollout);
          const paused = await waitPaused(set, set.members[0]!, id);
          const canary = batchesOf(paused.expected, rollout)[0]!;
          assert.deepEqual(touched(paused), canary, "only the canary ran");

          const other = set.running().find((m) => m.name !== paused.owner)!;
          const r = await set.post(other, `/job/${id}/cancel`);
          assert.equal(r.status, 200, JSON.stringify(r.json));
          assert.equal(r.json.status, "cancelled", JSON.stringify(r.json));
          const job = await set.waitJob(other, id);
          assert.equal(job.status, "cancelled");
          assert.equal(job.owner, paused.owner, "the owner applied it");
          assert.equal(job.rollout_status.paused, undefined);
          assert.ok(job.rollout_status.stopped, JSON.stringify(job));
          assert.deepEqual(touched(job), canary);

          // Absence has no condition to wait on: a later job every worker runs
          // to completion stands for "long enough" for a stray batch to show.
          const later = await set.post(other, "/job", { tasks: [TASKS[1]] });
          assert.equal(later.status, 202, JSON.stringify(later.json));
          const laterDone = await set.waitJob(other, later.json.id);
          assert.equal(laterDone.status, "completed");
          assert.deepEqual(touched(await set.get(other, `/job/${id}`)), canary);
          assertStartedOnce(set, id, TASKS.length, canary);
        },
      ),
    );

    assert.ok(
      await t.step(
        "the owner crashes while paused; a resume sent to a survivor runs batch 2 on, each node once",
        async () => {
          const rollout = { canary: 1, batch: 1 };
          const entry = set.members[0]!;
          const id = await submit(set, entry, rollout);
          const paused = await waitPaused(set, entry, id);
          const batches = batchesOf(paused.expected, rollout);
          assert.deepEqual(batches, WORKERS.map((w) => [w]));
          assert.deepEqual(touched(paused), batches[0]);
          const canaryEnd = span(paused, batches[0]![0]!).end;

          const owner = set.member(paused.owner);
          await set.crash(owner);
          const survivor = set.running()[0]!;
          const resumedAt = Date.now();
          await resume(set, survivor, id);

          const job = await set.waitJob(survivor, id, 90_000);
          assert.equal(job.status, "completed", JSON.stringify(job));
          assert.notEqual(job.owner, owner.name, "a survivor took it over");
          assert.deepEqual(touched(job), WORKERS);
          for (const step of Object.keys(job.results)) {
            for (const w of WORKERS) {
              const res = job.results[step][w];
              assert.equal(
                res.status,
                "success",
                `${step}/${w}: ${JSON.stringify(res)}`,
              );
              assert.equal(
                res.attempts,
                1,
                `${step}/${w}: ${JSON.stringify(res)}`,
              );
            }
          }
          // The canary kept its results from before the crash.
          assert.equal(span(job, batches[0]![0]!).end, canaryEnd);
          assert.ok(
            span(job, batches[1]![0]!).start >= resumedAt - 50,
            "batch 2 ran after the resume",
          );
          for (let k = 1; k < batches.length; k++) {
            const prev = span(job, batches[k - 1]![0]!).end;
            const start = span(job, batches[k]![0]!).start;
            assert.ok(
              start >= prev,
              `batch ${k + 1} started ${
                prev - start
              }ms before batch ${k} ended`,
            );
          }
          const st = job.rollout_status;
          assert.equal(st.batch, batches.length);
          assert.equal(st.batches, batches.length);
          assert.equal(st.paused, undefined);
          assert.equal(st.stopped, undefined);
          assert.equal(st.failed, 0);
          assert.deepEqual(
            st.progress,
            batches.map((b) => ({
              nodes: b.length,
              done: b.length,
              failed: 0,
              pending: 0,
            })),
          );
          assertStartedOnce(set, id, TASKS.length, WORKERS);
        },
      ),
    );
  });
});
