import assert from "node:assert/strict";
import type { JobView } from "../models/job.ts";
import { MAX_POLL_FAILURES } from "./commands/wait.ts";
import { fakeController, gridc, job, result } from "./testing.ts";

const ping = {
  target: { scope: "all" as const },
  tasks: [{ backend: "ping", action: "echo" }],
};

/** The states GET /job/j1 goes through, one per poll; the last one repeats. */
function lifecycle(states: JobView[]) {
  let polls = 0;
  const ctl = fakeController((req, url) => {
    if (req.method === "POST" && url.pathname === "/job") {
      return Response.json(job({ ...ping, status: "pending", expected: [] }), {
        status: 202,
      });
    }
    if (req.method === "GET" && url.pathname === "/job/j1") {
      return Response.json(states[Math.min(polls++, states.length - 1)]);
    }
  });
  return { ctl, polls: () => polls };
}

const running = job({ ...ping, status: "running", expected: ["a", "b"] });
const halfway = job({
  ...running,
  results: { "0": { a: result({ output: "hello\nworld" }) } },
});
const end = (status: JobView["status"], b = result()) =>
  job({
    ...running,
    status,
    finished_at: running.created_at,
    results: { "0": { a: result({ output: "hello\nworld" }), b } },
  });

Deno.test("--wait: pending → running → completed exits 0", async () => {
  const { ctl, polls } = lifecycle([
    running,
    halfway,
    halfway,
    end("completed"),
  ]);
  await using _ = ctl;
  const r = await gridc([
    "-a",
    ctl.url,
    "job",
    "run",
    "ping",
    "echo",
    "--wait",
  ]);
  assert.equal(r.code, 0);
  assert.equal(r.err, "");
  assert.equal(polls(), 4);
  const lines = r.out.split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    "Job j1 submitted (pending): 1 step on all, fail-fast; waiting for it to finish",
    "[0 ping echo] a: success (1.2s)",
    "[0 ping echo] b: success (1.2s)",
    "",
  ]);
  assert.equal(lines[4], "Job:       j1");
  assert.ok(
    r.out.endsWith(
      [
        "STEP  TASK       NODE  STATUS   ATTEMPTS  DURATION  OUTPUT",
        "   0  ping echo  a     success         1      1.2s  hello",
        "   0  ping echo  b     success         1      1.2s",
        "",
      ].join("\n"),
    ),
    r.out,
  );
});

Deno.test("--wait: a failed job exits 1 and the line shows the error", async () => {
  const failed = result({ status: "failed", error: "boom\ntrace" });
  const { ctl } = lifecycle([running, end("failed", failed)]);
  await using _ = ctl;
  const r = await gridc(["-a", ctl.url, "job", "run", "ping", "echo", "-w"]);
  assert.equal(r.code, 1);
  assert.match(r.out, /^\[0 ping echo\] b: failed \(1\.2s\): boom$/m);
  assert.match(r.out, /^Status: {4}failed$/m);
});

Deno.test("--wait: a cancelled job exits 2", async () => {
  const { ctl } = lifecycle([
    running,
    halfway,
    end("cancelled", result({ status: "cancelled" })),
  ]);
  await using _ = ctl;
  const r = await gridc([
    "-a",
    ctl.url,
    "job",
    "run",
    "ping",
    "echo",
    "--wait",
  ]);
  assert.equal(r.code, 2);
  assert.match(r.out, /^\[0 ping echo\] b: cancelled \(1\.2s\)$/m);
});

Deno.test("--wait -o json prints only the final job", async () => {
  const { ctl } = lifecycle([running, halfway, end("failed")]);
  await using _ = ctl;
  const r = await gridc([
    "-a",
    ctl.url,
    "job",
    "run",
    "ping",
    "echo",
    "--wait",
    "-o",
    "json",
  ]);
  assert.equal(r.code, 1);
  assert.deepEqual(JSON.parse(r.out), end("failed"));
});

Deno.test("job get --wait announces only results that are new", async () => {
  const { ctl } = lifecycle([halfway, halfway, end("completed")]);
  await using _ = ctl;
  const r = await gridc(["-a", ctl.url, "job", "get", "j1", "--wait"]);
  assert.equal(r.code, 0);
  assert.ok(r.out.startsWith("[0 ping echo] b: success (1.2s)\n\nJob:"), r.out);
});

Deno.test("job get --wait on a finished job exits by its status without polling again", async () => {
  const { ctl, polls } = lifecycle([end("cancelled")]);
  await using _ = ctl;
  const r = await gridc(["-a", ctl.url, "job", "get", "j1", "-w"]);
  assert.equal(r.code, 2);
  assert.equal(polls(), 1);
  assert.ok(r.out.startsWith("Job:       j1\n"), r.out);
});

