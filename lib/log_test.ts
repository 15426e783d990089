import assert from "node:assert/strict";
import { formatLine, setLogFormat } from "./log.ts";

Deno.test("GRID_LOG_FORMAT=json: one JSON object per line; fields cannot forge the fixed keys", () => {
  const t = "2026-01-01T00:00:00.000Z";
  try {
    setLogFormat("json");
    const line = formatLine("warn", "runner", "job finished", {
      job: "j1",
      n: 3,
      msg: "forged",
      error: new Error("boom"),
    }, t);
    assert.ok(!line.includes("\n"));
    assert.deepEqual(JSON.parse(line), {
      time: t,
      level: "warn",
      component: "runner",
      msg: "job finished",
      job: "j1",
      n: 3,
      _msg: "forged",
      error: "Error: boom",
    });
    // A message with a newline stays on one line.
    assert.ok(!formatLine("info", "x", "a\nb", {}, t).includes("\n"));
  } finally {
    setLogFormat(undefined);
  }
  assert.equal(
    formatLine("info", "grid", "ready", { port: 1, url: "u" }, t),
    `${t} INFO grid: ready port=1 url=u`,
  );
});
