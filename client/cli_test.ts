import assert from "node:assert/strict";
import { helpText } from "./help.ts";
import {
  controllerView,
  fakeController,
  gridc,
  job,
  node,
  statusView,
  summary,
} from "./testing.ts";

/** A controller that answers every read endpoint with canned JSON. */
function controller() {
  return fakeController((req, url) => {
    const p = url.pathname;
    if (req.method === "POST" && p === "/job") {
      return Response.json(job({ status: "pending", expected: [] }), {
        status: 202,
      });
    }
    if (req.method === "POST" && p === "/job/j1/cancel") {
      return Response.json(job({ status: "cancelled" }));
    }
    if (p === "/job/j1") return Response.json(job());
    if (p === "/jobs") {
      const q = new URLSearchParams({ limit: "1", before: "j0" });
      return Response.json([summary()], {
        headers: { link: `</jobs?${q}>; rel="next"` },
      });
    }
    if (p === "/nodes") return Response.json([node()]);
    if (p === "/controllers") return Response.json([controllerView()]);
    if (p === "/node/web-01") return Response.json(node());
    if (p === "/status") return Response.json(statusView());
  });
}

Deno.test("--help prints help on stdout and exits 0, for every command", async () => {
  for (
    const [argv, topic] of [
      [["--help"], ""],
      [["job", "-h"], "job"],
      [["node", "--help"], "node"],
      [["job", "run", "--help"], "job run"],
      [["job", "get", "--help"], "job get"],
      [["job", "list", "--help"], "job list"],
      [["job", "cancel", "--help"], "job cancel"],
      [["node", "list", "--help"], "node list"],
      [["node", "info", "--help"], "node info"],
      [["status", "--help"], "status"],
    ] as const
  ) {
    const r = await gridc([...argv]);
    assert.deepEqual(
      r,
      { code: 0, out: helpText(topic), err: "" },
      argv.join(" "),
    );
  }
  const top = helpText("");
  for (const code of ["0  ", "1  ", "2  ", "3  ", "4  "]) {
    assert.ok(top.includes(`\n  ${code}`));
  }
  assert.match(helpText("job run"), /-t, --target TARGET/);
});

Deno.test("--version prints gridc's and Deno's versions", async () => {
  assert.deepEqual(await gridc(["--version"]), {
    code: 0,
    out: "gridc 0.1.0 (deno 2.9.6)\n",
    err: "",
  });
  const r = await gridc(["--version", "-o", "json"]);
  assert.deepEqual(JSON.parse(r.out), { gridc: "0.1.0", deno: "2.9.6" });
});

Deno.test("usage errors are one line on stderr, exit 3, and send nothing", async () => {
  await using ctl = controller();
  for (
    const argv of [
      [],
      ["nodes"],
      ["job", "list", "--bogus"],
      ["job", "run", "ping", "echo", "message"],
      ["job", "run", "-t", "web", "ping", "echo"],
      ["job", "run", "ping", "echo", "-f"],
    ]
  ) {
    const r = await gridc(["-a", ctl.url, ...argv]);
    assert.equal(r.code, 3, argv.join(" "));
    assert.equal(r.out, "");
    assert.match(r.err, /^gridc: [^\n]+\n$/);
  }
  assert.deepEqual(ctl.requests, []);
});

