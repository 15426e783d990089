/**
 * Timeouts and config durations GRID cannot honour are refused with the
 * field named; records stored before the limits still read.
 */
import assert from "node:assert/strict";
import type { z } from "zod";
import { describeIssues, JobRecord, JobSpec } from "./job.ts";
import { ControllerConfig, WorkerConfig } from "./config.ts";

function reject(schema: z.ZodType, input: unknown): string {
  const r = schema.safeParse(input);
  assert.ok(!r.success, `expected a rejection of ${JSON.stringify(input)}`);
  return describeIssues(r.error);
}

function accept(schema: z.ZodType, input: unknown): void {
  const r = schema.safeParse(input);
  assert.ok(r.success, r.success ? "" : describeIssues(r.error));
}

const ok = { backend: "test", action: "succeed" };

Deno.test("JobSpec: a task timeout must be from 100ms to 24h", () => {
  for (const bad of ["0", "0s", "1ns", "99ms", "24h1s", "600h"]) {
    assert.equal(
      reject(JobSpec, { tasks: [ok, { ...ok, timeout: bad }] }),
      `tasks[1].timeout: must be from 100ms to 24h, got "${bad}"`,
    );
  }
  assert.equal(
    reject(JobSpec, { tasks: [{ tasks: [ok, { ...ok, timeout: "0" }] }] }),
    'tasks[0].tasks[1].timeout: must be from 100ms to 24h, got "0"',
  );
  for (const good of ["100ms", "500ms", "5m", "24h"]) {
    accept(JobSpec, { tasks: [{ ...ok, timeout: good }] });
    accept(JobSpec, { tasks: [{ tasks: [{ ...ok, timeout: good }] }] });
  }
});

Deno.test("JobSpec: a job timeout must be from 1s to 168h", () => {
  for (const bad of ["0", "999ms", "168h1s", "600h"]) {
    assert.equal(
      reject(JobSpec, { timeout: bad, tasks: [ok] }),
      `timeout: must be from 1s to 168h (7 days), got "${bad}"`,
    );
  }
  for (const good of ["1s", "10m", "168h"]) {
    accept(JobSpec, { timeout: good, tasks: [ok] });
  }
});

Deno.test("JobRecord: a stored record with a timeout from before the limits still reads", () => {
  accept(JobRecord, {
    target: { scope: "all" },
    strategy: "fail-fast",
    timeout: "600h",
    tasks: [{ ...ok, timeout: "0" }],
    id: "j1",
    status: "completed",
    step: 0,
    expected: [],
    offline: [],
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
  });
});

Deno.test("config: durations that cannot work are refused, naming the key", () => {
  assert.equal(
    reject(ControllerConfig, { scheduler: { task_timeout: "0" } }),
    'scheduler.task_timeout: must be from 100ms to 24h, got "0"',
  );
  assert.equal(
    reject(ControllerConfig, { scheduler: { task_timeout: "600h" } }),
    'scheduler.task_timeout: must be from 100ms to 24h, got "600h"',
  );
  assert.match(
    reject(ControllerConfig, { controller: { heartbeat_interval: "0" } }),
    /^controller\.heartbeat_interval: must be from 100ms to 1h, got "0"$/,
  );
  assert.match(
    reject(ControllerConfig, { nodes: { offline_after: "10ms" } }),
    /^nodes\.offline_after: must be from 1s to 24h/,
  );
  assert.match(
    reject(ControllerConfig, { controller: { stale_threshold: "25h" } }),
    /^controller\.stale_threshold: must be from 1s to 24h/,
  );
  const worker = (w: Record<string, string>) => ({
    nats: { name: "web-01" },
    worker: w,
  });
  assert.match(
    reject(WorkerConfig, worker({ heartbeat_interval: "0" })),
    /^worker\.heartbeat_interval: must be from 100ms to 1h/,
  );
  assert.match(
    reject(WorkerConfig, worker({ catchup_window: "25h" })),
    /^worker\.catchup_window: must be from 0 to 24h/,
  );
  accept(WorkerConfig, worker({ drain_timeout: "0", catchup_window: "0" }));
  accept(ControllerConfig, {
    scheduler: { task_timeout: "24h" },
    controller: { heartbeat_interval: "500ms", stale_threshold: "2s" },
  });
});
