import assert from "node:assert/strict";
import { type Claim, claimNext, MemoryClaims } from "./claims.ts";

const as = (controller: string, purpose: Claim["purpose"] = "run"): Claim => ({
  controller,
  purpose,
  at: "2026-11-27T00:00:00Z",
});

Deno.test("claims: the first claimant of an epoch wins it; the next gives way", async () => {
  const claims = new MemoryClaims();
  const alive = () => true;
  assert.equal(await claimNext(claims, "j", 0, as("a"), alive), 1);
  assert.equal(await claimNext(claims, "j", 0, as("b"), alive), undefined);
  // A takeover claims the epoch after the record's.
  assert.equal(await claimNext(claims, "j", 1, as("b"), alive), 2);
});

Deno.test("claims: an epoch held by a dead claimant is skipped", async () => {
  const claims = new MemoryClaims();
  await claims.claim("j", 1, as("dead"));
  await claims.claim("j", 2, as("dead-too"));
  const alive = (c: string) => !c.startsWith("dead");
  assert.equal(await claimNext(claims, "j", 0, as("b"), alive), 3);
});

Deno.test("claims: our own earlier claim is still ours, for the same purpose only", async () => {
  const claims = new MemoryClaims();
  await claims.claim("j", 1, as("a"));
  assert.equal(await claimNext(claims, "j", 0, as("a"), () => true), 1);
  await claims.claim("k", 1, as("a", "cancel"));
  assert.equal(await claimNext(claims, "k", 0, as("a"), () => true), undefined);
});

Deno.test("claims: skipping dead claimants stops after a bound", async () => {
  const claims = new MemoryClaims();
  for (let e = 1; e <= 20; e++) await claims.claim("j", e, as("dead"));
  assert.equal(
    await claimNext(claims, "j", 0, as("b"), () => false, 3),
    undefined,
  );
});
