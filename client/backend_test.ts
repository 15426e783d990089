/**
 * `gridc backend list|describe` against a stand-in controller, the data
 * summary a result cell shows, and the param words derived from the
 * nodes' descriptions.
 */
import assert from "node:assert/strict";
import type { BackendView } from "../models/backend_view.ts";
import { parseCli } from "./args.ts";
import { summarizeData } from "./data_summary.ts";
import { helpText } from "./help.ts";
import { accepts, exampleOf } from "./render_backend.ts";
import { renderResults } from "./render.ts";
import { fakeController, gridc, job, NOW, result } from "./testing.ts";

const BACKENDS: BackendView[] = [
  {
    name: "journald",
    nodes: ["web-01", "web-02"],
    actions: {
      tail: {
        nodes: ["web-01", "web-02"],
        params: {
          unit: {
            kind: "text",
            checks: [{
              pattern: "^[a-z]+$",
              message: "must be a unit, got %s",
            }],
            doc: "The unit whose journal to read",
            example: "nginx.service",
          },
          lines: { kind: "int", min: 1, max: 1000, default: 50 },
          priority: { kind: "enum", values: ["err", "warning", "info"] },
        },
      },
      follow: { nodes: ["web-01"], params: {} },
    },
  },
  {
    name: "ping",
    nodes: ["web-01"],
    actions: { echo: { nodes: ["web-01"], params: {} } },
  },
];

function controller() {
  return fakeController((_req, url) =>
    url.pathname === "/backends" ? Response.json(BACKENDS) : undefined
  );
}

Deno.test("backend commands parse, with help", () => {
  assert.deepEqual(parseCli(["backend", "list"]).command, {
    kind: "backend list",
  });
  assert.deepEqual(parseCli(["backend", "describe", "apt"]).command, {
    kind: "backend describe",
    name: "apt",
  });
  assert.throws(() => parseCli(["backend", "describe"]), /backend NAME/);
  assert.match(helpText("backend describe"), /Usage: gridc backend describe/);
  assert.match(helpText(""), /backend list/);
});

Deno.test("gridc backend list: each backend, its actions and how many nodes", async () => {
  await using ctl = controller();
  const r = await gridc(["-a", ctl.url, "backend", "list"]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split("\n");
  assert.match(lines[0]!, /^BACKEND\s+ACTIONS\s+NODES$/);
  assert.match(lines[1]!, /^journald\s+tail, follow\s+2$/);
  assert.match(lines[2]!, /^ping\s+echo\s+1$/);
  const json = await gridc(["-a", ctl.url, "-o", "json", "backend", "list"]);
  assert.deepEqual(JSON.parse(json.out), BACKENDS);
});

Deno.test("gridc backend describe: params with defaults, examples and what they accept", async () => {
  await using ctl = controller();
  const r = await gridc(["-a", ctl.url, "backend", "describe", "journald"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Backend journald: on 2 nodes \(web-01, web-02\)/);
  assert.match(r.out, /\njournald follow \(on 1 node only\)\n {2}no params/);
  assert.match(
    r.out,
    /\n {2}unit\s+text\s+yes\s+-\s+nginx\.service\s+text: must be a unit\n/,
  );
  assert.match(r.out, /\n {2}lines\s+int\s+no\s+50\s+-\s+integer 1\.\.1000\n/);
  assert.match(
    r.out,
    /\n {2}priority\s+enum\s+yes\s+-\s+err\s+err \| warning \| info\n/,
  );
  assert.match(r.out, /\n {2}unit: The unit whose journal to read\n/);
  const missing = await gridc(["-a", ctl.url, "backend", "describe", "apt"]);
  assert.equal(missing.code, 4);
  assert.match(missing.err, /no online node offers backend "apt"/);
  assert.match(missing.err, /online: journald, ping/);
  const bogus = await gridc(["-a", ctl.url, "backend", "describe", "shell"]);
  assert.equal(bogus.code, 4);
  assert.match(bogus.err, /unknown backend "shell"/);
});

Deno.test("exampleOf and accepts read only the description", () => {
  assert.equal(exampleOf({ kind: "text" }), undefined);
  assert.equal(exampleOf({ kind: "int", min: 5, default: 7 }), undefined);
  assert.equal(exampleOf({ kind: "int", min: 5 }), "5");
  assert.equal(exampleOf({ kind: "duration", min: 0, max: 60_000 }), "1s");
  assert.equal(accepts({ kind: "duration", max: 60_000 }), "duration <= 1m0s");
  assert.equal(accepts({ kind: "list" }), "list");
});

Deno.test("summarizeData: a few keys on one line, nested values sketched", () => {
  assert.equal(
    summarizeData({ mount: "/", used_pct: 42, free: 1024 }),
    "mount=/ used_pct=42 free=1024",
  );
  assert.equal(
    summarizeData({ a: 1, b: [1, 2], c: { x: 1 }, d: null, e: true }),
    "a=1 b=[2] c={1} d=null …",
  );
  assert.equal(summarizeData([{ pid: 1 }, { pid: 2 }]), "[2] pid=1, …");
  assert.equal(summarizeData([]), "[]");
  assert.equal(summarizeData("line\nbreak"), "line break");
  assert.equal(summarizeData({ s: "x".repeat(100) }), `s=${"x".repeat(23)}…`);
});

Deno.test("a result with data shows its summary in the table; an error still wins", () => {
  const view = { width: 120, color: false, now: NOW };
  const out = renderResults(
    job({
      results: {
        "0": {
          "web-01": result({ output: "text", data: { used_pct: 42 } }),
          "web-02": result({
            status: "failed",
            error: "disk full",
            data: { used_pct: 99 },
          }),
        },
      },
    }),
    view,
  );
  assert.match(out, /web-01 .* used_pct=42\n/);
  assert.match(out, /web-02 .* disk full\n/);
});
