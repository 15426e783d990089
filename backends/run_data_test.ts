/**
 * An action's `data`: checked against its schema on the worker, carried
 * beside the output within one cap, and dropped (never failing the task)
 * when the action gets it wrong.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { ResultEvent, resultEvent } from "../models/messages.ts";
import { runAction } from "./run.ts";
import { fakeContext } from "./testing.ts";
import { type BackendDef, defineAction } from "./types.ts";

const Disk = z.object({ mount: z.string(), used_pct: z.number() });

function backend(data: unknown, output = "disk / 42% used"): BackendDef {
  return {
    name: "demo",
    actions: {
      typed: defineAction({
        params: z.strictObject({}),
        data: Disk,
        run: () => Promise.resolve({ output, data }),
      }),
      untyped: defineAction({
        params: z.strictObject({}),
        run: () => Promise.resolve({ output, data }),
      }),
    },
  };
}

const run = (b: BackendDef, action: string, max?: number) =>
  runAction(
    { demo: b },
    { backend: "demo", action, params: {} },
    fakeContext(),
    max === undefined ? {} : { maxOutputBytes: max },
  );

Deno.test("data - a shape the schema accepts rides beside the output", async () => {
  const r = await run(backend({ mount: "/", used_pct: 42 }), "typed");
  assert.equal(r.status, "success");
  assert.deepEqual(r.data, { mount: "/", used_pct: 42 });
  assert.equal(r.output, "disk / 42% used");
  assert.equal(r.dataIssue, undefined);
  // And into the result event, as the controller stores it.
  const ev = resultEvent({ job: "j", step: 0, attempt: 1 }, "n1", "worker", r, {
    startedAt: 0,
    finishedAt: 5,
  });
  assert.deepEqual(ResultEvent.parse(ev).data, { mount: "/", used_pct: 42 });
});

Deno.test("data - what the schema makes of it is what travels", async () => {
  const b: BackendDef = {
    name: "demo",
    actions: {
      typed: defineAction({
        params: z.strictObject({}),
        data: z.object({ n: z.coerce.number() }),
        run: () => Promise.resolve({ output: "", data: { n: "7", extra: 1 } }),
      }),
    },
  };
  assert.deepEqual((await run(b, "typed")).data, { n: 7 });
});

Deno.test("data - a bad shape is the action's bug: data dropped, output kept, task succeeds", async () => {
  const r = await run(backend({ mount: "/", used_pct: "lots" }), "typed");
  assert.equal(r.status, "success");
  assert.equal(r.data, undefined);
  assert.equal(r.output, "disk / 42% used");
  assert.match(r.dataIssue!, /does not match its schema: used_pct: /);
  const ev = resultEvent({ job: "j", step: 0, attempt: 1 }, "n1", "worker", r, {
    finishedAt: 5,
  });
  assert.ok(!("data" in ev));
});

Deno.test("data - an action without a data schema may not return data", async () => {
  const r = await run(backend({ any: 1 }), "untyped");
  assert.equal(r.status, "success");
  assert.equal(r.data, undefined);
  assert.match(r.dataIssue!, /declares no data schema/);
});

Deno.test("data - no data, no field and no issue", async () => {
  const r = await run(backend(undefined), "typed");
  assert.ok(!("data" in r));
  assert.ok(!("dataIssue" in r));
});

Deno.test("data - output and data share the one cap", async () => {
  const data = { mount: "/".repeat(300), used_pct: 1 };
  const dataBytes = JSON.stringify(data).length;
  const max = 1000;
  const r = await run(backend(data, "x".repeat(5000)), "typed", max);
  assert.deepEqual(r.data, data);
  const outBytes = new TextEncoder().encode(r.output).length;
  assert.ok(outBytes + dataBytes <= max, `${outBytes} + ${dataBytes}`);
  assert.match(r.output, /\[output truncated: \d+ bytes dropped\]$/);
  // Data alone over the cap is dropped, and the output gets it all.
  const huge = { mount: "/".repeat(2000), used_pct: 1 };
  const h = await run(backend(huge, "small"), "typed", max);
  assert.equal(h.data, undefined);
  assert.equal(h.output, "small");
  assert.match(h.dataIssue!, /over the 1000-byte result cap/);
});
