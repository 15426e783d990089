/**
 * What a node advertises must be what it enforces: for every action of
 * every backend, the description (sent through JSON, as a node record
 * carries it) accepts and refuses exactly what the worker's schema does,
 * with the same words.
 */
import assert from "node:assert/strict";
import { DEFAULT_BINARIES } from "../models/backend_table.ts";
import { actionParams, checkParams, NodeParams } from "../models/params.ts";
import { backendDefinitions } from "./mod.ts";
import { describeParams, paramsDigest } from "./describe.ts";
import { z } from "zod";
import {
  describeAction,
  describeParamIssues,
  duration,
  paramNames,
  text,
} from "./params.ts";
import type { BackendDef } from "./types.ts";

/** Values to try per param name: good ones first. */
const VALUES: Record<string, string[]> = {
  package: [
    "nginx",
    "nginx curl,nginx",
    "g++ libc6-dev",
    "Nginx",
    " , ",
    "a",
    "nginx\tcurl",
    "nginx; rm -rf /",
    "-oAPT::Update::Pre-Invoke::=x",
  ],
  version: ["1.0", "1:2.3-4", "1.2-3-4", "1.0-", "x:1.0", "-1", "1.0 ", ":1"],
  unit: [
    "nginx",
    "nginx.service",
    "getty@tty1.service",
    "",
    "-x",
    "a/b",
    "a b",
    "x".repeat(247),
    "x".repeat(248),
    `${"x".repeat(247)}.service`,
    `${"x".repeat(248)}.service`,
  ],
  mode: ["server", "agent", "Server", ""],
  installer: [
    "/opt/grid/rke2/install.sh",
    "/opt/grid/rke2",
    "/opt/grid/rke2/",
    "/opt/grid/rke2/../x",
    "/opt/grid/rke2/./x",
    "/opt/grid/rke2//x",
    "/opt/grid/rke2/a\nb",
    "install.sh",
    "/bin/sh",
    "/opt/grid/rke2x/y",
  ],
  message: ["hi", ""],
  duration: ["500ms", "1m30s", "24h", "0", "soon", "25h", "-1s", " 2s "],
  delay: ["1s", "soon"],
  interval: ["100ms", "25h"],
  nodes: ["a", "a, b", "web-01.example", " , ", "bad node", "a..b"],
  rate: ["50", "0", "100", " 7 ", "100.5", "-1", "x", "1e2"],
  lines: ["10", "0", " 5 ", "x", "16777216", "20000000", "1.5"],
  width: ["80", "0", "x", "1000001"],
};

/** Each param alone with each value, all of them at once, and extras. */
function inputs(names: string[]): Record<string, string>[] {
  const out: Record<string, string>[] = [{}, { bogus: "x" }];
  for (const n of names) {
    for (const v of VALUES[n] ?? ["x"]) out.push({ [n]: v });
  }
  const first = Object.fromEntries(names.map((n) => [n, VALUES[n]?.[0] ?? ""]));
  out.push(first, { ...first, bogus: "x", other: "y" });
  if (names.includes("version")) {
    out.push(
      { package: "nginx curl", version: "1.0" },
      { package: "nginx nginx", version: "1.0" },
      { version: "1.0" },
      { package: "Nginx", version: "1.0", bogus: "x" },
    );
  }
  if (names.includes("width")) {
    out.push({ lines: "1000000", width: "100" }, { lines: "200000" });
  }
  return out;
}

function allDefinitions(): BackendDef[] {
  return Object.values(backendDefinitions({ ...DEFAULT_BINARIES })).flat();
}

Deno.test("describe: every action's description judges params as its schema does", () => {
  let compared = 0;
  for (const b of allDefinitions()) {
    const sent = NodeParams.parse(
      JSON.parse(JSON.stringify(describeParams({ [b.name]: b }))),
    );
    for (const [name, def] of Object.entries(b.actions)) {
      const ap = actionParams(sent, b.name, name);
      assert.ok(ap, `${b.name} ${name} is described`);
      for (const [p, spec] of Object.entries(ap.params)) {
        assert.notEqual(spec.kind, "unchecked", `${b.name} ${name} ${p}`);
      }
      const names = paramNames(def.params);
      assert.deepEqual(Object.keys(ap.params).sort(), names);
      for (const params of inputs(names)) {
        const zod = def.params.safeParse(params);
        const worker = zod.success
          ? "accepted"
          : describeParamIssues(zod.error, names);
        const issues = checkParams(ap, params);
        const controller = issues.length === 0
          ? "accepted"
          : issues.map((i) => `param ${JSON.stringify(i.param)}: ${i.message}`)
            .join("; ");
        assert.equal(
          controller,
          worker,
          `${b.name} ${name} ${JSON.stringify(params)}`,
        );
        compared++;
      }
    }
  }
  assert.ok(compared > 300, `only ${compared} cases`);
});

Deno.test("describe: the digest follows the content, not the order it was built in", () => {
  const [ping, test] = allDefinitions();
  const a = describeParams({ ping: ping!, test: test! });
  const b = describeParams({ ping: ping!, test: test! });
  assert.equal(paramsDigest(a), paramsDigest(b));
  assert.equal(paramsDigest(a), paramsDigest(JSON.parse(JSON.stringify(a))));
  assert.notEqual(
    paramsDigest(a),
    paramsDigest(describeParams({ ping: ping! })),
  );
});

Deno.test("describe: a check built outside the blocks is said to be unchecked", () => {
  const ap = describeAction(
    z.strictObject({
      a: text().refine((s) => s !== "x"),
      b: duration().optional(),
      c: text().default("d"),
    }),
  );
  assert.deepEqual(ap, {
    params: {
      a: { kind: "unchecked" },
      b: {
        ...describeAction(z.strictObject({ b: duration() }))!.params.b!,
        optional: true,
      },
      c: { kind: "text", default: "d" },
    },
  });
  assert.equal(describeAction(z.string()), undefined);
});
