/** Probes, metrics and NATS stats, over the memory stand-ins. */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import type { JobRecord } from "../models/job.ts";
import { apiRig } from "./api_testing.ts";
import { Metrics } from "./metrics.ts";
import { varzStats } from "./nats_stats.ts";

Deno.test("healthz and readyz need no token and say only yes or no", async () => {
  const r = await apiRig();
  try {
    const text = async (path: string) => {
      const res = await r.call("GET", path);
      return [res.status, await res.text()];
    };
    assert.deepEqual(await text("/healthz"), [200, "ok\n"]);
    assert.deepEqual(await text("/readyz"), [200, "ready\n"]);
    for (const key of ["nats", "jetstream", "heartbeat"] as const) {
      r.healthState[key] = false;
      assert.deepEqual(await text("/readyz"), [503, "not ready\n"], key);
      assert.deepEqual(await text("/healthz"), [200, "ok\n"]);
      r.healthState[key] = true;
    }
  } finally {
    await r.stop();
  }
});

Deno.test("GET /metrics: Prometheus text with jobs, queue, nodes and connection state", async () => {
  const r = await apiRig();
  try {
    assert.equal((await r.call("GET", "/metrics")).status, 401);
    const posted = await r.call("POST", "/job", {
      scope: "operate",
      type: "application/json",
      body: JSON.stringify({
        target: { scope: "all" },
        tasks: [{ backend: "test", action: "succeed" }],
      }),
    });
    await posted.body?.cancel();
    r.healthState.jetstream = false;
    const res = await r.call("GET", "/metrics", { scope: "read" });
    assert.equal(res.status, 200);
    assert.match(
      res.headers.get("content-type")!,
      /^text\/plain; version=0\.0\.4/,
    );
    const text = await res.text();
    for (
      const line of [
        'grid_jobs{status="pending"} 0',
        'grid_jobs{status="running"} 1',
        "grid_jobs_running 1",
        "grid_queue_depth 0",
        'grid_nodes{status="online"} 2',
        'grid_nodes{status="offline"} 0',
        "grid_dispatch_resends_total 0",
        "grid_nats_connected 1",
        "grid_jetstream_available 0",
        'grid_job_duration_seconds_bucket{le="+Inf"} 0',
        "# TYPE grid_step_duration_seconds histogram",
      ]
    ) assert.ok(text.split("\n").includes(line), `${line}\n---\n${text}`);
  } finally {
    await r.stop();
  }
});

Deno.test("Metrics: steps and jobs run here are timed; a peer's are not", async () => {
  const clock = new ManualClock();
  const m = new Metrics(clock, "ctl-1");
  const started = new Date(clock.now()).toISOString();
  const rec = (over: Partial<JobRecord>): JobRecord => ({
    id: "j1",
    target: { scope: "all" },
    strategy: "fail-fast",
    tasks: [],
    status: "running",
    step: 0,
    expected: [],
    offline: [],
    created_at: "",
    updated_at: "",
    owner: "ctl-1",
    started_at: started,
    ...over,
  });
  m.record(rec({}));
  m.step("j1");
  await clock.advance(2000);
  m.step("j1");
  await clock.advance(500);
  m.record(rec({
    status: "completed",
    finished_at: new Date(clock.now()).toISOString(),
  }));
  assert.equal(m.stepSeconds.count, 2);
  assert.equal(m.stepSeconds.sum, 2.5);
  assert.equal(m.jobSeconds.count, 1);
  assert.equal(m.jobSeconds.sum, 2.5);
  // Another controller's job, and a finished job read at start-up.
  m.record(rec({ id: "j2", owner: "ctl-2" }));
  m.record(rec({ id: "j2", owner: "ctl-2", status: "failed" }));
  m.record(rec({ id: "j3", status: "completed" }));
  assert.equal(m.jobSeconds.count, 1);
  m.resent();
  assert.equal(m.resends, 1);
});

Deno.test("GET /nats: the server's stats under the reference's keys; 503 without a server", async () => {
  const none = await apiRig();
  try {
    const res = await none.call("GET", "/nats", { scope: "read" });
    assert.equal(res.status, 503);
    assert.match((await res.json()).error, /nats-server/);
  } finally {
    await none.stop();
  }
  const varz = {
    server_id: "N1",
    server_name: "grid-1",
    version: "2.9.10",
    uptime: "1m",
    mem: 1,
    cpu: 0.5,
    cores: 2,
    connections: 3,
    total_connections: 4,
    routes: 0,
    subscriptions: 9,
    slow_consumers: 0,
    in_msgs: 10,
    out_msgs: 11,
    in_bytes: 12,
    out_bytes: 13,
    jetstream: { config: {} },
    http_port: 8222,
  };
  const seen: string[] = [];
  const stats = await varzStats("http://127.0.0.1:1", (url) => {
    seen.push(String(url));
    return Promise.resolve(Response.json(varz));
  });
  assert.deepEqual(seen, ["http://127.0.0.1:1/varz"]);
  const { http_port: _, ...kept } = varz;
  assert.deepEqual(stats, kept);
  const r = await apiRig({ natsStats: stats });
  try {
    const res = await r.call("GET", "/nats", { scope: "read" });
    assert.deepEqual(await res.json(), kept);
  } finally {
    await r.stop();
  }
});
