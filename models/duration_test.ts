import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "./duration.ts";

Deno.test("parseDuration: Go-style durations to milliseconds", () => {
  const cases: [string, number][] = [
    ["500ms", 500],
    ["2s", 2000],
    ["1m30s", 90_000],
    ["1.5h", 5_400_000],
    ["0", 0],
    ["0s", 0],
    ["5m", 300_000],
    ["15s", 15_000],
    ["1h30m", 5_400_000],
    ["1h0m0s", 3_600_000],
    [".5s", 500],
    ["2.5s", 2500],
    ["1500us", 1.5],
    ["1500µs", 1.5],
    ["2000000ns", 2],
    ["1m30.5s", 90_500],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration: surrounding whitespace is ignored", () => {
  assert.equal(parseDuration(" 2s "), 2000);
  assert.equal(parseDuration("\t1m\n"), 60_000);
});

Deno.test("parseDuration: rejects malformed, unit-less and signed durations", () => {
  for (
    const text of [
      "",
      " ",
      "abc",
      "-1s",
      "+1s",
      "5",
      "1.5",
      "s",
      "ms",
      "1 s",
      "1m 30s",
      "2s3",
      "1e3s",
      "1d",
      "1S",
      "1sec",
      "1..5s",
    ]
  ) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});

Deno.test("formatDuration: prints the way Go does", () => {
  const cases: [number, string][] = [
    [2300, "2.3s"],
    [90_000, "1m30s"],
    [450, "450ms"],
    [0, "0s"],
    [1, "1ms"],
    [1500, "1.5s"],
    [1000, "1s"],
    [60_000, "1m0s"],
    [300_000, "5m0s"],
    [3_600_000, "1h0m0s"],
    [5_400_000, "1h30m0s"],
    [90_500, "1m30.5s"],
    [0.5, "500µs"],
    [1.5, "1.5ms"],
  ];
  for (const [ms, text] of cases) {
    assert.equal(formatDuration(ms), text, String(ms));
  }
});

Deno.test("formatDuration: output parses back to the same milliseconds", () => {
  const samples = [
    1,
    7,
    450,
    999,
    1000,
    1001,
    2300,
    59_999,
    60_000,
    61_234,
    3_599_999,
    3_600_000,
  ];
  for (let ms = 1; ms < 200_000_000; ms = Math.floor(ms * 1.7) + 13) {
    samples.push(ms);
  }
  for (const ms of samples) {
    const text = formatDuration(ms);
    const back = parseDuration(text);
    assert.ok(back !== undefined, `${ms} → ${text} does not parse`);
    assert.ok(Math.abs(back - ms) < 1e-6, `${ms} → ${text} → ${back}`);
  }
});

/** A Go duration never carries into a field: ms < 1000, s < 60, m < 60. */
function assertWellFormed(ms: number): void {
  const text = formatDuration(ms);
  const m = text.match(
    /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)s)?(?:([\d.]+)ms)?(?:([\d.]+)µs)?$/,
  );
  assert.ok(m, `${ms} → ${text}: unexpected shape`);
  const [, h, min, s, milli] = m;
  if (h !== undefined) assert.ok(min !== undefined, `${ms} → ${text}`);
  if (min !== undefined) {
    assert.ok(Number(min) < 60, `${ms} → ${text}: minutes overflow`);
  }
  if (s !== undefined) {
    assert.ok(Number(s) < 60, `${ms} → ${text}: seconds overflow`);
  }
  if (milli !== undefined) {
    assert.ok(Number(milli) < 1000, `${ms} → ${text}: ms overflow`);
  }
}

Deno.test("formatDuration: integer milliseconds never overflow a field", () => {
  for (const ms of [999, 59_999, 119_999, 3_599_999, 3_659_999, 86_399_999]) {
    assertWellFormed(ms);
  }
});

Deno.test("formatDuration: fractional milliseconds that round up carry into the next unit", () => {
  // 59.9999996s rounded to the millisecond is one minute, not "60s";
  // 1m59.9999999s is "2m0s", not "1m60s"; 999.9999ms is "1s", not "1000ms".
  for (const ms of [59_999.9996, 119_999.9999, 3_599_999.9999, 999.9999]) {
    assertWellFormed(ms);
  }
});
