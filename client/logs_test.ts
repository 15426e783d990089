/**
 * `gridc job logs` and `--wait`'s output lines against the fake
 * controller: requests, prefixes, colour rules, lines cut across chunks
 * and connections, skipped markers, resuming with Last-Event-ID, exit
 * statuses.
 */
import assert from "node:assert/strict";
import type { JobView } from "../models/job.ts";
import {
  fakeController,
  gridc,
  job,
  liveOutput as out,
  liveStatus,
  sseEvent,
  sseResponse,
} from "./testing.ts";

const oneStep = job({
  tasks: [{ backend: "test", action: "stream" }],
  expected: ["web-01", "web-02"],
});

/**
 * A controller with job `j` whose `/output` answers are `streams`, one per
 * connection (the last repeats); `lastIds` records each connection's
 * Last-Event-ID.
 */
function logsController(
  j: JobView,
  streams: string[],
) {
  const lastIds: (string | null)[] = [];
  const ctl = fakeController((req, url) => {
    if (url.pathname === `/job/${j.id}/output`) {
      lastIds.push(req.headers.get("last-event-id"));
      return sseResponse(
        streams[Math.min(lastIds.length - 1, streams.length - 1)]!,
      );
    }
    if (url.pathname === `/job/${j.id}` || url.pathname === "/job/j") {
      return Response.json(j);
    }
  });
  return { ctl, lastIds };
}

