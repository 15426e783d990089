import assert from "node:assert/strict";
import {
  capOutput,
  describeExit,
  execOutput,
  lastLine,
  MAX_OUTPUT_BYTES,
  utf8Prefix,
} from "./output.ts";

const bytes = (s: string) => new TextEncoder().encode(s).length;

Deno.test("output - short text is left alone", () => {
  assert.equal(capOutput("hello", 100), "hello");
  assert.equal(capOutput("", 0), "");
});

Deno.test("output - capped text fits the cap and says what was dropped", () => {
  const text = "x".repeat(MAX_OUTPUT_BYTES + 5000);
  const out = capOutput(text);
  assert.ok(bytes(out) <= MAX_OUTPUT_BYTES);
  const m = out.match(/\n\[output truncated: (\d+) bytes dropped\]$/);
  assert.ok(m, "missing truncation line");
  const kept = out.length - m[0].length;
  assert.equal(kept + Number(m[1]), text.length);
});

Deno.test("output - a cut never splits a UTF-8 character", () => {
  const text = "é".repeat(100); // 2 bytes each
  const out = capOutput(text, 101);
  assert.ok(!out.includes("\uFFFD"));
  assert.ok(bytes(out) <= 101);
  const euro = new TextEncoder().encode("a€"); // 1 + 3 bytes
  assert.deepEqual([...utf8Prefix(euro, 3)], [0x61]);
  assert.deepEqual(utf8Prefix(euro, 4), euro);
});

Deno.test("output - exit descriptions and combined output", () => {
  assert.equal(describeExit({ code: 100, signal: null }), "exit code 100");
  assert.equal(
    describeExit({ code: null, signal: "SIGKILL" }),
    "killed by SIGKILL",
  );
  const r = {
    code: 1,
    signal: null,
    stdout: "one\n",
    stderr: "E: two\n\n",
    truncated: true,
    dropped: 7,
  };
  assert.equal(
    execOutput(r),
    "one\nE: two\n[output truncated: 7 bytes dropped]",
  );
  assert.equal(lastLine(r), "E: two");
  assert.equal(lastLine({ stdout: "only out\n", stderr: "" }), "only out");
});
