import assert from "node:assert/strict";
import {
  formatAgo,
  leafLabels,
  progress,
  renderJob,
  renderJobList,
  renderNode,
  renderNodes,
  renderProgress,
  renderResultLine,
  renderResults,
  renderStatus,
} from "./render.ts";
import { ago, job, node, NOW, result, statusView, summary } from "./testing.ts";

const view = (width: number) => ({ width, color: false, now: NOW });

const finished = job({
  status: "failed",
  finished_at: ago(10),
  error: "step 1 failed on web-02\nsecond line",
  results: {
    "0": {
      "web-02": result({ output: "\n  Reading package lists...\nDone" }),
      "web-01": result({ output: "ok" }),
    },
    "1": {
      "web-01": result({ output: "x".repeat(100), duration: "12.5s" }),
      "web-02": result({
        status: "failed",
        error: "E: Unable to locate package nginx\nmore",
        output: "Reading",
        attempts: 3,
      }),
    },
    "2": {
      "web-02": result({ status: "skipped", duration: "0s", attempts: 0 }),
    },
  },
});

Deno.test("leafLabels() numbers leaves depth-first", () => {
  assert.deepEqual(leafLabels(job().tasks), [
    "apt update",
    "apt install",
    "systemd enable",
    "systemd start",
  ]);
});

Deno.test("renderResults() shows one row per step and node, first line only, cut to width", () => {
  assert.equal(
    renderResults(finished, view(80)),
    [
      "STEP  TASK            NODE    STATUS   ATTEMPTS  DURATION  OUTPUT",
      "   0  apt update      web-01  success         1      1.2s  ok",
      "   0  apt update      web-02  success         1      1.2s  Reading package list…",
      "   1  apt install     web-01  success         1     12.5s  xxxxxxxxxxxxxxxxxxxx…",
      "   1  apt install     web-02  failed          3      1.2s  E: Unable to locate …",
      "   2  systemd enable  web-02  skipped         0        0s",
      "",
    ].join("\n"),
  );
});

Deno.test("renderResults() gives a wide terminal the whole first line", () => {
  const text = renderResults(finished, view(200));
  assert.match(
    text,
    /failed {10}3 {6}1\.2s {2}E: Unable to locate package nginx\n/,
  );
  assert.match(text, / x{100}\n/);
  assert.doesNotMatch(text, /more|Done/);
});

Deno.test("renderResults() sorts steps numerically", () => {
  const text = renderResults(
    job({ results: { "10": { a: result() }, "2": { a: result() } } }),
    view(80),
  );
  assert.deepEqual(text.split("\n").slice(1, 3).map((l) => l.slice(0, 4)), [
    "   2",
    "  10",
  ]);
});

Deno.test("renderResults() says so when there is nothing yet", () => {
  assert.equal(renderResults(job(), view(80)), "No results yet.\n");
});

Deno.test("renderJob() shows the job's fields above its results", () => {
  const text = renderJob(finished, view(80));
  assert.equal(
    text.slice(0, text.indexOf("\n\n") + 1),
    [
      "Job:       j1",
      "Status:    failed",
      "Target:    group:web",
      "Strategy:  fail-fast",
      "Steps:     4",
      "Nodes:     2 (web-01, web-02)",
      "Created:   2025-01-02T03:02:35.000Z (1m ago)",
      "Finished:  2025-01-02T03:03:55.000Z (10s ago)",
      "Error:     step 1 failed on web-02",
      "",
    ].join("\n"),
  );
  assert.ok(text.endsWith(renderResults(finished, view(80))));
});

Deno.test("renderJob() lists offline nodes and the timeout when there are some", () => {
  const text = renderJob(
    job({ timeout: "30s", offline: ["db-01"], expected: [] }),
    view(80),
  );
  assert.match(text, /^Timeout: {3}30s$/m);
  assert.match(text, /^Nodes: {5}none yet$/m);
  assert.match(text, /^Offline: {3}db-01$/m);
});

Deno.test("renderJobList() shows one row per job", () => {
  const text = renderJobList([
    summary(),
    summary({
      id: "j2",
      status: "failed",
      error: "fail-fast: step 0 failed on web-01",
      target: { scope: "node", value: "web-01" },
      steps: 3,
      created_at: ago(7200),
    }),
  ], view(60));
  assert.equal(
    text,
    [
      "ID  STATUS     TARGET       STEPS  NODES  CREATED  ERROR",
      "j1  completed  all              1      1  30s ago",
      "j2  failed     node:web-01      3      1  2h ago   fail-fast: …",
      "",
    ].join("\n"),
  );
  assert.equal(renderJobList([], view(60)), "No jobs.\n");
});

Deno.test("renderJobList() says which rollouts wait for job resume", () => {
  const rollout = (r: Record<string, unknown>) =>
    summary({
      status: "running",
      rollout_status: { batch: 1, batches: 4, ...r },
    });
  const text = renderJobList([
    rollout({ paused: true }),
    { ...rollout({ batch: 3 }), id: "j2" },
    { ...rollout({ paused: true }), id: "j3", status: "failed" },
  ], view(70));
  assert.deepEqual(text.split("\n").map((l) => l.split(/ {2,}/)[1]), [
    "STATUS",
    "running (paused)",
    "running (batch 3/4)",
    "failed",
    undefined,
  ]);
  // On a terminal the paused one stands out.
  const colored = renderJobList([rollout({ paused: true })], {
    ...view(70),
    color: true,
  });
  assert.ok(colored.includes("\x1b[33mrunning (paused)"), colored);
});

