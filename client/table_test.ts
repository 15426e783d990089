import assert from "node:assert/strict";
import {
  firstLine,
  paint,
  renderFields,
  renderTable,
  sanitize,
  textWidth,
  truncate,
} from "./table.ts";

const plain = { width: 40, color: false };

Deno.test("renderTable() aligns columns and right-aligns numbers", () => {
  const text = renderTable(
    [{ header: "NAME" }, { header: "N", align: "right" }, { header: "NOTE" }],
    [["a", "1", "x"], ["longer", "123", ""]],
    plain,
  );
  assert.equal(
    text,
    [
      "NAME      N  NOTE",
      "a         1  x",
      "longer  123",
      "",
    ].join("\n"),
  );
});

Deno.test("renderTable() cuts the flexible column to the line width", () => {
  const text = renderTable(
    [{ header: "A" }, { header: "NUM", align: "right" }, {
      header: "TEXT",
      flex: true,
    }],
    [["x", "1", "short"], [
      "longer",
      "123",
      "a very long text that will need to be cut",
    ]],
    plain,
  );
  assert.equal(
    text,
    [
      "A       NUM  TEXT",
      "x         1  short",
      "longer  123  a very long text that will…",
      "",
    ].join("\n"),
  );
  for (const line of text.split("\n")) assert.ok(textWidth(line) <= 40);
});

Deno.test("renderTable() keeps a minimum for the flexible column on a narrow line", () => {
  const text = renderTable(
    [{ header: "ID" }, { header: "OUTPUT", flex: true }],
    [["a-rather-long-node-identifier", "output that does not fit"]],
    { width: 20, color: false },
  );
  assert.equal(
    text,
    [
      "ID                             OUTPUT",
      "a-rather-long-node-identifier  output that…",
      "",
    ].join("\n"),
  );
});

Deno.test("renderTable() caps a column at its max", () => {
  const text = renderTable(
    [{ header: "ID", max: 8 }, { header: "S" }],
    [["abcdefghijklmnop", "ok"]],
    plain,
  );
  assert.equal(text, "ID        S\nabcdefg…  ok\n");
});

Deno.test("renderTable() colours styled cells without breaking alignment", () => {
  const text = renderTable(
    [{ header: "S" }, { header: "X" }],
    [[{ text: "ok", style: "green" }, "1"], [
      { text: "failed", style: "red" },
      "2",
    ]],
    { width: 40, color: true },
  );
  assert.equal(
    text,
    [
      "\x1b[1mS\x1b[0m       \x1b[1mX\x1b[0m",
      "\x1b[32mok\x1b[0m      1",
      "\x1b[31mfailed\x1b[0m  2",
      "",
    ].join("\n"),
  );
});

Deno.test("renderTable() strips escapes and control characters from cells", () => {
  const text = renderTable(
    [{ header: "OUT" }],
    [["\x1b[31mred\x1b[0m\ttab\x07bell"]],
    plain,
  );
  assert.equal(text, "OUT\nred tabbell\n");
});

Deno.test("renderFields() aligns values and cuts them to the width", () => {
  const text = renderFields(
    [["Job", "j1"], ["Last seen", "x".repeat(50)], ["", "continued"]],
    { width: 30, color: false },
  );
  assert.equal(
    text,
    [
      "Job:        j1",
      "Last seen:  xxxxxxxxxxxxxxxxx…",
      "            continued",
      "",
    ].join("\n"),
  );
});

Deno.test("firstLine() skips blank lines and trims", () => {
  assert.equal(
    firstLine("\n\n  Reading package lists...\nDone\n"),
    "Reading package lists...",
  );
  assert.equal(firstLine("one\r\ntwo"), "one");
  assert.equal(firstLine(undefined), "");
  assert.equal(firstLine(" \n \n"), "");
});

Deno.test("truncate() counts code points and marks the cut", () => {
  assert.equal(truncate("héllo wörld", 7), "héllo …");
  assert.equal(truncate("short", 5), "short");
  assert.equal(truncate("abc", 1), "…");
  assert.equal(truncate("abc", 0), "");
});

Deno.test("sanitize() turns newlines into spaces", () => {
  assert.equal(sanitize("a\nb\r\nc"), "a b  c");
});

Deno.test("paint() is a no-op without colour or text", () => {
  assert.equal(paint("x", "red", false), "x");
  assert.equal(paint("", "red", true), "");
  assert.equal(paint("x", undefined, true), "x");
  assert.equal(paint("x", "red", true), "\x1b[31mx\x1b[0m");
});
