import assert from "node:assert/strict";
import type { JobRecord } from "../models/job.ts";
import type { Outcome } from "./job_state.ts";
import {
  hasDroppedOutput,
  jobView,
  jobViewJson,
  resultsView,
} from "./views.ts";

const rec: JobRecord = {
  id: "0000000000100000",
  target: { scope: "all" },
  strategy: "fail-fast",
  tasks: [{ backend: "ping", action: "echo" }],
  status: "completed",
  step: 0,
  expected: ["a", "b"],
  offline: [],
  created_at: "2026-11-27T00:00:00.000Z",
  updated_at: "2026-11-27T00:00:01.000Z",
  res_seq: 7,
};

function results(dropped: boolean): Map<number, Map<string, Outcome>> {
  const o = (output: string, seq: number): Outcome => ({
    status: "success",
    attempts: 1,
    durationMs: 2300,
    seq,
    ...(dropped ? { outputDropped: true } : { output }),
  });
  return new Map([
    [0, new Map([["b", o("out-b", 2)], ["a", o("out-a", 1)]])],
    [1, new Map([["a", o("x", 3)]])],
  ]);
}

Deno.test("jobViewJson() writes the same JSON as the in-memory view", async () => {
  const stored = new Map([[1, "out-a"], [2, "out-b"], [3, "x"]]);
  let text = "";
  const loaded: number[] = [];
  for await (
    const chunk of jobViewJson(rec, results(true), (seq) => {
      loaded.push(seq);
      return Promise.resolve({ output: stored.get(seq)! });
    })
  ) text += chunk;
  assert.deepEqual(JSON.parse(text), jobView(rec, resultsView(results(false))));
  assert.deepEqual(loaded, [1, 2, 3]);
  assert.equal(JSON.parse(text).results["0"].a.duration, "2.3s");
  assert.equal("res_seq" in JSON.parse(text), false);
});

Deno.test("hasDroppedOutput() tells when a view must stream", () => {
  assert.equal(hasDroppedOutput(results(true)), true);
  assert.equal(hasDroppedOutput(results(false)), false);
});

Deno.test("a fold keeps outputs up to its budget and flags the rest", async () => {
  const { applyEvent, startJob } = await import("./scheduler.ts");
  const { planJob } = await import("./plan.ts");
  const { state } = startJob({
    id: "j",
    strategy: "fail-fast",
    phases: planJob([{ backend: "ping", action: "echo" }]),
    nodes: ["a", "b"],
    keepOutput: true,
    outputBudget: 3,
  });
  for (const [node, output, seq] of [["a", "ab", 1], ["b", "cd", 2]] as const) {
    applyEvent(state, {
      type: "result",
      job: "j",
      step: 0,
      node,
      attempt: 1,
      status: "success",
      output,
      finished_at: "2026-11-27T00:00:00.000Z",
      duration_ms: 1,
      by: "worker",
    }, seq);
  }
  const step = state.results.get(0)!;
  assert.equal(step.get("a")!.output, "ab");
  assert.equal(step.get("b")!.output, undefined);
  assert.equal(step.get("b")!.outputDropped, true);
  assert.equal(step.get("b")!.seq, 2);
});
