import assert from "node:assert/strict";
import { runAction } from "./run.ts";
import { fakeContext } from "./testing.ts";
import { makeLines, testBackend } from "./test_actions.ts";
import type { ActionContext } from "./types.ts";

function runner(random = () => 0.5) {
  const backends = { test: testBackend({ random }) };
  return (
    action: string,
    params: Record<string, string> = {},
    ctx: Partial<ActionContext> = {},
  ) =>
    runAction(backends, { backend: "test", action, params }, fakeContext(ctx));
}
const run = runner();

Deno.test("test - succeed", async () => {
  assert.deepEqual(await run("succeed"), {
    status: "success",
    output: "ok",
    retryable: false,
  });
  assert.equal(
    (await run("succeed", { message: "yes", delay: "10ms" })).output,
    "yes",
  );
});

Deno.test("test - fail", async () => {
  assert.deepEqual(await run("fail"), {
    status: "failed",
    output: "",
    error: "intentional failure",
    retryable: true,
  });
  assert.equal((await run("fail", { message: "boom" })).error, "boom");
});

Deno.test("test - fail only on the listed nodes", async () => {
  const nodes = "web-1, db-2.example";
  const onList = await run("fail", { nodes }, { nodeId: "db-2.example" });
  assert.equal(onList.status, "failed");
  const offList = await run("fail", { nodes }, { nodeId: "web-2" });
  assert.deepEqual(offList, {
    status: "success",
    output: "ok",
    retryable: false,
  });
  const bad = await run("fail", { nodes: "web-1,bad node" });
  assert.equal(
    bad.error,
    'invalid params: param "nodes": "bad node" is not a valid node id',
  );
  assert.match(
    (await run("fail", { nodes: " , " })).error!,
    /at least one node id/,
  );
});

Deno.test("test - flaky at rate 0 and 100", async () => {
  for (const r of [0, 0.5, 0.999999]) {
    const run = runner(() => r);
    assert.deepEqual(await run("flaky", { rate: "0" }), {
      status: "success",
      output: "flaky success (rate=0%)",
      retryable: false,
    });
    const f = await run("flaky", { rate: "100" });
    assert.equal(f.status, "failed");
    assert.equal(f.error, "flaky failure (rate=100%)");
    assert.equal(f.retryable, true);
  }
  assert.equal(
    (await runner(() => 0.49)("flaky", { rate: "50" })).status,
    "failed",
  );
  assert.equal(
    (await runner(() => 0.5)("flaky", { rate: "50" })).status,
    "success",
  );
  for (const rate of ["101", "-1", "half", ""]) {
    assert.match(
      (await run("flaky", { rate })).error!,
      /param "rate": must be a percentage/,
    );
  }
});

Deno.test("test - sleep and delays stop promptly on abort", async () => {
  for (
    const [action, params] of [
      ["sleep", { duration: "30s" }],
      ["succeed", { delay: "30s" }],
      ["fail", { delay: "30s" }],
    ] as const
  ) {
    const ctl = new AbortController();
    const started = Date.now();
    const pending = run(action, params, { signal: ctl.signal });
    ctl.abort("cancelled");
    const r = await pending;
    assert.equal(r.error, "cancelled", action);
    assert.ok(Date.now() - started < 1000, action);
  }
  assert.equal((await run("sleep", { duration: "5ms" })).output, "slept 5ms");
});

Deno.test("test - output produces lines of the given width", async () => {
  const r = await run("output", { lines: "3", width: "12" });
  assert.equal(r.output, "xxxxxxxxxxxx\nxxxxxxxxxxxx\nxxxxxxxxxxxx");
  assert.equal(makeLines(0, 5), "");
  assert.equal(makeLines(2, 1), "x\nx");
  assert.equal(makeLines(3, 0), "\n\n");
  assert.equal((await run("output")).output.split("\n").length, 10);
});

Deno.test("test - output beyond the cap is truncated by runAction", async () => {
  const r = await run("output", { lines: "5000", width: "100" }); // ~505 KB
  assert.equal(r.status, "success");
  assert.ok(new TextEncoder().encode(r.output).length <= 262144);
  assert.match(r.output, /\n\[output truncated: \d+ bytes dropped\]$/);
  assert.ok(r.output.startsWith("x".repeat(100) + "\n"));
});

Deno.test("test - output refuses absurd sizes before building them", async () => {
  const r = await run("output", { lines: "10000000", width: "1000" });
  assert.match(
    r.error!,
    /param "lines": lines × \(width \+ 1\) must be at most/,
  );
  assert.match(
    (await run("output", { lines: "ten" })).error!,
    /param "lines": "ten" is not a whole number/,
  );
});
