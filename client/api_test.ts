import assert from "node:assert/strict";
import {
  ApiClient,
  ApiError,
  normalizeBaseUrl,
  UnreachableError,
} from "./api.ts";
import {
  closedPort,
  fakeController,
  gridc,
  job,
  node,
  statusView,
} from "./testing.ts";

const error = (status: number, message: string) =>
  Response.json({ error: message }, { status });

Deno.test("ApiClient returns checked data and the raw JSON", async () => {
  await using ctl = fakeController((_req, url) =>
    url.pathname === "/job/j1"
      ? Response.json({ ...job(), extra: "kept" })
      : undefined
  );
  const reply = await new ApiClient(ctl.url).getJob("j1");
  assert.equal(reply.data.id, "j1");
  assert.equal((reply.raw as { extra: string }).extra, "kept");
  assert.ok(!("extra" in reply.data));
});

Deno.test("ApiClient reads bare lists, builds the /jobs query and follows its Link", async () => {
  await using ctl = fakeController((_req, url) => {
    if (url.pathname === "/nodes") return Response.json([node()]);
    if (url.pathname === "/jobs") {
      return Response.json([], {
        headers: url.search
          ? { link: '</jobs?limit=5&before=j4&status=failed>; rel="next"' }
          : {},
      });
    }
  });
  const api = new ApiClient(ctl.url);
  assert.deepEqual((await api.listNodes()).data, [node()]);
  const page = await api.listJobs({ limit: 5, before: "j9", status: "failed" });
  assert.deepEqual(page.data, { jobs: [], next: "j4" });
  assert.deepEqual((await api.listJobs()).data, { jobs: [] });
  assert.deepEqual(ctl.requests, [
    "GET /nodes",
    "GET /jobs?limit=5&before=j9&status=failed",
    "GET /jobs",
  ]);
});

Deno.test("ApiClient escapes ids in paths", async () => {
  await using ctl = fakeController(() => error(404, "job not found"));
  await assert.rejects(new ApiClient(ctl.url).getJob("a/b c"), ApiError);
  assert.deepEqual(ctl.requests, ["GET /job/a%2Fb%20c"]);
});

Deno.test("ApiClient: output streams carry the token and Last-Event-ID; a refusal is an error, not a poll", async () => {
  const seen: (string | null)[][] = [];
  await using ctl = fakeController((req, url) => {
    seen.push([
      req.headers.get("authorization"),
      req.headers.get("last-event-id"),
    ]);
    if (url.pathname.startsWith("/job/gone/")) return error(404, "job gone");
    if (url.pathname === "/job/json/output") return Response.json({});
    return new Response("event: end\ndata: {}\n\n", {
      headers: { "content-type": "text/event-stream" },
    });
  });
  const api = new ApiClient(ctl.url, { token: "t0k" });
  const events = await api.jobOutput("j1", "4.7", { node: "a", follow: false });
  const got = [];
  for await (const e of events) got.push(e);
  assert.deepEqual(got, [{ type: "end", data: "{}" }]);
  await assert.rejects(
    api.jobOutput("gone", undefined, {}),
    (e: unknown) =>
      e instanceof ApiError && e.status === 404 &&
      e.message === "job gone (HTTP 404)",
  );
  await assert.rejects(
    api.jobOutput("json", undefined, {}),
    /unexpected reply to GET \/job\/json\/output: not an event stream/,
  );
  // The job's events: a 404 means "no stream here, poll".
  assert.equal(
    await api.jobEvents("gone", undefined, { output: false }),
    undefined,
  );
  assert.deepEqual(ctl.requests, [
    "GET /job/j1/output?node=a&follow=false",
    "GET /job/gone/output",
    "GET /job/json/output",
    "GET /job/gone/events?output=false",
  ]);
  assert.deepEqual(seen[0], ["Bearer t0k", "4.7"]);
  assert.deepEqual(seen[1], ["Bearer t0k", null]);
});

Deno.test("ApiClient gives up on a controller that does not answer", async () => {
  const { promise: never, resolve } = Promise.withResolvers<Response>();
  await using ctl = fakeController(() => never);
  try {
    await assert.rejects(
      new ApiClient(ctl.url, { timeoutMs: 20 }).status(),
      (e: unknown) =>
        e instanceof UnreachableError &&
        e.message ===
          `the controller at ${ctl.url} did not answer GET /status within 20ms`,
    );
  } finally {
    resolve(new Response("late"));
  }
});

Deno.test("job run: a 400 prints the API's error text and exits 4", async () => {
  const msg = 'tasks[1].action: unknown action "instal" for backend "apt"';
  await using ctl = fakeController(() => error(400, msg));
  const r = await gridc([
    "-a",
    ctl.url,
    "job",
    "run",
    "apt",
    "instal",
    "package=nginx",
  ]);
  assert.deepEqual(r, { code: 4, out: "", err: `gridc: ${msg} (HTTP 400)\n` });
  assert.deepEqual(ctl.bodies, [{
    target: { scope: "all" },
    tasks: [{ backend: "apt", action: "instal", params: { package: "nginx" } }],
  }]);
});

Deno.test("job get: a 404 prints the API's error text and exits 4", async () => {
  await using ctl = fakeController(() => error(404, 'job "nope" not found'));
  const r = await gridc(["-a", ctl.url, "job", "get", "nope"]);
  assert.deepEqual(r, {
    code: 4,
    out: "",
    err: `gridc: job "nope" not found (HTTP 404)\n`,
  });
});

