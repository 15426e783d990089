import assert from "node:assert/strict";
import { EnrollRequest } from "./auth.ts";
import { WorkerConfig } from "./config.ts";
import { describeIssues, JobSpec } from "./job.ts";
import {
  formatLabels,
  Labels,
  parseLabelPairs,
  parseSelector,
  type Selectable,
  selects,
} from "./selector.ts";

/** A small fleet: ids, groups and labels chosen so each rule shows. */
const FLEET: Selectable[] = [
  {
    id: "web-01",
    groups: ["web", "prod"],
    labels: { role: "web", env: "prod" },
  },
  {
    id: "web-02",
    groups: ["web", "prod"],
    labels: { role: "web", env: "prod" },
  },
  {
    id: "web-03",
    groups: ["web"],
    labels: { role: "web", env: "canary" },
  },
  { id: "db-01", groups: ["db", "prod"], labels: { role: "db", env: "prod" } },
  { id: "db-02", groups: ["db"], labels: { role: "db" } },
  { id: "bare", groups: [] },
];

function pick(text: string): string[] {
  const r = parseSelector(text);
  assert.ok(r.ok, r.ok ? "" : `${text}: ${r.error}`);
  return FLEET.filter((n) => selects(r.selector, n)).map((n) => n.id);
}

Deno.test("selector: which nodes each form selects", () => {
  const table: [string, string[]][] = [
    // label terms: AND across terms
    ["role=web", ["web-01", "web-02", "web-03"]],
    ["role=web,env=prod", ["web-01", "web-02"]],
    ["role=web,env!=canary", ["web-01", "web-02"]],
    // != also holds where the label is missing
    ["env!=prod", ["web-03", "db-02", "bare"]],
    ["role=web,role=db", []],
    ["role = web , env != canary", ["web-01", "web-02"]],
    // lists: OR within one, a bare name extends the list before it
    ["node:web-01", ["web-01"]],
    ["node:web-01,db-02", ["web-01", "db-02"]],
    ["group:db", ["db-01", "db-02"]],
    ["group:db,web", ["web-01", "web-02", "web-03", "db-01", "db-02"]],
    // two lists are two terms: both must hold
    ["group:web,group:prod", ["web-01", "web-02"]],
    ["group:web,node:web-01,db-01", ["web-01"]],
    ["group:prod,role=db", ["db-01"]],
    // exclusions win
    ["!node:web-03", ["web-01", "web-02", "db-01", "db-02", "bare"]],
    ["role=web,!node:web-03", ["web-01", "web-02"]],
    ["group:web,!node:web-01,web-02", ["web-03"]],
    ["node:web-01,!node:web-01", []],
    ["!group:prod", ["web-03", "db-02", "bare"]],
    ["group:prod,!group:db", ["web-01", "web-02"]],
    ["role=web,!group:prod,!node:web-03", []],
    // a list closes at a label term: the bare name after it extends the next list
    ["node:web-01,role=web,node:web-02,web-03", []],
    ["group:web,role=web,!node:web-01,web-02", ["web-03"]],
    // dotted node ids and label values
    ["version=1.10", []],
  ];
  for (const [text, want] of table) {
    assert.deepEqual(pick(text), want, text);
  }
});

Deno.test("selector: a bad selector's error names the term, its number and column", () => {
  const table: [string, string][] = [
    ["", "must not be empty"],
    ["   ", "must not be empty"],
    ["role=web,,env=prod", 'term 2 "" (column 10): empty term'],
    ["role=web,", 'term 2 "" (column 10): empty term'],
    ["role", 'term 1 "role" (column 1): a bare name extends'],
    ["role=web,web-02", 'term 2 "web-02" (column 10): a bare name extends'],
    ["role=", 'term 1 "role=" (column 1): label value "" must be'],
    ["=web", 'term 1 "=web" (column 1): label key "" must be'],
    ["ro le=web", 'label key "ro le" must be'],
    ["role=w*b", 'label value "w*b" must be'],
    ["-role=web", 'label key "-role" must be'],
    ["!role=web", '"!" negates node: and group: terms; write key!=value'],
    ["!web-03", '"!" must be followed by node: or group: (write !node:web-03)'],
    ["host:web-01", 'unknown kind "host:": use node:, group:'],
    ["!nodes:a", 'unknown kind "!nodes:"'],
    ["node:", 'term 1 "node:" (column 1): node id "" is missing'],
    ["group:web,we b", 'term 2 "we b" (column 11): group "we b" must be'],
    ["node:a..b", 'node id "a..b" must be'],
    ["group:a.b", 'group "a.b" must be'],
    ["role=web, node:", 'term 2 "node:" (column 11)'],
    ["x".repeat(9000), "must be at most 8192 characters"],
  ];
  for (const [text, want] of table) {
    const r = parseSelector(text);
    assert.ok(!r.ok, `${JSON.stringify(text)} parsed`);
    assert.ok(r.error.includes(want), `${text}: ${r.error}`);
  }
});