Deno.test("-o json prints the API's JSON for every command", async () => {
  await using ctl = controller();
  const cases: [string[], unknown][] = [
    [["job", "run", "ping", "echo"], job({ status: "pending", expected: [] })],
    [["job", "get", "j1"], job()],
    [["job", "list"], [summary()]],
    [["job", "cancel", "j1"], job({ status: "cancelled" })],
    [["node", "list"], [node()]],
    [["controllers"], [controllerView()]],
    [["node", "info", "web-01"], node()],
    [["status"], statusView()],
  ];
  for (const [argv, expected] of cases) {
    const r = await gridc(["-a", ctl.url, "-o", "json", ...argv]);
    assert.equal(r.code, 0, argv.join(" "));
    assert.equal(r.err, "");
    assert.deepEqual(JSON.parse(r.out), expected, argv.join(" "));
    assert.match(r.out, /^[[{]\n {2}/, "indented");
  }
});

Deno.test("human output for submit, list and cancel", async () => {
  await using ctl = controller();
  let r = await gridc([
    "-a",
    ctl.url,
    "job",
    "run",
    "-t",
    "group:web",
    "ping",
    "echo",
  ]);
  assert.deepEqual(r, {
    code: 0,
    out: "Job j1 submitted (pending): 4 steps on group:web, fail-fast\n",
    err: "",
  });
  assert.deepEqual(ctl.bodies[0], {
    target: { scope: "group", value: "web" },
    tasks: [{ backend: "ping", action: "echo" }],
  });
  r = await gridc([
    "-a",
    ctl.url,
    "job",
    "list",
    "--status",
    "completed",
    "-n",
    "1",
  ]);
  assert.equal(r.code, 0);
  assert.ok(
    r.out.endsWith(
      "\nMore jobs: gridc job list --status completed --limit 1 --before j0\n",
    ),
  );
  assert.equal(ctl.requests.at(-1), "GET /jobs?limit=1&status=completed");
  r = await gridc(["-a", ctl.url, "job", "cancel", "j1"]);
  assert.deepEqual(r, { code: 0, out: "Job j1 cancelled\n", err: "" });
});

Deno.test("colour only on a terminal, never with NO_COLOR or TERM=dumb", async () => {
  await using ctl = controller();
  const tty = { stdout: true, stderr: true, columns: 100 };
  const colored = await gridc(["-a", ctl.url, "node", "list"], { tty });
  assert.ok(colored.out.includes("\x1b[32monline\x1b[0m"));
  for (const env of [{ NO_COLOR: "1" }, { TERM: "dumb" }]) {
    const r = await gridc(["-a", ctl.url, "node", "list"], { tty, env });
    assert.ok(!r.out.includes("\x1b"));
  }
  const piped = await gridc(["-a", ctl.url, "node", "list"]);
  assert.ok(!piped.out.includes("\x1b"));
});

Deno.test("tables fit the terminal width, or COLUMNS off a terminal", async () => {
  await using ctl = fakeController(() =>
    Response.json(
      job({
        results: {
          "0": {
            "web-01": {
              status: "success",
              output: "y".repeat(300),
              duration: "1s",
              attempts: 1,
            },
          },
        },
      }),
    )
  );
  const widest = (out: string) =>
    Math.max(...out.split("\n").map((l) => [...l].length));
  let r = await gridc(["-a", ctl.url, "job", "get", "j1"], {
    tty: { stdout: true, stderr: true, columns: 70 },
    env: { NO_COLOR: "1" },
  });
  assert.equal(widest(r.out), 70);
  r = await gridc(["-a", ctl.url, "job", "get", "j1"], {
    env: { COLUMNS: "90" },
  });
  assert.equal(widest(r.out), 90);
  r = await gridc(["-a", ctl.url, "job", "get", "j1"]);
  assert.equal(widest(r.out), 120);
});

Deno.test("job run -f reads the file, and names it when it is missing", async () => {
  await using ctl = controller();
  const files: Record<string, string> = {
    "deploy.yaml":
      "target: {scope: group, value: web}\ntasks:\n  - {backend: test, action: flaky, params: {rate: 50}}\n",
    "-":
      '{"tasks": [{"backend": "ping", "action": "echo"}], "expect": {}, "stratgey": "continue"}',
  };
  const readFile = (path: string) =>
    path in files
      ? Promise.resolve(files[path]!)
      : Promise.reject(new Deno.errors.NotFound(`open '${path}'`));
  let r = await gridc([
    "-a",
    ctl.url,
    "job",
    "run",
    "-f",
    "deploy.yaml",
    "-s",
    "continue",
  ], { readFile });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(ctl.bodies.at(-1), {
    target: { scope: "group", value: "web" },
    strategy: "continue",
    tasks: [{ backend: "test", action: "flaky", params: { rate: "50" } }],
  });
  r = await gridc(["-a", ctl.url, "job", "run", "-f", "-"], { readFile });
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.err,
    `gridc: warning: <stdin>: ignoring "stratgey" (not part of a job)\n`,
  );
  assert.deepEqual(ctl.bodies.at(-1), {
    tasks: [{ backend: "ping", action: "echo" }],
  });
  r = await gridc(["-a", ctl.url, "job", "run", "-f", "nope.yaml"], {
    readFile,
  });
  assert.deepEqual(r, {
    code: 3,
    out: "",
    err: "gridc: nope.yaml: no such file\n",
  });
  const broken = () => Promise.resolve("tasks:\n  - backend: [x\n");
  r = await gridc(["-a", ctl.url, "job", "run", "-f", "b.yaml"], {
    readFile: broken,
  });
  assert.equal(r.code, 3);
  assert.match(r.err, /^gridc: b\.yaml:3:1: .+\n$/);
  assert.equal(ctl.bodies.length, 2, "nothing sent for a bad file");
});

Deno.test("an unexpected failure is still one line, never a stack trace", async () => {
  const boom: typeof fetch = () => {
    throw new RangeError("kaboom\n    at somewhere");
  };
  const r = await gridc(["status"], { fetch: boom });
  assert.equal(r.code, 4);
  assert.match(
    r.err,
    /^gridc: cannot reach the controller at http:\/\/localhost:8765: kaboom\n$/,
  );

  await using ctl = controller();
  const broken = () => {
    throw new Error("clock broke\n    at now()");
  };
  const r2 = await gridc(["-a", ctl.url, "status"], { now: broken });
  assert.deepEqual(r2, {
    code: 4,
    out: "",
    err: "gridc: unexpected error: clock broke\n",
  });
});

Deno.test("GRID_LOG_FORMAT=json makes gridc's diagnostics JSON lines", async () => {
  const r = await gridc(["job", "frob"], { env: { GRID_LOG_FORMAT: "json" } });
  assert.equal(r.code, 3);
  const line = JSON.parse(r.err);
  assert.equal(line.level, "error");
  assert.equal(line.component, "gridc");
  assert.match(line.msg, /unknown command "job frob"/);
});

Deno.test("job list -n past one page follows the API's Link header", async () => {
  await using ctl = fakeController((_req, url) => {
    if (url.pathname !== "/jobs") return;
    const limit = Number(url.searchParams.get("limit"));
    const from = url.searchParams.get("before") ? 1000 : 0;
    const rows = Array.from(
      { length: limit },
      (_, i) => summary({ id: `j${from + i}` }),
    );
    const link = `</jobs?limit=${limit}&before=j${
      from + limit - 1
    }>; rel="next"`;
    return Response.json(rows, { headers: { link } });
  });
  const r = await gridc([
    "-a",
    ctl.url,
    "-o",
    "json",
    "job",
    "list",
    "-n",
    "1500",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(ctl.requests, [
    "GET /jobs?limit=1000",
    "GET /jobs?limit=500&before=j999",
  ]);
  const rows = JSON.parse(r.out);
  assert.equal(rows.length, 1500);
  assert.equal(rows[1499].id, "j1499");
});
