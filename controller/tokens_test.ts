import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { decoder, encodeJson } from "../lib/nats.ts";
import { MemoryBucket } from "./testing.ts";
import { hashToken, newToken, TokenStore } from "./tokens.ts";
import { RefusedError } from "./errors.ts";

async function store(bucket = new MemoryBucket(), clock = new ManualClock()) {
  const s = new TokenStore(bucket, clock);
  await s.start();
  return s;
}

/** Lets the bucket's followers see what was written. */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("tokens: 256 random bits, base64url, each one different", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const t = newToken();
    assert.match(t, /^grid_[A-Za-z0-9_-]{43}$/);
    seen.add(t);
  }
  assert.equal(seen.size, 200);
});

Deno.test("tokens: only the SHA-256 hash is stored, never the token", async () => {
  const bucket = new MemoryBucket();
  const s = await store(bucket);
  const { token, record } = await s.create("ci", "operate", "admin");
  const stored = await bucket.get("ci");
  const text = decoder.decode(stored!.value);
  assert.ok(!text.includes(token), "the token is in the bucket");
  assert.ok(
    !text.includes(token.slice(5)),
    "the token's body is in the bucket",
  );
  assert.equal(stored!.json().hash, hashToken(token));
  assert.equal(record.hash, hashToken(token));
  assert.deepEqual(s.list().map((v) => Object.keys(v).includes("hash")), [
    false,
  ]);
  s.stop();
});

Deno.test("tokens: a valid token authenticates; a wrong or near one does not", async () => {
  const s = await store();
  const { token } = await s.create("ci", "operate", "admin");
  const rec = s.authenticate(token);
  assert.ok(typeof rec === "object");
  assert.equal(rec.name, "ci");
  assert.equal(rec.scope, "operate");
  assert.equal(s.authenticate(token.slice(0, -1) + "x"), "unknown");
  assert.equal(s.authenticate(""), "unknown");
  assert.equal(s.authenticate(newToken()), "unknown");
  s.stop();
});

Deno.test("tokens: an expired token is refused", async () => {
  const clock = new ManualClock();
  const s = await store(new MemoryBucket(), clock);
  const { token, record } = await s.create("short", "read", "admin", 60_000);
  assert.equal(record.expires_at, new Date(clock.now() + 60_000).toISOString());
  assert.ok(typeof s.authenticate(token) === "object");
  await clock.advance(59_999);
  assert.ok(typeof s.authenticate(token) === "object");
  await clock.advance(1);
  assert.equal(s.authenticate(token), "expired");
  s.stop();
});

Deno.test("tokens: a revocation through one store reaches another following the bucket", async () => {
  const bucket = new MemoryBucket();
  const a = await store(bucket);
  const b = await store(bucket);
  const { token } = await a.create("ci", "admin", "bootstrap");
  await settle();
  assert.equal((b.authenticate(token) as { name: string }).name, "ci");
  await b.revoke("ci");
  assert.equal(b.authenticate(token), "unknown", "refused where revoked");
  await settle();
  assert.equal(a.authenticate(token), "unknown", "refused by the other");
  assert.deepEqual(a.list(), []);
  a.stop();
  b.stop();
});

Deno.test("tokens: a name is taken once, even by two stores at the same moment", async () => {
  const bucket = new MemoryBucket();
  const a = await store(bucket);
  const b = await store(bucket);
  const results = await Promise.allSettled([
    a.create("ci", "read", "x"),
    b.create("ci", "admin", "y"),
  ]);
  assert.deepEqual(results.map((r) => r.status).sort(), [
    "fulfilled",
    "rejected",
  ]);
  const lost = results.find((r) => r.status === "rejected")!;
  assert.ok((lost as PromiseRejectedResult).reason instanceof RefusedError);
  a.stop();
  b.stop();
});

Deno.test("tokens: revoking an unknown name is a 404-kind refusal", async () => {
  const s = await store();
  await assert.rejects(
    () => s.revoke("nope"),
    (e) => e instanceof RefusedError && e.kind === "not_found",
  );
  s.stop();
});

Deno.test("tokens: a malformed record in the bucket grants nothing", async () => {
  const bucket = new MemoryBucket();
  const token = newToken();
  await bucket.put(
    "evil",
    encodeJson({ name: "evil", scope: "root", hash: hashToken(token) }),
  );
  await bucket.put(
    "other",
    encodeJson({
      name: "not-other",
      scope: "admin",
      hash: hashToken(token),
      created_at: "x",
      created_by: "x",
    }),
  );
  const s = await store(bucket);
  assert.equal(s.authenticate(token), "unknown");
  assert.equal(s.hasAdmin(), false);
  s.stop();
});

Deno.test("tokens: hasAdmin counts admin tokens that have not expired", async () => {
  const clock = new ManualClock();
  const s = await store(new MemoryBucket(), clock);
  assert.equal(s.hasAdmin(), false);
  await s.create("ops", "operate", "x");
  assert.equal(s.hasAdmin(), false);
  await s.create("boss", "admin", "x", 1000);
  assert.equal(s.hasAdmin(), true);
  assert.equal(s.hasAdmin("boss"), false);
  await clock.advance(1000);
  assert.equal(s.hasAdmin(), false);
  s.stop();
});
