/**
 * The worker's metrics: what the agent counts as it takes in, runs and
 * reports commands (on in-memory logs and a manual clock), the exposition
 * text, the `worker.metrics` config key and the endpoint itself.
 */
import assert from "node:assert/strict";
import { WorkerConfig } from "../models/config.ts";
import { recordingExec } from "../backends/testing.ts";
import { testBackend } from "../backends/test_actions.ts";
import { Agent } from "./agent.ts";
import { serveMetrics, WorkerMetrics } from "./metrics.ts";
import {
  FakeCommandLog,
  FakeNodeBucket,
  FakeResultLog,
  Gates,
  HEARTBEAT_MS,
  heldCmd,
  NODE,
  runCmd,
  WINDOW_MS,
} from "./testing.ts";
import { ManualClock } from "../lib/clock.ts";

function rig() {
  const clock = new ManualClock();
  const commands = new FakeCommandLog();
  const results = new FakeResultLog();
  const gates = new Gates();
  const metrics = new WorkerMetrics(NODE, "9.9.9");
  const agent = new Agent({
    logs: { commands, results, nodes: new FakeNodeBucket() },
    clock,
    id: NODE,
    hostname: NODE,
    groups: [],
    heartbeatMs: HEARTBEAT_MS,
    catchUpWindowMs: WINDOW_MS,
    backends: new Map([["test", testBackend()], ["gate", gates.backend]]),
    exec: recordingExec(),
    metrics,
  });
  const series = () => new Set(metrics.render().split("\n"));
  return { clock, commands, results, gates, metrics, agent, series };
}

/** Asserts every line is a series of the scrape. */
function has(text: Set<string>, ...lines: string[]): void {
  for (const line of lines) {
    assert.ok(text.has(line), `${line}\n---\n${[...text].join("\n")}`);
  }
}

Deno.test("worker metrics: tasks, queue, duplicates, reports and output are counted as the agent works", async () => {
  const t = rig();
  await t.agent.start();
  try {
    has(
      t.series(),
      "grid_worker_tasks_running 0",
      "grid_worker_tasks_queued 0",
      "grid_worker_commands_received_total 0",
    );
    const hold = heldCmd(t.clock, "j-hold");
    t.commands.send(hold);
    t.commands.send(runCmd(t.clock, "j-queued"));
    t.commands.send(hold); // a re-delivered copy: dropped, not run twice
    await t.clock.advance(0);
    has(
      t.series(),
      "grid_worker_tasks_running 1",
      "grid_worker_tasks_queued 1",
      "grid_worker_commands_received_total 3",
      "grid_worker_commands_duplicate_total 1",
    );
    t.results.failReports = 1;
    t.gates.open("j-hold");
    await t.clock.advance(0);
    await t.clock.advance(250); // the report's retry delay
    t.commands.send(runCmd(t.clock, "j-stream", {
      action: "stream",
      params: { lines: "1" },
    }));
    t.commands.send(runCmd(t.clock, "j-fail", {
      action: "fail",
      params: {},
    }));
    await t.clock.advance(0);
    assert.equal(t.results.events.length, 4);
    has(
      t.series(),
      'grid_worker_tasks_total{backend="gate",action="hold",outcome="success"} 1',
      'grid_worker_tasks_total{backend="test",action="succeed",outcome="success"} 1',
      'grid_worker_tasks_total{backend="test",action="stream",outcome="success"} 1',
      'grid_worker_tasks_total{backend="test",action="fail",outcome="failed"} 1',
      'grid_worker_task_duration_seconds_bucket{le="+Inf"} 4',
      "grid_worker_tasks_running 0",
      "grid_worker_tasks_queued 0",
      "grid_worker_commands_received_total 5",
      "grid_worker_results_reported_total 4",
      "grid_worker_result_report_retries_total 1",
      // "line 1 of 1\n", in the one chunk the stream action sent.
      "grid_worker_output_chunks_total 1",
      "grid_worker_output_bytes_total 12",
      "grid_worker_output_chunks_dropped_total 0",
    );
  } finally {
    await t.agent.stop();
  }
});

Deno.test("worker metrics: chunks sent while the connection refuses them count as dropped", () => {
  const m = new WorkerMetrics(NODE, "1");
  const results = new FakeResultLog();
  let closed = false;
  const logs = m.watchLogs({
    commands: new FakeCommandLog(),
    results,
    nodes: new FakeNodeBucket(),
  }, () => closed);
  const chunk = { type: "output" as const, job: "j", step: 0, node: NODE };
  logs.results.stream({ ...chunk, attempt: 1, n: 0, text: "héllo\n" });
  closed = true;
  logs.results.stream({ ...chunk, attempt: 1, n: 1, text: "lost\n" });
  assert.equal(results.chunks.length, 2, "every chunk still goes to the log");
  const text = new Set(m.render().split("\n"));
  has(
    text,
    "grid_worker_output_chunks_total 1",
    "grid_worker_output_bytes_total 7", // bytes, not characters
    "grid_worker_output_chunks_dropped_total 1",
  );
});

Deno.test("worker metrics: the exposition names this node and types every family", () => {
  // Not yet given a connection: not connected.
  const text = new WorkerMetrics('w"1', "1.2.3").render();
  assert.match(text, /^grid_worker_info\{node="w_1",version="1\.2\.3"\} 1$/m);
  assert.match(text, /^grid_worker_nats_connected 0$/m);
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => x[1]);
  const helps = [...text.matchAll(/^# HELP (\S+) /gm)].map((x) => x[1]);
  assert.deepEqual(types, helps);
  assert.ok(types.includes("grid_worker_task_duration_seconds"));
  assert.ok(text.endsWith("\n"));
});

Deno.test("worker.metrics: off unless set; host:port, [v6]:port, or a port on loopback", () => {
  const parse = (metrics?: unknown) =>
    WorkerConfig.safeParse({
      nats: { name: "w1" },
      worker: metrics === undefined ? {} : { metrics },
    });
  assert.equal(parse().data?.worker.metrics, undefined);
  const ok: [unknown, string, number][] = [
    ["0.0.0.0:9102", "0.0.0.0", 9102],
    ["[::1]:9102", "::1", 9102],
    ["node-1.example:80", "node-1.example", 80],
    [":9102", "127.0.0.1", 9102],
    ["9102", "127.0.0.1", 9102],
    [9102, "127.0.0.1", 9102],
  ];
  for (const [v, hostname, port] of ok) {
    assert.deepEqual(parse(v).data?.worker.metrics, { hostname, port }, `${v}`);
  }
  for (const bad of ["localhost", "host:99999", "a b:1", "http://x:1", ""]) {
    const r = parse(bad);
    assert.ok(!r.success, bad);
    const issue = r.error.issues[0]!;
    assert.deepEqual(issue.path, ["worker", "metrics"]);
    assert.match(issue.message, /is not an address to listen on/);
  }
});

Deno.test("the metrics endpoint: GET /metrics in the text format, nothing else", async () => {
  let scrapes = 0;
  const server = serveMetrics({ hostname: "127.0.0.1", port: 0 }, () => {
    scrapes++;
    return "up 1\n";
  });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const r = await fetch(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(
      r.headers.get("content-type")!,
      /^text\/plain; version=0\.0\.4/,
    );
    assert.equal(await r.text(), "up 1\n");
    const other = await fetch(`${base}/`);
    assert.equal(other.status, 404);
    await other.body?.cancel();
    const post = await fetch(`${base}/metrics`, { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    assert.equal(scrapes, 1);
  } finally {
    await server.close();
  }
});
