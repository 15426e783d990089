import assert from "node:assert/strict";
import { JobIds } from "./ids.ts";

Deno.test("JobIds.next() sorts by time and never repeats within a millisecond", () => {
  const ids = new JobIds(() => 0);
  const a = ids.next(1000, () => false);
  const b = ids.next(1000, () => false);
  const c = ids.next(999, () => false);
  const d = ids.next(2000, () => false);
  assert.equal(a, "000000003e800000");
  assert.ok(a < b && b < c && c < d, [a, b, c, d].join(" "));
  assert.equal(new Set([a, b, c, d]).size, 4);
});

Deno.test("JobIds.next() skips an id that is taken", () => {
  const ids = new JobIds(() => 0);
  const taken = new Set([ids.next(5000, () => false)]);
  const fresh = new JobIds(() => 0).next(5000, (id) => taken.has(id));
  assert.ok(!taken.has(fresh));
  assert.equal(fresh.length, 16);
});