Deno.test("--wait draws a progress bar on stderr only when it is a terminal", async () => {
  const { ctl } = lifecycle([running, halfway, end("completed")]);
  await using _ = ctl;
  const tty = { stdout: false, stderr: true, columns: 80 };
  const r = await gridc(
    ["-a", ctl.url, "job", "run", "ping", "echo", "--wait"],
    { tty },
  );
  assert.equal(r.code, 0);
  assert.ok(
    r.err.includes("\r\x1b[K[--------------------"),
    JSON.stringify(r.err),
  );
  assert.ok(r.err.includes("] 1/2 "), JSON.stringify(r.err));
  assert.ok(r.err.endsWith("\r\x1b[K"), "the bar is cleared at the end");
  assert.ok(!r.out.includes("\x1b"), "stdout is not a terminal: no colour");
});

Deno.test("--wait rides out a controller that is briefly unreachable", async () => {
  const { ctl } = lifecycle([running, end("completed")]);
  await using _ = ctl;
  let gets = 0;
  const flaky: typeof fetch = (input, init) => {
    if (init?.method === "GET" && ++gets <= 3) {
      return Promise.reject(new TypeError("fetch failed"));
    }
    return fetch(input, init);
  };
  const r = await gridc(
    ["-a", ctl.url, "job", "run", "ping", "echo", "--wait"],
    { fetch: flaky },
  );
  assert.equal(r.code, 0);
  assert.equal(r.err, "");
});

Deno.test("--wait gives up (exit 4) when the controller stays unreachable", async () => {
  const { ctl } = lifecycle([running]);
  await using _ = ctl;
  let gets = 0;
  const down: typeof fetch = (input, init) => {
    if (init?.method === "GET") {
      gets++;
      return Promise.reject(new TypeError("fetch failed"));
    }
    return fetch(input, init);
  };
  const r = await gridc(
    ["-a", ctl.url, "job", "run", "ping", "echo", "--wait"],
    { fetch: down },
  );
  assert.equal(r.code, 4);
  assert.equal(gets, MAX_POLL_FAILURES);
  assert.equal(
    r.err,
    `gridc: cannot reach the controller at ${ctl.url}: fetch failed\n`,
  );
});

Deno.test("--wait stops at once on an API error", async () => {
  await using ctl = fakeController((req) =>
    req.method === "POST"
      ? Response.json(job({ ...ping, status: "pending" }), { status: 202 })
      : Response.json({ error: 'job "j1" not found' }, { status: 404 })
  );
  const r = await gridc([
    "-a",
    ctl.url,
    "job",
    "run",
    "ping",
    "echo",
    "--wait",
  ]);
  assert.equal(r.code, 4);
  assert.equal(r.err, `gridc: job "j1" not found (HTTP 404)\n`);
  // Submit, the event stream (404: not served, so poll), one poll.
  assert.deepEqual(ctl.requests, [
    "POST /job",
    "GET /job/j1/events",
    "GET /job/j1",
  ]);
});

/** A job's event stream as the controller writes it. */
function sse(type: string, data: unknown, id?: number): string {
  return `event: ${type}\n${id ? `id: ${id}\n` : ""}data: ${
    JSON.stringify(data)
  }\n\n`;
}

Deno.test("--wait follows the event stream, resumes after a break with Last-Event-ID, and does not poll", async () => {
  const status = (s: string) => ({
    id: "j1",
    status: s,
    step: 0,
    expected: ["a", "b"],
    offline: [],
    created_at: running.created_at,
    updated_at: running.updated_at,
  });
  const one = (node: string) => ({
    step: 0,
    node,
    status: "success",
    duration: "1.2s",
    attempts: 1,
  });
  const lastIds: (string | null)[] = [];
  await using ctl = fakeController((req, url) => {
    if (req.method === "POST") {
      return Response.json(job({ ...ping, status: "pending", expected: [] }), {
        status: 202,
      });
    }
    if (url.pathname === "/job/j1/events") {
      lastIds.push(req.headers.get("last-event-id"));
      // The first connection breaks after one result and half an event.
      const text = lastIds.length === 1
        ? sse("status", status("running")) +
          sse("result", { seq: 5, results: [one("a")] }, 5) +
          "event: result\nid: 9\ndata: {"
        : sse("status", status("running")) +
          sse("result", { seq: 9, results: [one("b")] }, 9) +
          sse("status", status("completed")) +
          sse("end", { status: "completed" });
      return new Response(text, {
        headers: { "content-type": "text/event-stream" },
      });
    }
    if (url.pathname === "/job/j1") return Response.json(end("completed"));
  });
  const r = await gridc(["-a", ctl.url, "job", "run", "ping", "echo", "-w"]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(lastIds, [null, "5"]);
  const lines = r.out.split("\n");
  assert.deepEqual(lines.slice(1, 3), [
    "[0 ping echo] a: success (1.2s)",
    "[0 ping echo] b: success (1.2s)",
  ]);
  // One GET of the job, at the end, for the table with outputs.
  assert.deepEqual(ctl.requests.filter((x) => x === "GET /job/j1"), [
    "GET /job/j1",
  ]);
  assert.match(r.out, /a +success +1 +1\.2s +hello/);
});
