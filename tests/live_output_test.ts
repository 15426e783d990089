/**
 * Live task output through real processes: a worker streams a running
 * task's lines, the controller serves them as Server-Sent Events before the
 * task ends, and a client that reconnects to another controller with its
 * `Last-Event-ID` continues without a gap or a repeat.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readSse, type SseEvent } from "../client/sse.ts";
import {
  authHeaders,
  ControllerSet,
  type Member,
  waitFor,
  withCluster,
  withControllers,
} from "./harness.ts";

const streamJob = (node: string, lines: number, interval: string) => ({
  target: { scope: "node", value: node },
  tasks: [{
    backend: "test",
    action: "stream",
    params: { lines: String(lines), interval },
  }],
});

/** An SSE request; the events as they come. */
async function sse(
  url: string,
  token: string | undefined,
  lastId?: string,
): Promise<{ events: AsyncGenerator<SseEvent>; close: () => void }> {
  const ctl = new AbortController();
  const r = await fetch(url, {
    headers: {
      ...authHeaders(token),
      ...(lastId ? { "last-event-id": lastId } : {}),
    },
    signal: ctl.signal,
  });
  if (r.status !== 200) {
    throw new Error(`${url}: HTTP ${r.status}: ${await r.text()}`);
  }
  return {
    events: readSse(r.body!),
    close: () => ctl.abort(),
  };
}

const text = (e: SseEvent) => JSON.parse(e.data).text as string;

Deno.test("live output: line 1 arrives while the task still runs", async () => {
  await withCluster({ workers: [{ id: "w1" }] }, async (c) => {
    const id = await c.submit(streamJob("w1", 4, "700ms"));
    const s = await sse(`${c.api}/job/${id}/output`, c.token);
    try {
      // Read event by event (leaving the loop would wait for the stream).
      let first: SseEvent | undefined;
      while (!first) {
        const { value, done } = await s.events.next();
        assert.ok(!done, "the stream ended before any output");
        if (value.type === "output") first = value;
      }
      assert.equal(text(first), "line 1 of 4\n");
      // Seen before the job ended, by the job's own account.
      const job = await c.job(id);
      assert.equal(job.status, "running");
      assert.equal(Object.keys(job.results).length, 0);
    } finally {
      s.close();
    }
    const done = await c.waitJob(id);
    assert.equal(done.status, "completed");
    assert.equal(
      done.results["0"].w1.output,
      "line 1 of 4\nline 2 of 4\nline 3 of 4\nline 4 of 4",
    );
  });
});

Deno.test("live output: a client resumes on another controller with Last-Event-ID", async () => {
  const set = new ControllerSet(["a", "b"], (m, all, dir) => {
    const first = all[0]!;
    const server = m === first
      ? `server: {host: 127.0.0.1, port: ${m.nats}}`
      : `server: {enabled: false}\n  client: {urls: [nats://127.0.0.1:${first.nats}]}`;
    return `api: {host: 127.0.0.1, port: ${m.api}}
nats:
  name: ${m.name}
  ${server}
  jetstream: {store_dir: ${join(dir, m.name)}}
controller: {heartbeat_interval: 500ms, stale_threshold: 2s}
nodes: {offline_after: 5s}
`;
  });
  await withControllers(set, async () => {
    const [a, b] = set.members as [Member, Member];
    set.start(a);
    await set.ready(a);
    set.start(b);
    await set.ready(b);
    await set.startWorker("w1", [set.natsUrl(a)]);
    await set.waitOnline(["w1"], a);
    const r = await set.post(a, "/job", streamJob("w1", 6, "400ms"));
    assert.equal(r.status, 202, JSON.stringify(r.json));
    const id = r.json.id as string;

    // Two lines through a, then the connection is gone.
    const got: string[] = [];
    let lastId: string | undefined;
    const first = await sse(
      `http://127.0.0.1:${a.api}/job/${id}/events`,
      set.token(a),
    );
    for await (const e of first.events) {
      if (e.id) lastId = e.id;
      if (e.type !== "output") continue;
      got.push(text(e));
      if (got.length === 2) break;
    }
    first.close();
    assert.match(lastId ?? "", /^\d+\.\d+$/);

    // The rest through b, from where a left off, until the job's end.
    const second = await sse(
      `http://127.0.0.1:${b.api}/job/${id}/events`,
      set.token(b),
      lastId,
    );
    let ended = false;
    for await (const e of second.events) {
      if (e.type === "output") got.push(text(e));
      if (e.type === "end") {
        ended = true;
        break;
      }
    }
    second.close();
    assert.ok(ended);
    assert.deepEqual(
      got.join("").split("\n").filter((l) => l),
      [1, 2, 3, 4, 5, 6].map((i) => `line ${i} of 6`),
    );
    await waitFor(
      "the job to be completed",
      async () => (await set.get(a, `/job/${id}`)).status === "completed",
      10_000,
    );
  });
});
