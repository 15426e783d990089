import assert from "node:assert/strict";
import { z } from "zod";
import { sleep } from "./abort.ts";
import { runAction } from "./run.ts";
import { fakeContext } from "./testing.ts";
import { ActionError, type BackendDef, defineAction } from "./types.ts";

let ran = 0;
const demo: BackendDef = {
  name: "demo",
  actions: {
    ok: defineAction({
      params: z.strictObject({ n: z.string().default("1") }),
      run: (p) => {
        ran++;
        return Promise.resolve({ output: `n=${p.n}` });
      },
    }),
    big: defineAction({
      params: z.strictObject({}),
      run: () => Promise.resolve({ output: "é".repeat(200_000) }),
    }),
    refuse: defineAction({
      params: z.strictObject({}),
      run: () =>
        Promise.reject(
          new ActionError("Disk is full", false, "partial output"),
        ),
    }),
    crash: defineAction({
      params: z.strictObject({ kind: z.string() }),
      run: (p) =>
        Promise.reject(
          p.kind === "type"
            ? new TypeError("x is undefined")
            : new Error("socket closed"),
        ),
    }),
    wait: defineAction({
      params: z.strictObject({}),
      run: async (_p, ctx) => {
        await sleep(30_000, ctx.signal);
        return { output: "done" };
      },
    }),
    stubborn: defineAction({
      params: z.strictObject({}),
      // Ignores the signal entirely: runAction must not wait for it forever.
      run: () => new Promise(() => {}),
    }),
    lateSuccess: defineAction({
      params: z.strictObject({}),
      run: async (_p, ctx) => {
        await new Promise((r) => ctx.signal.addEventListener("abort", r));
        return { output: "finished anyway" };
      },
    }),
  },
};

const asMap = new Map([["demo", demo]]);
const asRecord = { demo };

Deno.test("run - success", async () => {
  for (const backends of [asMap, asRecord]) {
    assert.deepEqual(
      await runAction(backends, {
        backend: "demo",
        action: "ok",
        params: { n: "2" },
      }, fakeContext()),
      { status: "success", output: "n=2", retryable: false },
    );
  }
});

Deno.test("run - unknown backend or action is a non-retryable failure", async () => {
  for (const backends of [asMap, asRecord]) {
    for (const name of ["nope", "constructor", "__proto__", "toString"]) {
      const r = await runAction(backends, {
        backend: name,
        action: "ok",
        params: {},
      }, fakeContext());
      assert.deepEqual(r, {
        status: "failed",
        output: "",
        error: `Unknown backend ${JSON.stringify(name)} (this node has: demo)`,
        retryable: false,
      });
    }
    for (const name of ["nope", "hasOwnProperty"]) {
      const r = await runAction(backends, {
        backend: "demo",
        action: name,
        params: {},
      }, fakeContext());
      assert.equal(r.retryable, false);
      assert.match(
        r.error!,
        new RegExp(
          `^Backend "demo" has no action "${name}" \\(actions: big, crash, `,
        ),
      );
    }
  }
});

Deno.test("run - invalid params fail before anything runs", async () => {
  const before = ran;
  const r = await runAction(asMap, {
    backend: "demo",
    action: "ok",
    params: { n: "1", m: "2", k: "3" },
  }, fakeContext());
  assert.deepEqual(r, {
    status: "failed",
    output: "",
    error:
      'invalid params: param "m": is not a param of this action (accepted: n); param "k": is not a param of this action (accepted: n)',
    retryable: false,
  });
  assert.equal(ran, before);
});

Deno.test("run - ActionError and other exceptions", async () => {
  assert.deepEqual(
    await runAction(
      asMap,
      { backend: "demo", action: "refuse", params: {} },
      fakeContext(),
    ),
    {
      status: "failed",
      output: "partial output",
      error: "Disk is full",
      retryable: false,
    },
  );
  const io = await runAction(asMap, {
    backend: "demo",
    action: "crash",
    params: { kind: "io" },
  }, fakeContext());
  assert.equal(io.error, "socket closed");
  assert.equal(io.retryable, true);
  const bug = await runAction(asMap, {
    backend: "demo",
    action: "crash",
    params: { kind: "type" },
  }, fakeContext());
  assert.equal(bug.error, "x is undefined");
  assert.equal(bug.retryable, false);
});

Deno.test("run - output is capped at 256 KiB", async () => {
  const r = await runAction(asMap, {
    backend: "demo",
    action: "big",
    params: {},
  }, fakeContext());
  assert.ok(new TextEncoder().encode(r.output).length <= 262144);
  const m = r.output.match(/\n\[output truncated: (\d+) bytes dropped\]$/);
  assert.ok(m);
  assert.ok(!r.output.includes("\uFFFD"));
  const small = await runAction(
    asMap,
    { backend: "demo", action: "big", params: {} },
    fakeContext(),
    {
      maxOutputBytes: 100,
    },
  );
  assert.ok(new TextEncoder().encode(small.output).length <= 100);
  assert.match(small.output, /\[output truncated: 399\d{3} bytes dropped\]$/);
});

Deno.test("run - an abort reports the reason", async () => {
  const reasons: [unknown, string][] = [
    ["timed out after 2s", "timed out after 2s"],
    [new Error("cancelled"), "cancelled"],
    [undefined, "The signal has been aborted"],
  ];
  for (const [reason, expected] of reasons) {
    const ctl = new AbortController();
    const started = Date.now();
    const pending = runAction(asMap, {
      backend: "demo",
      action: "wait",
      params: {},
    }, fakeContext({ signal: ctl.signal }));
    if (reason === undefined) ctl.abort();
    else ctl.abort(reason);
    const r = await pending;
    assert.equal(r.status, "failed");
    assert.equal(r.error, expected);
    assert.equal(r.retryable, true);
    assert.ok(Date.now() - started < 1000);
  }
});

Deno.test("run - an abort wins over a late success", async () => {
  const ctl = new AbortController();
  const pending = runAction(
    asMap,
    { backend: "demo", action: "lateSuccess", params: {} },
    fakeContext({ signal: ctl.signal }),
  );
  ctl.abort("cancelled");
  assert.deepEqual(await pending, {
    status: "failed",
    output: "finished anyway",
    error: "cancelled",
    retryable: true,
  });
});

Deno.test("run - an action that ignores the abort is abandoned after abortWaitMs", async () => {
  const ctl = new AbortController();
  const pending = runAction(
    asMap,
    { backend: "demo", action: "stubborn", params: {} },
    fakeContext({ signal: ctl.signal }),
    { abortWaitMs: 50 },
  );
  ctl.abort("timed out after 1s");
  const r = await pending;
  assert.equal(
    r.error,
    "timed out after 1s (the action had not stopped when this was reported)",
  );
});

Deno.test("run - an already aborted task does not start", async () => {
  const ctl = new AbortController();
  ctl.abort("cancelled");
  const before = ran;
  const r = await runAction(asMap, {
    backend: "demo",
    action: "ok",
    params: {},
  }, fakeContext({ signal: ctl.signal }));
  assert.equal(r.error, "cancelled");
  assert.equal(ran, before);
});
