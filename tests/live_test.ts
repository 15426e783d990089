/**
 * Live and operational endpoints on a real controller and workers: a job's
 * events resumed with Last-Event-ID after a broken connection, the NATS
 * server's stats, metrics and the probes.
 */
import assert from "node:assert/strict";
import { readSse, type SseEvent } from "../client/sse.ts";
import { authHeaders, withCluster } from "./harness.ts";

const WORKERS = [
  { id: "web-01", groups: ["web"] },
  { id: "web-02", groups: ["web"] },
];

Deno.test("live: a job's events, broken off and resumed with Last-Event-ID, miss nothing and repeat nothing", async () => {
  await withCluster({ workers: WORKERS }, async (c) => {
    const id = await c.submit({
      target: { scope: "group", value: "web" },
      tasks: [
        { backend: "test", action: "succeed" },
        { backend: "test", action: "sleep", params: { duration: "1s" } },
        { backend: "test", action: "succeed" },
      ],
    });
    const open = (lastId?: string) =>
      fetch(`${c.api}/job/${id.slice(0, 12)}/events`, {
        headers: {
          ...authHeaders(c.token),
          ...(lastId ? { "last-event-id": lastId } : {}),
        },
      });
    // The first connection is dropped after the first result event.
    const first: SseEvent[] = [];
    const res = await open();
    assert.equal(res.status, 200);
    // Leaving the loop cancels the body: the connection is gone.
    for await (const e of readSse(res.body!)) {
      first.push(e);
      if (e.type === "result") break;
    }
    const lastId = first.findLast((e) => e.id)!.id!;
    const rest: SseEvent[] = [];
    for await (const e of readSse((await open(lastId)).body!)) {
      rest.push(e);
      if (e.type === "end") break;
    }
    const results = [...first, ...rest].filter((e) => e.type === "result");
    const seen = results.flatMap((e) =>
      JSON.parse(e.data).results.map((r: { step: number; node: string }) =>
        `${r.step}:${r.node}`
      )
    );
    assert.deepEqual(seen.toSorted(), [
      "0:web-01",
      "0:web-02",
      "1:web-01",
      "1:web-02",
      "2:web-01",
      "2:web-02",
    ]);
    const ids = results.map((e) => Number(e.id));
    assert.deepEqual(ids, ids.toSorted((a, b) => a - b));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(JSON.parse(rest.at(-1)!.data), { status: "completed" });
  });
});

Deno.test("ops: /nats, /metrics, /healthz and /readyz on a running controller", async () => {
  await withCluster({ workers: WORKERS.slice(0, 1) }, async (c) => {
    const nats = await c.request("GET", "/nats");
    assert.equal(nats.status, 200);
    assert.equal(nats.json.server_name, "test-controller");
    assert.match(nats.json.version, /^\d+\.\d+\.\d+/);
    for (
      const k of ["uptime", "mem", "cpu", "connections", "in_msgs", "out_bytes"]
    ) assert.ok(k in nats.json, k);
    assert.ok(nats.json.jetstream, "jetstream stats");

    const id = await c.submit({
      tasks: [{ backend: "test", action: "succeed" }],
    });
    await c.waitJob(id);
    const text = async (path: string, token?: string) => {
      const r = await fetch(`${c.api}${path}`, { headers: authHeaders(token) });
      return [r.status, await r.text()] as const;
    };
    assert.deepEqual(await text("/healthz"), [200, "ok\n"]);
    assert.deepEqual(await text("/readyz"), [200, "ready\n"]);
    const [status, metrics] = await text("/metrics", c.token);
    assert.equal(status, 200);
    const lines = metrics.split("\n");
    for (
      const line of [
        "grid_nats_connected 1",
        "grid_jetstream_available 1",
        'grid_nodes{status="online"} 1',
        'grid_jobs{status="completed"} 1',
        'grid_job_duration_seconds_bucket{le="+Inf"} 1',
        'grid_step_duration_seconds_bucket{le="+Inf"} 1',
      ]
    ) assert.ok(lines.includes(line), `${line}\n${metrics}`);
    assert.equal((await text("/metrics"))[0], 401);
  });
});
