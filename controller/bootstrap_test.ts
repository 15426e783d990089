import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../lib/clock.ts";
import { bootstrapAdmin, BootstrapError } from "./bootstrap.ts";
import { MemoryBucket } from "./testing.ts";
import { newToken, TokenStore } from "./tokens.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-bootstrap-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function store(bucket = new MemoryBucket()): Promise<TokenStore> {
  const s = new TokenStore(bucket, new ManualClock());
  await s.start();
  return s;
}

Deno.test("bootstrap: no file and no admin: a new admin token is written, mode 0600", () =>
  withDir(async (dir) => {
    const s = await store();
    const file = join(dir, "state", "admin.token");
    await bootstrapAdmin(s, file);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const token = (await Deno.readTextFile(file)).trim();
    const rec = s.authenticate(token);
    assert.ok(typeof rec === "object");
    assert.equal(rec.name, "bootstrap");
    assert.equal(rec.scope, "admin");
    assert.deepEqual([...Deno.readDirSync(join(dir, "state"))].length, 1);
    s.stop();
  }));

Deno.test("bootstrap: an existing file's token is registered as admin", () =>
  withDir(async (dir) => {
    const s = await store();
    const file = join(dir, "admin.token");
    const token = newToken();
    await Deno.writeTextFile(file, `  ${token}\n\n`);
    await bootstrapAdmin(s, file);
    assert.equal((s.authenticate(token) as { scope: string }).scope, "admin");
    // Again (a restart): nothing changes, nothing is written.
    await bootstrapAdmin(s, file);
    assert.equal(s.list().length, 1);
    assert.equal((await Deno.readTextFile(file)).trim(), token);
    s.stop();
  }));

Deno.test("bootstrap: with an admin token already there and no file, nothing is written", () =>
  withDir(async (dir) => {
    const s = await store();
    await s.create("root", "admin", "x");
    const file = join(dir, "admin.token");
    await bootstrapAdmin(s, file);
    await assert.rejects(() => Deno.stat(file), Deno.errors.NotFound);
    s.stop();
  }));

Deno.test("bootstrap: controllers starting at once: exactly one writes its file", () =>
  withDir(async (dir) => {
    const bucket = new MemoryBucket();
    const stores = await Promise.all([1, 2, 3].map(() => store(bucket)));
    const files = stores.map((_, i) => join(dir, `c${i}.token`));
    await Promise.all(stores.map((s, i) => bootstrapAdmin(s, files[i]!)));
    const written = files.filter((f) => {
      try {
        return Deno.statSync(f).isFile;
      } catch {
        return false;
      }
    });
    assert.equal(written.length, 1);
    const token = Deno.readTextFileSync(written[0]!).trim();
    await new Promise((r) => setTimeout(r, 0));
    for (const s of stores) {
      assert.equal(
        (s.authenticate(token) as { name: string }).name,
        "bootstrap",
      );
      s.stop();
    }
  }));

Deno.test("bootstrap: a file that holds no usable token stops the start, without showing it", () =>
  withDir(async (dir) => {
    const s = await store();
    const file = join(dir, "admin.token");
    await Deno.writeTextFile(file, "hunter2\n");
    await assert.rejects(
      () => bootstrapAdmin(s, file),
      (e) =>
        e instanceof BootstrapError && e.message.includes(file) &&
        !e.message.includes("hunter2"),
    );
    assert.equal(s.list().length, 0);
    s.stop();
  }));

Deno.test("bootstrap: a new token in the file replaces the registered bootstrap token", () =>
  withDir(async (dir) => {
    const s = await store();
    const file = join(dir, "admin.token");
    await bootstrapAdmin(s, file);
    const old = (await Deno.readTextFile(file)).trim();
    const rotated = newToken();
    await Deno.writeTextFile(file, rotated);
    await bootstrapAdmin(s, file);
    assert.equal(s.authenticate(old), "unknown");
    assert.equal(
      (s.authenticate(rotated) as { name: string }).name,
      "bootstrap",
    );
    s.stop();
  }));
