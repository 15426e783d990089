import assert from "node:assert/strict";
import type { JobRecord } from "../models/job.ts";
import { type JobEvent, resultEvent } from "../models/messages.ts";
import { JobRows } from "./job_rows.ts";
import { initFor } from "./plan.ts";
import { applyEvent, startJob } from "./scheduler.ts";
import { steps } from "./testing.ts";

const base: JobRecord = {
  id: "j1",
  target: { scope: "all" },
  strategy: "fail-fast",
  tasks: steps(2),
  status: "running",
  step: 0,
  expected: ["a", "b"],
  offline: [],
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
  res_seq: 0,
};

function result(node: string, step: number): JobEvent {
  return resultEvent({ job: "j1", step, attempt: 1 }, node, "worker", {
    status: "success",
  }, {
    finishedAt: 0,
  });
}

Deno.test("JobRows: a running job is folded once, then kept current from the feed; a finished one is cached", async () => {
  const log: [JobEvent, number][] = [[result("a", 0), 1]];
  let folds = 0;
  const rows = new JobRows((rec) => {
    folds++;
    const { state } = startJob({ ...initFor(rec, true), outputBudget: 0 });
    for (const [ev, seq] of log) applyEvent(state, ev, seq);
    return Promise.resolve(state);
  });
  const row = async (rec: JobRecord) => (await rows.rows([rec]))[0]!;
  assert.deepEqual((await row(base)).results, { "0": { success: 1 } });
  // Events the controller reads anyway bring the row up to date.
  for (const [node, step, seq] of [["b", 0, 2], ["a", 1, 3]] as const) {
    log.push([result(node, step), seq]);
    rows.observe({ seq, job: "j1", event: log.at(-1)![0] });
  }
  rows.observe({ seq: 9, job: "other", event: result("a", 0) });
  assert.deepEqual((await row(base)).results, {
    "0": { success: 2 },
    "1": { success: 1 },
  });
  assert.equal(folds, 1, "no reader per list request");

  const done = {
    ...base,
    status: "completed" as const,
    updated_at: "2026-01-01T00:00:09.000Z",
  };
  log.push([result("b", 1), 4]);
  const final = { "0": { success: 2 }, "1": { success: 2 } };
  assert.deepEqual((await row(done)).results, final);
  assert.deepEqual((await row(done)).results, final);
  assert.equal(folds, 2, "a finished job's counts are kept");
  assert.deepEqual((await row({ ...base, status: "pending" })).results, {});
});