Deno.test("renderNodes() shows id, hostname, groups, status and last seen", () => {
  const text = renderNodes([
    node(),
    node({
      id: "db-01",
      hostname: "db",
      groups: [],
      status: "offline",
      last_seen: ago(400),
    }),
  ], view(60));
  assert.equal(
    text,
    [
      "ID      HOSTNAME            GROUPS    STATUS   LAST SEEN",
      "web-01  web-01.example.net  web,prod  online   3s ago",
      "db-01   db                  -         offline  6m ago",
      "",
    ].join("\n"),
  );
  assert.equal(renderNodes([], view(60)), "No nodes registered.\n");
});

Deno.test("renderNode() lists backends one per line, sorted", () => {
  const text = renderNode(
    node({ running: { job: "j1", step: 2, attempt: 1, since: ago(4) } }),
    view(80),
  );
  assert.equal(
    text,
    [
      "Node:       web-01",
      "Hostname:   web-01.example.net",
      "Status:     online",
      "Groups:     web, prod",
      "Last seen:  2025-01-02T03:04:02.000Z (3s ago)",
      "Started:    2025-01-02T01:04:05.000Z (2h ago)",
      "Version:    0.1.0",
      "Running:    job j1 step 2 attempt 1 (since 4s ago)",
      "Queued:     0",
      "Backends:   apt: install, update",
      "            ping: echo, hostname, sleep",
      "",
    ].join("\n"),
  );
});

Deno.test("renderStatus() summarises controller, nodes, jobs and queue", () => {
  assert.equal(
    renderStatus(
      statusView({ jobs: { failed: 2, weird: 1, running: 1 } }),
      view(80),
    ),
    [
      "Controller:  ctl-1 (version 0.1.0)",
      "Status:      active",
      "Nodes:       2 online of 3",
      "Jobs:        1 running, 2 failed, 1 weird",
      "Queue:       1/5 running, 0/100 pending",
      "",
    ].join("\n"),
  );
});

Deno.test("renderResultLine() names step, task, node and status; failures add the error", () => {
  const ok = renderResultLine("0", "ping echo", "web-01", result(), view(80));
  assert.equal(ok, "[0 ping echo] web-01: success (1.2s)\n");
  const bad = result({
    status: "failed",
    error: "E: Unable to locate package\nmore",
  });
  assert.equal(
    renderResultLine("1", "apt install", "web-02", bad, {
      ...view(80),
      color: true,
    }),
    "[1 apt install] web-02: \x1b[31mfailed\x1b[0m (1.2s): E: Unable to locate package\n",
  );
  assert.equal(
    renderResultLine("1", "apt install", "web-02", bad, view(40)),
    "[1 apt install] web-02: failed (1.2s): …\n",
  );
});

Deno.test("progress() counts results against steps × expected nodes", () => {
  assert.deepEqual(progress(finished), { done: 5, total: 8 });
  assert.deepEqual(progress(job({ expected: [] })), { done: 0, total: 0 });
  assert.equal(
    renderProgress(finished, { width: 60, color: false }),
    "[#########################---------------] 5/8 failed",
  );
  assert.equal(
    renderProgress(job({ expected: [], status: "pending" }), {
      width: 60,
      color: false,
    }),
    "[----------------------------------------] 0/? pending",
  );
});

Deno.test("formatAgo() rounds down to the largest unit", () => {
  assert.equal(formatAgo(ago(0), NOW), "0s ago");
  assert.equal(formatAgo(ago(59), NOW), "59s ago");
  assert.equal(formatAgo(ago(60), NOW), "1m ago");
  assert.equal(formatAgo(ago(3 * 3600), NOW), "3h ago");
  assert.equal(formatAgo(ago(3 * 86400), NOW), "3d ago");
  assert.equal(formatAgo(ago(-5), NOW), "0s ago");
  assert.equal(formatAgo(undefined, NOW), "-");
  assert.equal(formatAgo("not a date", NOW), "not a date");
});

Deno.test("renderJob() shows a rollout: its batch, the pause, per-batch counts and the budget", () => {
  const paused = renderJob(
    job({
      status: "running",
      rollout_status: {
        batch: 1,
        batches: 3,
        paused: true,
        failed: 1,
        max_failures: 2,
        progress: [
          { nodes: 1, done: 0, failed: 1, pending: 0 },
          { nodes: 2, done: 0, failed: 0, pending: 2 },
          { nodes: 2, done: 0, failed: 0, pending: 2 },
        ],
      },
    }),
    view(100),
  );
  assert.match(
    paused,
    /^Rollout: +batch 1 of 3 \(paused for approval: gridc job resume\)$/m,
  );
  assert.match(paused, /^ {2}batch 1: +1 nodes: 0 done, 1 failed, 0 pending$/m);
  assert.match(paused, /^ {2}batch 3: +2 nodes: 0 done, 0 failed, 2 pending$/m);
  assert.match(paused, /^Failures: +1 \(at most 2\)$/m);
  const stopped = renderJob(
    job({
      status: "failed",
      rollout_status: {
        batch: 2,
        batches: 3,
        failed: 3,
        stopped: "failure budget spent",
      },
    }),
    view(100),
  );
  assert.match(stopped, /^Rollout: +batch 2 of 3$/m);
  assert.match(stopped, /^Failures: +3 \(no limit\)$/m);
  assert.match(stopped, /^Stopped: +failure budget spent$/m);
  assert.doesNotMatch(renderJob(job(), view(100)), /Rollout/);
});