Deno.test("job logs: what was streamed so far, node-prefixed, then exit 0", async () => {
  const { ctl } = logsController(oneStep, [
    sseEvent("status", liveStatus(oneStep)) +
    sseEvent("output", out("web-01", "line 1 of 3\nline"), "0.4") +
    sseEvent("output", out("web-02", "line 1 of 3\n"), "0.5") +
    sseEvent("end", { status: "running" }),
  ]);
  await using _ = ctl;
  // An id prefix names the job; the stream is asked for by its whole id.
  const r = await gridc(["-a", ctl.url, "job", "logs", "j"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  assert.deepEqual(ctl.requests, [
    "GET /job/j?outputs=false",
    "GET /job/j1/output?follow=false",
  ]);
  // The unfinished line is printed as it is at the end.
  assert.equal(
    r.out,
    "web-01 | line 1 of 3\nweb-02 | line 1 of 3\nweb-01 | line\n",
  );
});

Deno.test("job logs -f: resumes after a break with the last id, lines whole and once; exit by the job", async () => {
  const { ctl, lastIds } = logsController(oneStep, [
    // Cut off mid-event: the connection is gone.
    sseEvent("status", liveStatus(oneStep)) +
    sseEvent("output", out("web-01", "line 1 of 3\nli"), "0.7") +
    "event: output\nid: 0.8\ndata: {",
    sseEvent("status", liveStatus(oneStep)) +
    sseEvent("output", out("web-01", "ne 2 of 3\n"), "0.8") +
    sseEvent("output", out("web-01", "", { skipped: 4 })) +
    sseEvent("output", out("web-01", "line 3 of 3\n"), "3.9") +
    sseEvent("status", liveStatus(oneStep, { status: "failed" })) +
    sseEvent("end", { status: "failed" }),
  ]);
  await using _ = ctl;
  const r = await gridc(["-a", ctl.url, "job", "logs", "j1", "-f"]);
  assert.equal(r.code, 1, r.err);
  assert.deepEqual(lastIds, [null, "0.7"]);
  assert.ok(ctl.requests.includes("GET /job/j1/output"), `${ctl.requests}`);
  assert.equal(
    r.out,
    [
      "web-01 | line 1 of 3",
      "web-01 | line 2 of 3",
      "web-01 | … 4 lines skipped (the result has them)",
      "web-01 | line 3 of 3",
      "",
    ].join("\n"),
  );
});

Deno.test("job logs -f: exit 0 for a completed job, 2 for a cancelled one", async () => {
  for (const [status, code] of [["completed", 0], ["cancelled", 2]] as const) {
    const { ctl } = logsController(oneStep, [
      sseEvent("output", out("web-01", "x\n"), "0.1") +
      sseEvent("end", { status }),
    ]);
    await using _ = ctl;
    const r = await gridc(["-a", ctl.url, "job", "logs", "--follow", "j1"]);
    assert.equal(r.code, code, status);
  }
});

Deno.test("job logs --node --step: the query names them; the step leaves the prefix", async () => {
  const twoSteps = job({ expected: ["web-01", "web-02"] }); // 4 steps
  const { ctl } = logsController(twoSteps, [
    sseEvent("output", out("web-01", "x\n", { step: 1 }), "0.1") +
    sseEvent("end", { status: "running" }),
  ]);
  await using _ = ctl;
  const r = await gridc([
    "-a",
    ctl.url,
    "job",
    "logs",
    "j1",
    "--node",
    "web-01",
    "--step",
    "1",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(
    ctl.requests[1],
    "GET /job/j1/output?step=1&node=web-01&follow=false",
  );
  assert.equal(r.out, "web-01 | x\n");
  // Every step: the step is in the prefix.
  const all = await gridc(["-a", ctl.url, "job", "logs", "j1"]);
  assert.equal(all.out, "[1] web-01 | x\n");
  // A step the job does not have is a usage error.
  const bad = await gridc(["-a", ctl.url, "job", "logs", "j1", "--step", "4"]);
  assert.equal(bad.code, 3);
  assert.equal(bad.err, "gridc: --step 4: job j1 has steps 0 to 3\n");
});

Deno.test("job logs: colour on a terminal only, never with NO_COLOR or TERM=dumb", async () => {
  const { ctl } = logsController(oneStep, [
    sseEvent("output", out("web-01", "x\n"), "0.1") +
    sseEvent("end", { status: "running" }),
  ]);
  await using _ = ctl;
  const argv = ["-a", ctl.url, "job", "logs", "j1"];
  const tty = { stdout: true, stderr: true, columns: 100 };
  const coloured = await gridc(argv, { tty });
  assert.equal(coloured.out, "\x1b[36mweb-01\x1b[0m | x\n");
  for (const env of [{ NO_COLOR: "1" }, { TERM: "dumb" }]) {
    assert.equal((await gridc(argv, { tty, env })).out, "web-01 | x\n");
  }
  assert.equal((await gridc(argv)).out, "web-01 | x\n", "a pipe: plain");
});

Deno.test("job logs -o json: one output event a line", async () => {
  const { ctl } = logsController(oneStep, [
    sseEvent("output", out("web-01", "a\nb"), "0.1") +
    sseEvent("end", { status: "running" }),
  ]);
  await using _ = ctl;
  const r = await gridc(["-a", ctl.url, "-o", "json", "job", "logs", "j1"]);
  assert.equal(r.code, 0);
  assert.deepEqual(
    r.out.trim().split("\n").map((l) => JSON.parse(l)),
    [out("web-01", "a\nb")],
  );
});

Deno.test("job logs: an unknown job is the API's error (exit 4)", async () => {
  await using ctl = fakeController(() =>
    Response.json({ error: 'job "nope" not found' }, { status: 404 })
  );
  const r = await gridc(["-a", ctl.url, "job", "logs", "nope"]);
  assert.equal(r.code, 4);
  assert.equal(r.err, 'gridc: job "nope" not found (HTTP 404)\n');
});

// --wait: output lines between the result lines.

const ping = {
  target: { scope: "all" as const },
  tasks: [{ backend: "ping", action: "echo" }],
};
const running = job({ ...ping, expected: ["a", "bb"] });
const result = (node: string) => ({
  step: 0,
  node,
  status: "success",
  duration: "1.2s",
  attempts: 1,
});

function waitController() {
  return fakeController((req, url) => {
    if (req.method === "POST") {
      return Response.json(job({ ...ping, status: "pending", expected: [] }), {
        status: 202,
      });
    }
    if (url.pathname === "/job/j1/events") {
      return sseResponse(
        sseEvent("status", liveStatus(running)) +
          sseEvent("output", out("a", "line 1\nline"), "0.1") +
          sseEvent("output", out("bb", "b1\n"), "0.2") +
          sseEvent("result", { seq: 3, results: [result("a")] }, "3.2") +
          sseEvent("output", out("bb", "b2"), "3.4") +
          sseEvent("result", { seq: 5, results: [result("bb")] }, "5.4") +
          sseEvent("status", liveStatus(running, { status: "completed" })) +
          sseEvent("end", { status: "completed" }),
      );
    }
    if (url.pathname === "/job/j1") {
      return Response.json({ ...running, status: "completed" });
    }
  });
}

Deno.test("--wait prints output lines as they come, each node's before its result", async () => {
  await using ctl = waitController();
  const r = await gridc(["-a", ctl.url, "job", "run", "ping", "echo", "-w"]);
  assert.equal(r.code, 0, r.err);
  assert.ok(ctl.requests.includes("GET /job/j1/events"), `${ctl.requests}`);
  assert.deepEqual(r.out.split("\n").slice(1, 8), [
    "a  | line 1",
    "bb | b1",
    "a  | line",
    "[0 ping echo] a: success (1.2s)",
    "bb | b2",
    "[0 ping echo] bb: success (1.2s)",
    "",
  ]);
  // The table still ends it.
  assert.match(r.out, /^Job: {7}j1$/m);
});

Deno.test("--wait colours the node names on a terminal; -o json asks for no output", async () => {
  await using ctl = waitController();
  const tty = { stdout: true, stderr: false, columns: 100 };
  const r = await gridc(
    ["-a", ctl.url, "job", "run", "ping", "echo", "-w"],
    { tty },
  );
  assert.ok(r.out.includes("\x1b[36ma\x1b[0m  | line 1\n"), r.out);
  const json = await gridc([
    "-a",
    ctl.url,
    "-o",
    "json",
    "job",
    "run",
    "ping",
    "echo",
    "-w",
  ]);
  assert.equal(json.code, 0);
  assert.ok(ctl.requests.includes("GET /job/j1/events?output=false"));
  assert.equal(JSON.parse(json.out).status, "completed");
});
