import assert from "node:assert/strict";
import { pingBackend } from "./ping.ts";
import { runAction } from "./run.ts";
import { fakeContext, recordingExec } from "./testing.ts";
import { ActionError } from "./types.ts";

const backends = { ping: pingBackend() };
const run = (
  action: string,
  params: Record<string, string> = {},
  signal?: AbortSignal,
) =>
  runAction(
    backends,
    { backend: "ping", action, params },
    fakeContext(signal ? { signal } : {}),
  );

Deno.test("ping - echo", async () => {
  assert.deepEqual(await run("echo"), {
    status: "success",
    output: "pong",
    retryable: false,
  });
  assert.equal((await run("echo", { message: "hello" })).output, "hello");
});

Deno.test("ping - hostname", async () => {
  assert.equal((await run("hostname")).output, "node-1.example");
  const r = await run("hostname", { verbose: "1" });
  assert.equal(r.status, "failed");
  assert.match(r.error!, /param "verbose": is not a param of this action/);
});

Deno.test("ping - sleep", async () => {
  const r = await run("sleep", { duration: "20ms" });
  assert.deepEqual(r, {
    status: "success",
    output: "slept 20ms",
    retryable: false,
  });
  const bad = await run("sleep", { duration: "soon" });
  assert.equal(bad.retryable, false);
  assert.equal(
    bad.error,
    'invalid params: param "duration": "soon" is not a duration (use e.g. "500ms", "2s", "1m30s")',
  );
  assert.match((await run("sleep")).error!, /param "duration": is required/);
  assert.match((await run("sleep", { duration: "25h" })).error!, /at most 24h/);
});

Deno.test("ping - sleep stops promptly on abort", async () => {
  const ctl = new AbortController();
  const started = Date.now();
  const pending = run("sleep", { duration: "30s" }, ctl.signal);
  ctl.abort("timed out after 1s");
  const r = await pending;
  assert.equal(r.status, "failed");
  assert.equal(r.error, "timed out after 1s");
  assert.ok(Date.now() - started < 1000);

  // The action itself reports the abort, for callers that use it directly.
  const ctl2 = new AbortController();
  const direct = pingBackend().actions.sleep!.run(
    30_000,
    fakeContext({ signal: ctl2.signal }),
  );
  ctl2.abort("cancelled");
  await assert.rejects(
    direct,
    (e) =>
      e instanceof ActionError &&
      /^Aborted after .*: cancelled$/.test(e.message),
  );
});

Deno.test("ping - never spawns", async () => {
  const exec = recordingExec();
  for (const action of ["echo", "hostname"]) {
    await runAction(
      backends,
      { backend: "ping", action, params: {} },
      fakeContext({ exec }),
    );
  }
  assert.equal(exec.calls.length, 0);
});