Deno.test("job cancel: a 409 prints the API's error text and exits 4", async () => {
  await using ctl = fakeController(() =>
    error(409, 'job "j1" already finished (completed)')
  );
  const r = await gridc(["-a", ctl.url, "job", "cancel", "j1"]);
  assert.deepEqual(r, {
    code: 4,
    out: "",
    err: `gridc: job "j1" already finished (completed) (HTTP 409)\n`,
  });
  assert.deepEqual(ctl.requests, ["POST /job/j1/cancel"]);
});

Deno.test("job run: a 429 prints the API's error text and exits 4", async () => {
  await using ctl = fakeController(() =>
    error(429, "queue full: 100 jobs pending")
  );
  const r = await gridc(["-a", ctl.url, "job", "run", "ping", "echo"]);
  assert.deepEqual(r, {
    code: 4,
    out: "",
    err: "gridc: queue full: 100 jobs pending (HTTP 429)\n",
  });
});

Deno.test("errors without a JSON body still read as one line", async () => {
  await using ctl = fakeController((_req, url) => {
    if (url.pathname === "/job") {
      return new Response("too big", { status: 413 });
    }
    if (url.pathname === "/status") {
      return new Response("upstream broke\n<html>", { status: 502 });
    }
  });
  let r = await gridc(["-a", ctl.url, "job", "run", "ping", "echo"]);
  assert.deepEqual(r, {
    code: 4,
    out: "",
    err: "gridc: the job is too large for the controller (HTTP 413)\n",
  });
  r = await gridc(["-a", ctl.url, "status"]);
  assert.deepEqual(r, {
    code: 4,
    out: "",
    err: "gridc: upstream broke (HTTP 502)\n",
  });
});

Deno.test("a reply that is not JSON, or not the right shape, exits 4", async () => {
  await using ctl = fakeController((_req, url) => {
    if (url.pathname === "/status") return new Response("<html>ok</html>");
    if (url.pathname === "/node/x") {
      return Response.json({ ...node(), queued: "many" });
    }
  });
  let r = await gridc(["-a", ctl.url, "status"]);
  assert.deepEqual(r, {
    code: 4,
    out: "",
    err: "gridc: unexpected reply to GET /status: not JSON\n",
  });
  r = await gridc(["-a", ctl.url, "node", "info", "x"]);
  assert.equal(r.code, 4);
  assert.match(
    r.err,
    /^gridc: unexpected reply to GET \/node\/x: queued: .+\n$/,
  );
});

Deno.test("an unreachable controller exits 4 naming the URL", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const r = await gridc(["-a", url, "status"]);
  assert.equal(r.code, 4);
  assert.equal(r.out, "");
  assert.match(
    r.err,
    new RegExp(`^gridc: cannot reach the controller at ${url}: .+\\n$`),
  );
  // Refused, or reset when a parallel test has just taken the port.
  assert.match(r.err, /refused|reset/i);
});

Deno.test("the address comes from -a, then GRID_API, then the default", async () => {
  await using ctl = fakeController(() => Response.json(statusView()));
  const port = closedPort();
  let r = await gridc(["status"], { env: { GRID_API: ctl.url } });
  assert.equal(r.code, 0);
  r = await gridc(["-a", ctl.url, "status"], {
    env: { GRID_API: `http://127.0.0.1:${port}` },
  });
  assert.equal(r.code, 0);
  r = await gridc(["status"], { env: { GRID_API: `127.0.0.1:${port}/` } });
  assert.match(r.err, new RegExp(`at http://127\\.0\\.0\\.1:${port}: `));
  r = await gridc(["status", "-a", "ftp://x"]);
  assert.deepEqual(r, {
    code: 3,
    out: "",
    err:
      `gridc: -a "ftp://x": not an http(s) URL such as http://localhost:8765\n`,
  });
  r = await gridc(["status"], { env: { GRID_API: "http://" } });
  assert.equal(r.code, 3);
  assert.match(r.err, /^gridc: GRID_API "http:\/\/": not an http\(s\) URL/);
});

Deno.test("normalizeBaseUrl() adds http:// and drops trailing slashes", () => {
  assert.equal(normalizeBaseUrl("localhost:8765"), "http://localhost:8765");
  assert.equal(
    normalizeBaseUrl("https://grid.example/api/"),
    "https://grid.example/api",
  );
  assert.equal(normalizeBaseUrl("http://h:1?x=1"), undefined);
  assert.equal(normalizeBaseUrl("nats://h:4222"), undefined);
  assert.equal(normalizeBaseUrl("http://"), undefined);
});

Deno.test("job resume: posts to the job's resume, says which batch runs; 409 exits 4", async () => {
  await using ctl = fakeController((_req, url) =>
    url.pathname === "/job/j1/resume"
      ? Response.json(
        job({
          status: "running",
          rollout_status: { batch: 2, batches: 4, failed: 0 },
        }),
      )
      : error(409, 'job "j2" is not paused for approval (it is completed)')
  );
  const ok = await gridc(["-a", ctl.url, "job", "resume", "j1"]);
  assert.deepEqual(ok, {
    code: 0,
    out: "Job j1 resumed: batch 2 of 4\n",
    err: "",
  });
  const refused = await gridc(["-a", ctl.url, "job", "resume", "j2"]);
  assert.equal(refused.code, 4);
  assert.match(refused.err, /not paused for approval .*\(HTTP 409\)/);
  assert.deepEqual(ctl.requests, [
    "POST /job/j1/resume",
    "POST /job/j2/resume",
  ]);
});
