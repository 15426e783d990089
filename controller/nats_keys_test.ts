import assert from "node:assert/strict";
import { loadOrCreateKeys } from "./nats_keys.ts";

Deno.test("nats keys: controllers starting together share one complete key file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Before the file was linked into place whole, one of these could read
    // it empty ("Unexpected end of JSON input") and exit.
    for (let round = 0; round < 5; round++) {
      const sub = `${dir}/r${round}`;
      const all = await Promise.all(
        Array.from({ length: 8 }, () => loadOrCreateKeys(sub)),
      );
      const operators = new Set(all.map((k) => k.operator.getPublicKey()));
      assert.equal(operators.size, 1);
      const left = [...Deno.readDirSync(sub)].map((e) => e.name);
      assert.deepEqual(left, ["nats-keys.json"]);
      assert.equal(Deno.statSync(`${sub}/nats-keys.json`).mode! & 0o777, 0o600);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
