import assert from "node:assert/strict";
import { OutputLines, type OutputLinesOptions } from "./output_lines.ts";
import { liveOutput as out } from "./testing.ts";

const plain = (over: Partial<OutputLinesOptions> = {}) =>
  new OutputLines({ color: false, clean: false, steps: false, ...over });

Deno.test("OutputLines: a line cut across chunks comes out whole, once", () => {
  const l = plain({ nodes: ["web-01"] });
  assert.equal(
    l.push(out("web-01", "line 1 of 3\nli")),
    "web-01 | line 1 of 3\n",
  );
  assert.equal(l.push(out("web-01", "ne 2")), "");
  assert.equal(
    l.push(out("web-01", " of 3\nline 3 of 3\n")),
    "web-01 | line 2 of 3\nweb-01 | line 3 of 3\n",
  );
  assert.equal(l.flush(), "", "nothing left over");
  assert.equal(l.push(out("web-01", "no newline at the end")), "");
  assert.equal(l.flush(), "web-01 | no newline at the end\n");
  assert.equal(l.flush(), "", "flushed once");
});

Deno.test("OutputLines: each node and attempt keeps its own unfinished line", () => {
  const l = plain({ nodes: ["a", "bbb"] });
  assert.equal(l.push(out("a", "half")), "");
  assert.equal(l.push(out("bbb", "b1\n")), "bbb | b1\n");
  assert.equal(l.push(out("a", " and half\n")), "a   | half and half\n");
  // Empty lines and CRLF endings.
  assert.equal(l.push(out("a", "x\r\n\ny\r\n")), "a   | x\na   | \na   | y\n");
  // A retry: the first attempt's unfinished line is printed before it.
  assert.equal(l.push(out("bbb", "cut")), "");
  assert.equal(
    l.push(out("bbb", "again\n", { attempt: 2 })),
    "bbb | cut\nbbb (attempt 2) | again\n",
  );
});

Deno.test("OutputLines: flush of one node's step leaves the others", () => {
  const l = plain({ steps: true, nodes: ["a", "b"] });
  l.push(out("a", "a0"));
  l.push(out("a", "a1", { step: 1 }));
  l.push(out("b", "b0"));
  assert.equal(l.flush({ step: 0, node: "a" }), "[0] a | a0\n");
  assert.equal(l.flush(), "[1] a | a1\n[0] b | b0\n");
});

Deno.test("OutputLines: the step is in the prefix only when asked", () => {
  assert.equal(
    plain({ steps: true }).push(out("web-01", "x\n", { step: 3 })),
    "[3] web-01 | x\n",
  );
  assert.equal(
    plain().push(out("web-01", "x\n", { step: 3 })),
    "web-01 | x\n",
  );
});

Deno.test("OutputLines: skipped lines are a marker, after what came before the gap", () => {
  const l = plain({ nodes: ["web-01"] });
  assert.equal(l.push(out("web-01", "before the g")), "");
  assert.equal(
    l.push(out("web-01", "", { skipped: 12 })),
    "web-01 | before the g\n" +
      "web-01 | … 12 lines skipped (the result has them)\n",
  );
  assert.equal(
    l.push(out("web-01", "", { skipped: 1 })),
    "web-01 | … 1 line skipped (the result has them)\n",
  );
  assert.equal(l.push(out("web-01", "after\n")), "web-01 | after\n");
});

Deno.test("OutputLines: colour per node only when on, the text left alone", () => {
  const l = plain({ color: true, nodes: ["web-02", "web-01"] });
  const a = l.push(out("web-01", "one\n"));
  const b = l.push(out("web-02", "two\n"));
  assert.equal(a, "\x1b[36mweb-01\x1b[0m | one\n");
  assert.equal(b, "\x1b[33mweb-02\x1b[0m | two\n");
  // A node the job did not list still gets a colour, the same each time.
  const c1 = l.colorOf("db-01");
  assert.equal(c1, l.colorOf("db-01"));
  assert.equal(l.push(out("db-01", "x\n")), `\x1b[${c1}mdb-01\x1b[0m  | x\n`);
  assert.equal(
    l.push(out("web-01", "", { skipped: 2 })),
    "\x1b[36mweb-01\x1b[0m | \x1b[2m… 2 lines skipped (the result has them)\x1b[0m\n",
  );
  assert.ok(!plain().push(out("web-01", "one\n")).includes("\x1b"));
});

Deno.test("OutputLines: on a terminal a node's escape sequences are removed", () => {
  const text = "\x1b[2J\x1b[31mred\x1b[0m\tok\x07\n";
  assert.equal(
    plain({ clean: true }).push(out("n", text)),
    "n | red\tok\n",
  );
  assert.equal(plain().push(out("n", text)), `n | ${text}`);
});
