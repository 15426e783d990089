/**
 * Params checked at submit against what each targeted node describes, over
 * the runner's fakes: refused before anything is stored or sent, naming
 * the step, the field and the nodes that would refuse it.
 */
import assert from "node:assert/strict";
import type { Phase } from "../models/job.ts";
import { type ActionParams, packParams } from "../models/params.ts";
import { RefusedError } from "./errors.ts";
import { runnerRig } from "./testing.ts";

const SLEEP: ActionParams = {
  params: {
    duration: {
      kind: "duration",
      max: 86_400_000,
      message: "must be at most 24h",
    },
  },
};
const SUCCEED: ActionParams = {
  params: { message: { kind: "text", default: "ok" } },
};
/** What a worker of this version advertises. */
const CURRENT = packParams({ test: { sleep: SLEEP, succeed: SUCCEED } });
/** An older one: `sleep` took only seconds, up to a minute. */
const OLDER = packParams({
  test: {
    sleep: {
      params: {
        duration: {
          kind: "duration",
          max: 60_000,
          message: "must be at most 1m",
        },
      },
    },
  },
});

const rig = (nodes = ["a", "b", "c"]) => runnerRig({ nodes });

async function refusal(
  r: Awaited<ReturnType<typeof runnerRig>>,
  tasks: Phase[],
): Promise<string> {
  const e = await r.runner.submit({
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks,
  }).then(() => undefined, (e) => e);
  assert.ok(e instanceof RefusedError, String(e));
  assert.equal(e.kind, "invalid");
  return e.message;
}

Deno.test("params: a bad param in step 1 is refused at submit, nothing runs", async () => {
  const r = await rig();
  for (const n of ["a", "b", "c"]) r.fleet.described.set(n, CURRENT);
  const msg = await refusal(r, [
    { backend: "test", action: "succeed" },
    { backend: "test", action: "sleep", params: { duration: "soon" } },
  ]);
  assert.equal(
    msg,
    'tasks[1].params.duration: "soon" is not a duration (use e.g. "500ms", "2s", "1m30s") (refused by node a, b, c)',
  );
  await r.clock.advance(0);
  assert.deepEqual(r.store.counts(), {});
  assert.equal(r.commands.stored.length, 0);
  await r.runner.stop(false);
});

Deno.test("params: every problem of the step, unknown and missing params too", async () => {
  const r = await rig(["a"]);
  r.fleet.described.set("a", CURRENT);
  assert.equal(
    await refusal(r, [
      { backend: "test", action: "sleep", params: { secs: "3" } },
    ]),
    "tasks[0].params.duration: is required; tasks[0].params.secs: is not a param of this action (accepted: duration) (refused by node a)",
  );
  assert.match(
    await refusal(r, [{
      tasks: [
        { backend: "test", action: "succeed" },
        { backend: "test", action: "sleep", params: { duration: "25h" } },
      ],
    }]),
    /^tasks\[0\]\.tasks\[1\]\.params\.duration: must be at most 24h /,
  );
  await r.runner.stop(false);
});

Deno.test("params: each node is held to what it runs; older workers are not checked here", async () => {
  const r = await rig(["a", "b", "c"]);
  // a runs this version, b an older one, c a worker that advertises nothing.
  r.fleet.described.set("a", CURRENT);
  r.fleet.described.set("b", OLDER);
  assert.equal(
    await refusal(r, [
      { backend: "test", action: "sleep", params: { duration: "5m" } },
    ]),
    "tasks[0].params.duration: must be at most 1m (refused by node b)",
  );
  // An action b does not describe is judged by a alone.
  const rec = await r.runner.submit({
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: [
      { backend: "test", action: "succeed", params: { message: "hi" } },
      { backend: "test", action: "sleep", params: { duration: "30s" } },
    ],
  });
  assert.equal(rec.status, "pending");
  assert.deepEqual(rec.expected, ["a", "b", "c"]);
  await r.runner.stop(false);
});

Deno.test("params: only the nodes the job targets are asked", async () => {
  const r = await rig(["a", "b"]);
  r.fleet.described.set("a", CURRENT);
  r.fleet.described.set("b", OLDER);
  const rec = await r.runner.submit({
    target: { scope: "node", value: "a" },
    strategy: "fail-fast",
    tasks: [{ backend: "test", action: "sleep", params: { duration: "5m" } }],
  });
  assert.deepEqual(rec.expected, ["a"]);
  await r.runner.stop(false);
});
