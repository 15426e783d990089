import assert from "node:assert/strict";
import { decode } from "@nats-io/jwt";
import { ManualClock } from "../lib/clock.ts";
import { Enrollments } from "./enrollment.ts";
import { RefusedError } from "./errors.ts";
import { loadOrCreateKeys } from "./nats_keys.ts";
import { NatsTrust } from "./nats_trust.ts";
import { MemoryBucket } from "./testing.ts";
import { waitFor } from "../testing/wait.ts";

interface Account {
  nats: { revocations?: Record<string, number>; imports?: unknown[] };
}

/** Enrollments over a memory bucket; `pushed` collects the account JWTs sent. */
async function rig(bucket = new MemoryBucket(), trust?: NatsTrust) {
  const dir = await Deno.makeTempDir({ prefix: "grid-enroll-" });
  trust ??= new NatsTrust(await loadOrCreateKeys(dir));
  const pushed: string[] = [];
  const clock = new ManualClock();
  const e = new Enrollments(bucket, trust, (jwt) => {
    pushed.push(jwt);
    return Promise.resolve();
  }, clock);
  await e.start();
  const revoked = () =>
    Object.keys(
      decode<Account["nats"]>(pushed.at(-1)!).nats.revocations ?? {},
    ).sort();
  return { e, pushed, clock, bucket, trust, revoked, dir };
}

Deno.test("Enrollments: enroll gives creds and groups; the account is pushed on start", async () => {
  const r = await rig();
  try {
    assert.equal(r.pushed.length, 1, "pushed as it stands on start");
    const { creds } = await r.e.enroll("web-01", ["web", "web", "prod"], "ops");
    assert.match(creds, /-----BEGIN NATS USER JWT-----/);
    assert.match(creds, /-----BEGIN USER NKEY SEED-----/);
    const rec = r.e.get("web-01")!;
    assert.deepEqual(rec.groups, ["prod", "web"]);
    assert.equal(rec.enrolled_by, "ops");
    assert.deepEqual(r.e.revocations(), {});
  } finally {
    r.e.stop();
    await Deno.remove(r.dir, { recursive: true });
  }
});

Deno.test("Enrollments: enrolling again revokes the old user; revoke revokes the current one", async () => {
  const r = await rig();
  try {
    await r.e.enroll("n1", ["web"], "ops");
    const first = r.e.get("n1")!.user;
    await r.e.enroll("n1", ["web"], "ops");
    const second = r.e.get("n1")!.user;
    assert.notEqual(first, second);
    assert.deepEqual(r.revoked(), [first]);
    await r.e.revoke("n1", "ops");
    assert.deepEqual(r.revoked(), [first, second].sort());
    assert.ok(r.e.get("n1")!.revoked_at);
    await assert.rejects(
      r.e.revoke("nobody", "ops"),
      (e) => e instanceof RefusedError && e.kind === "not_found",
    );
  } finally {
    r.e.stop();
    await Deno.remove(r.dir, { recursive: true });
  }
});

Deno.test("Enrollments: a revocation made by another controller is pushed here too", async () => {
  const a = await rig();
  const b = await rig(a.bucket, a.trust);
  try {
    await a.e.enroll("n1", ["web"], "ops");
    await a.e.revoke("n1", "ops");
    // b sees the record change and pushes the account with it (the push
    // signs a JWT, so it settles a few turns later, not at once).
    const user = a.e.get("n1")!.user;
    await waitFor(
      "b to push the revocation",
      async () => {
        await b.clock.advance(0);
        return b.pushed.length > 1 && b.revoked().includes(user);
      },
      5_000,
      10,
    );
    assert.deepEqual(b.revoked(), [user]);
  } finally {
    a.e.stop();
    b.e.stop();
    await Deno.remove(a.dir, { recursive: true });
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("Enrollments: a malformed record is skipped, not fatal", async () => {
  const bucket = new MemoryBucket();
  await bucket.put("bad", new TextEncoder().encode("{not json"));
  await bucket.put("worse", new TextEncoder().encode('{"id":1}'));
  const r = await rig(bucket);
  try {
    assert.equal(r.e.get("bad"), undefined);
    assert.equal(r.e.get("worse"), undefined);
  } finally {
    r.e.stop();
    await Deno.remove(r.dir, { recursive: true });
  }
});