Deno.test("selector: a job's target names target.selector in errors and takes one way to target", () => {
  const task = { backend: "test", action: "succeed" };
  const bad = JobSpec.safeParse({
    target: { selector: "role=web,!web-03" },
    tasks: [task],
  });
  assert.ok(!bad.success);
  assert.match(
    describeIssues(bad.error),
    /^target\.selector: term 2 "!web-03" \(column 10\): "!" must be followed/,
  );
  const both = JobSpec.safeParse({
    target: { scope: "group", value: "web", selector: "role=web" },
    tasks: [task],
  });
  assert.ok(!both.success);
  assert.match(
    describeIssues(both.error),
    /^target\.selector: give scope\/value or a selector, not both/,
  );
  const notText = JobSpec.safeParse({
    target: { selector: ["role=web"] },
    tasks: [task],
  });
  assert.ok(!notText.success);
  assert.match(describeIssues(notText.error), /^target\.selector: /);
  const ok = JobSpec.parse({ target: { selector: "role=web" }, tasks: [task] });
  assert.deepEqual(ok.target, { scope: "all", selector: "role=web" });
  // Records stored before selectors still read.
  assert.deepEqual(JobSpec.parse({ tasks: [task] }).target, { scope: "all" });
});

Deno.test("labels: keys and values are checked, each mistake named", () => {
  assert.deepEqual(Labels.parse({ role: "web", "zone.a": "eu-1" }), {
    role: "web",
    "zone.a": "eu-1",
  });
  const table: [unknown, RegExp][] = [
    [{ "ro le": "web" }, /label key "ro le" must be/],
    [{ role: "" }, /label value "" must be/],
    [{ role: "a/b" }, /label value "a\/b" must be/],
    [{ role: 3 }, /must be text/],
    [
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])),
      /at most 32 labels/,
    ],
  ];
  for (const [input, want] of table) {
    const r = Labels.safeParse(input);
    assert.ok(!r.success, JSON.stringify(input));
    assert.match(describeIssues(r.error), want);
  }
});

Deno.test("labels: key=value pairs from the command line", () => {
  assert.deepEqual(parseLabelPairs("role=web, env=prod"), {
    ok: true,
    labels: { role: "web", env: "prod" },
  });
  assert.deepEqual(parseLabelPairs(""), { ok: true, labels: {} });
  const table: [string, string][] = [
    ["role", '"role" is not key=value'],
    ["role=web,role=db", 'label "role" is given twice'],
    ["=web", 'label key "" must be'],
    ["role=", 'label value "" must be'],
  ];
  for (const [text, want] of table) {
    const r = parseLabelPairs(text);
    assert.ok(!r.ok, text);
    assert.ok(r.error.includes(want), `${text}: ${r.error}`);
  }
  assert.equal(formatLabels({ role: "web", env: "prod" }), "env=prod,role=web");
});

Deno.test("labels: in the worker config and an enrollment request, named when wrong", () => {
  const base = { nats: { name: "web-01" } };
  assert.deepEqual(
    WorkerConfig.parse({ ...base, worker: { labels: { role: "web" } } }).worker
      .labels,
    { role: "web" },
  );
  assert.equal(WorkerConfig.parse(base).worker.labels, undefined);
  const bad = WorkerConfig.safeParse({
    ...base,
    worker: { labels: { role: "web", env: "pr od" } },
  });
  assert.ok(!bad.success);
  assert.equal(
    describeIssues(bad.error),
    `worker.labels.env: label value "pr od" must be 1-63 letters, digits, '-', '_' or '.'`,
  );
  assert.deepEqual(
    EnrollRequest.parse({ id: "n1", groups: [] }).labels,
    {},
  );
  const enroll = EnrollRequest.safeParse({
    id: "n1",
    groups: [],
    labels: { "": "x" },
  });
  assert.ok(!enroll.success);
  assert.match(describeIssues(enroll.error), /^labels\.: label key "" must be/);
});
