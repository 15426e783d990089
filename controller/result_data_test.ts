/**
 * A result's `data` through the controller: kept with the output (and
 * under the same memory budget), read back with it when it was not kept,
 * and shown by GET /job/:id and GET /job/:id/result/:step/:node.
 */
import assert from "node:assert/strict";
import { resultEvent } from "../models/messages.ts";
import { apiRig } from "./api_testing.ts";
import { planJob } from "./plan.ts";
import { applyEvent, startJob } from "./scheduler.ts";
import { MemoryEventLog } from "./testing.ts";
import { jobView, jobViewJson } from "./views.ts";
import type { JobRecord } from "../models/job.ts";

const DATA = { mount: "/", used_pct: 42, free_bytes: 1024 };

Deno.test("result data: GET /job/:id and the result route show it", async () => {
  const r = await apiRig();
  try {
    const res = await r.call("POST", "/job", {
      scope: "operate",
      type: "application/json",
      body: JSON.stringify({
        target: { scope: "node", value: "web-01" },
        tasks: [{ backend: "test", action: "succeed" }],
      }),
    });
    assert.equal(res.status, 202);
    const { id } = await res.json();
    await r.clock.advance(0);
    const { cmd } = r.commands.runs("web-01").at(-1)!;
    await r.events.append(
      resultEvent(cmd, "web-01", "worker", {
        status: "success",
        output: "disk / 42% used",
        data: DATA,
      }, { finishedAt: r.clock.now() }),
    );
    await r.clock.advance(0);
    const job = await (await r.call("GET", `/job/${id}`, { scope: "read" }))
      .json();
    assert.equal(job.status, "completed");
    assert.deepEqual(job.results["0"]["web-01"].data, DATA);
    assert.equal(job.results["0"]["web-01"].output, "disk / 42% used");
    const one = await (await r.call("GET", `/job/${id}/result/0/web-01`, {
      scope: "read",
    })).json();
    assert.deepEqual(one.data, DATA);
  } finally {
    await r.stop();
  }
});

function record(): JobRecord {
  return {
    id: "j1",
    status: "running",
    strategy: "continue",
    target: { scope: "all" },
    tasks: [{ backend: "test", action: "succeed" }],
    expected: ["a", "b"],
    created_at: "2026-01-01T00:00:00.000Z",
    started_at: "2026-01-01T00:00:00.000Z",
  } as JobRecord;
}

Deno.test("result data: shares the output budget, and is read back with it", async () => {
  const rec = record();
  const events = new MemoryEventLog();
  const ev = (node: string, output: string) =>
    resultEvent({ job: rec.id, step: 0, attempt: 1 }, node, "worker", {
      status: "success",
      output,
      data: DATA,
    }, { finishedAt: 1 });
  await events.append(ev("a", "aaaa"));
  await events.append(ev("b", "bbbb"));
  const one = 4 + JSON.stringify(DATA).length;
  // Room for one result's output and data, not two.
  const { state } = startJob({
    id: rec.id,
    strategy: "continue",
    phases: planJob(rec.tasks),
    nodes: rec.expected,
    keepOutput: true,
    keepResults: true,
    outputBudget: one + 1,
  });
  events.entries.forEach((e) => applyEvent(state, e.event!, e.seq));
  const a = state.results.get(0)!.get("a")!;
  const b = state.results.get(0)!.get("b")!;
  assert.deepEqual(a.data, DATA);
  assert.equal(a.output, "aaaa");
  assert.equal(b.data, undefined);
  assert.equal(b.output, undefined);
  assert.equal(b.outputDropped, true);
  let text = "";
  for await (
    const piece of jobViewJson(rec, state.results, (s) => events.stored(s))
  ) text += piece;
  const view = JSON.parse(text);
  assert.deepEqual(view.results["0"].b, {
    ...view.results["0"].b,
    output: "bbbb",
    data: DATA,
  });
  assert.deepEqual(view.results["0"].a.data, DATA);
  // The whole view is the same whichever way it was built.
  assert.deepEqual(
    Object.keys(view),
    Object.keys(jobView(rec, {})),
  );
});
