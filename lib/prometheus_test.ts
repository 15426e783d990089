import assert from "node:assert/strict";
import {
  Exposition,
  Histogram,
  LabeledCounter,
  labelSet,
} from "./prometheus.ts";

Deno.test("Histogram: cumulative buckets, +Inf, sum and count", () => {
  const h = new Histogram([1, 5]);
  for (const v of [0.5, 3, 3, 10]) h.observe(v);
  assert.deepEqual(h.lines("x"), [
    'x_bucket{le="1"} 1',
    'x_bucket{le="5"} 3',
    'x_bucket{le="+Inf"} 4',
    "x_sum 16.5",
    "x_count 4",
  ]);
});

Deno.test("labels: quoted, in the order given, unsafe characters replaced", () => {
  assert.equal(labelSet(), "");
  assert.equal(
    labelSet({ b: 'say "hi"\n', a: "x\\y" }),
    '{b="say _hi__",a="x_y"}',
  );
});

Deno.test("LabeledCounter: one series per label set, counted apart", () => {
  const c = new LabeledCounter();
  c.inc({ backend: "test", outcome: "success" });
  c.inc({ backend: "test", outcome: "success" });
  c.inc({ backend: "test", outcome: "failed" }, 3);
  assert.equal(c.get({ backend: "test", outcome: "success" }), 2);
  assert.equal(c.get({ backend: "apt", outcome: "success" }), 0);
  assert.deepEqual(c.lines("t_total"), [
    't_total{backend="test",outcome="success"} 2',
    't_total{backend="test",outcome="failed"} 3',
  ]);
});

Deno.test("Exposition: HELP and TYPE before each family, newline at the end", () => {
  const text = new Exposition()
    .single("up", "gauge", "Up or not.", 1)
    .family("n_total", "counter", "Things.", ['n_total{k="v"} 2'])
    .text();
  assert.equal(
    text,
    [
      "# HELP up Up or not.",
      "# TYPE up gauge",
      "up 1",
      "# HELP n_total Things.",
      "# TYPE n_total counter",
      'n_total{k="v"} 2',
      "",
    ].join("\n"),
  );
});
