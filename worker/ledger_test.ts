import assert from "node:assert/strict";
import { Ledger } from "./ledger.ts";

Deno.test("ledger: keys are job, step and attempt", () => {
  const l = new Ledger();
  l.add(Ledger.key("j1", 0, 1));
  assert.equal(l.has(Ledger.key("j1", 0, 1)), true);
  assert.equal(l.has(Ledger.key("j1", 0, 2)), false);
  assert.equal(l.has(Ledger.key("j1", 1, 1)), false);
  assert.equal(l.has(Ledger.key("j2", 0, 1)), false);
});

Deno.test("ledger: past its capacity the oldest key is forgotten first", () => {
  const l = new Ledger(2);
  l.add("a");
  l.add("b");
  l.add("c");
  assert.equal(l.has("a"), false);
  assert.equal(l.has("b"), true);
  assert.equal(l.has("c"), true);
});
