/**
 * Live output in a job's event stream, over the memory stand-ins: chunks
 * as they come, resumed with `Last-Event-ID: R.O`, and a reader too slow
 * for them told how many lines it missed.
 */
import assert from "node:assert/strict";
import { readSse, type SseEvent } from "../client/sse.ts";
import type { JobRecord } from "../models/job.ts";
import type { OutputChunk } from "../models/messages.ts";
import { ManualClock } from "../lib/clock.ts";
import { EventLogFollower } from "./job_follow.ts";
import { jobStream, type Position, type StreamOptions } from "./job_stream.ts";
import { outputFilter, readChunk } from "./output_follow.ts";
import { MemoryEventLog, MemoryOutputLog, steps } from "./testing.ts";

const rec: JobRecord = {
  id: "j1",
  target: { scope: "all" },
  strategy: "fail-fast",
  tasks: steps(1),
  status: "running",
  step: 0,
  expected: ["a", "b"],
  offline: [],
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
  started_at: "2026-01-01T00:00:00.000Z",
  res_seq: 0,
};

const chunk = (node: string, n: number, text: string): OutputChunk => ({
  type: "output",
  job: "j1",
  step: 0,
  node,
  attempt: 1,
  n,
  text,
});

function open(
  output: MemoryOutputLog,
  from: Position = { res: 0, out: 0 },
  opts: StreamOptions = {},
  slackBytes?: number,
) {
  const clock = new ManualClock();
  const closing = new AbortController();
  const stream = jobStream(
    {
      record: () => rec,
      follower: new EventLogFollower(new MemoryEventLog()),
      output,
      clock,
      closing: closing.signal,
      ...(slackBytes === undefined ? {} : { slackBytes }),
    },
    rec,
    from,
    opts,
  );
  return { clock, closing, stream };
}

/** The events read until the stream is closed after `ms` of its clock. */
async function read(
  s: ReturnType<typeof open>,
  ms = 1000,
): Promise<SseEvent[]> {
  const got: SseEvent[] = [];
  const reading = (async () => {
    for await (const e of readSse(s.stream)) got.push(e);
  })();
  await s.clock.advance(ms);
  s.closing.abort();
  await reading;
  return got;
}

const outputs = (got: SseEvent[]) =>
  got.filter((e) => e.type === "output").map((e) => ({
    id: e.id,
    ...JSON.parse(e.data),
  }));

Deno.test("output: chunks of every node come as output events, ids R.O", async () => {
  const log = new MemoryOutputLog();
  log.append(chunk("a", 0, "a1\n"));
  log.append(chunk("b", 0, "b1\n"));
  log.append({ ...chunk("a", 1, "a2\n"), job: "other" });
  const s = open(log);
  const reading = read(s);
  await s.clock.advance(0);
  log.append(chunk("a", 1, "a2\n"));
  const got = outputs(await reading);
  assert.deepEqual(got.map((o) => [o.id, o.node, o.text]), [
    ["0.1", "a", "a1\n"],
    ["0.2", "b", "b1\n"],
    ["0.4", "a", "a2\n"],
  ]);
});

Deno.test("output: resuming after R.O brings only later chunks", async () => {
  const log = new MemoryOutputLog();
  for (let i = 0; i < 4; i++) log.append(chunk("a", i, `line ${i}\n`));
  const got = outputs(await read(open(log, { res: 0, out: 2 })));
  assert.deepEqual(got.map((o) => o.text), ["line 2\n", "line 3\n"]);
});

Deno.test("output: one node's output, or none at all", async () => {
  const log = new MemoryOutputLog();
  log.append(chunk("a", 0, "a1\n"));
  log.append(chunk("b", 0, "b1\n"));
  const onlyB = outputs(
    await read(open(log, undefined, { output: { node: "b" } })),
  );
  assert.deepEqual(onlyB.map((o) => o.node), ["b"]);
  const none = await read(open(log, undefined, { output: false }));
  assert.equal(outputs(none).length, 0);
  assert.equal(outputFilter({ job: "j", node: "n.x" }), "grid.out.j.*.n.x");
  assert.equal(outputFilter({ job: "j", step: 2 }), "grid.out.j.2.>");
  assert.equal(outputFilter({ job: "j" }), "grid.out.j.>");
});

Deno.test("output: a reader that falls behind is told how many lines it missed", async () => {
  const log = new MemoryOutputLog();
  // Room for about one event: nothing reads the stream for a while.
  const s = open(log, undefined, {}, 64);
  await s.clock.advance(0);
  for (let i = 0; i < 20; i++) log.append(chunk("a", i, `line ${i}\n`));
  await s.clock.advance(0);
  const got = await read(s);
  const out = outputs(got);
  const skipped = out.filter((o) => o.skipped);
  assert.ok(out.length < 20, `only part was sent: ${out.length}`);
  // Every line is either sent or counted as skipped.
  const sent = out.filter((o) => !o.skipped).length;
  assert.equal(sent + skipped.reduce((n, o) => n + o.skipped, 0), 20);
  assert.ok(skipped.length > 0);
});

Deno.test("readChunk(): a chunk counts only on the subject it names", () => {
  const c = chunk("a", 0, "x\n");
  const msg = (subject: string, body: unknown) => ({
    subject,
    seq: 7,
    json: () => body,
  });
  assert.deepEqual(readChunk(msg("grid.out.j1.0.a", c)), c);
  // Written on a's own subject but naming b (or another job): forged.
  assert.equal(
    readChunk(msg("grid.out.j1.0.a", { ...c, node: "b" })),
    undefined,
  );
  assert.equal(
    readChunk(msg("grid.out.j1.0.a", { ...c, job: "j2" })),
    undefined,
  );
  assert.equal(readChunk(msg("grid.out.j1.0.a", { nope: 1 })), undefined);
});
