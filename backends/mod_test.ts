import assert from "node:assert/strict";
import {
  BACKEND_NAMES,
  BACKEND_TABLE,
  type BackendBinaries,
  type BackendEntry,
  DEFAULT_BACKENDS,
  DEFAULT_BINARIES,
} from "../models/backend_table.ts";
import { createBackends, describeBackends, isUsable } from "./mod.ts";

const BIN: BackendBinaries = { ...DEFAULT_BINARIES };
const only = (...present: string[]) => (p: string) =>
  Promise.resolve(present.includes(p));
/** The seed's five, as a worker config enables them by default. */
const enabled = DEFAULT_BACKENDS;

Deno.test("mod - every backend when every program is usable", async () => {
  const all = await createBackends(BIN, {
    enabled,
    usable: () => Promise.resolve(true),
  });
  assert.deepEqual(describeBackends(all), {
    ping: ["echo", "hostname", "sleep"],
    test: ["fail", "flaky", "output", "sleep", "stream", "succeed"],
    apt: ["install", "remove", "update", "upgrade"],
    systemd: ["disable", "enable", "restart", "start", "status", "stop"],
    rke2: ["install", "restart", "start", "status", "stop"],
  });
});

Deno.test("mod - backends whose programs are missing are left out", async () => {
  const none = await createBackends(BIN, { enabled, usable: only() });
  assert.deepEqual([...none.keys()], ["ping", "test"]);
  const noRke2 = await createBackends(BIN, {
    enabled,
    usable: only(BIN.systemctl),
  });
  assert.deepEqual(describeBackends(noRke2), {
    ping: ["echo", "hostname", "sleep"],
    test: ["fail", "flaky", "output", "sleep", "stream", "succeed"],
    systemd: ["disable", "enable", "restart", "start", "status", "stop"],
    rke2: ["install"],
  });
  const aptOnly = await createBackends(BIN, {
    enabled,
    usable: only(BIN["apt-get"], BIN.rke2),
  });
  assert.deepEqual([...aptOnly.keys()], ["ping", "test", "apt"]);
});

Deno.test("mod - real checks: nonexistent programs are not usable", async () => {
  const nowhere = Object.fromEntries(
    Object.keys(BIN).map((k) => [k, `/nonexistent/${k}`]),
  ) as BackendBinaries;
  const b = await createBackends(nowhere, { enabled });
  assert.deepEqual([...b.keys()], ["ping", "test"]);
  assert.equal(await isUsable("/bin/true"), true);
  assert.equal(await isUsable("/bin"), false);
});

Deno.test({
  name: "mod - a program Deno may not stat or run is not usable",
  permissions: { read: ["/usr"], run: ["/usr/bin/env"] },
  fn: async () => {
    assert.equal(await isUsable("/bin/true"), false); // stat is NotCapable
    assert.equal(await isUsable("/usr/bin/true"), false); // not in --allow-run
    assert.equal(await isUsable("/usr/bin/env"), true);
  },
});

Deno.test("mod - describeBackends accepts a plain object too", async () => {
  const b = await createBackends(BIN, { enabled, usable: only() });
  assert.deepEqual(
    describeBackends(Object.fromEntries(b)),
    describeBackends(b),
  );
});

Deno.test("mod - only the enabled backends register, in the table's order", async () => {
  const yes = () => Promise.resolve(true);
  const some = await createBackends(BIN, {
    enabled: ["systemd", "ping"],
    usable: yes,
  });
  assert.deepEqual([...some.keys()], ["ping", "systemd"]);
  const none = await createBackends(BIN, { enabled: [], usable: yes });
  assert.equal(none.size, 0);
  const all = await createBackends(BIN, { usable: yes });
  assert.deepEqual([...all.keys()], BACKEND_NAMES);
});

/** Backends whose table entry lets any one of several programs do. */
const ONE_OF = BACKEND_NAMES.filter((n) =>
  ((BACKEND_TABLE[n] as BackendEntry).oneOf ?? []).length > 1
);

Deno.test({
  name: "mod - a oneOf backend gets the first of its programs that is usable",
  ignore: ONE_OF.length === 0,
  fn: async () => {
    for (const name of ONE_OF) {
      const e: BackendEntry = BACKEND_TABLE[name];
      const [first, second] = e.oneOf!;
      const base = e.binaries.map((k) => BIN[k]);
      const pick = async (...keys: (keyof BackendBinaries)[]) =>
        (await createBackends(BIN, {
          enabled: [name],
          usable: only(...base, ...keys.map((k) => BIN[k])),
        })).get(name);
      assert.deepEqual((await pick(second!))?.requires, [
        ...base,
        BIN[second!],
      ]);
      assert.deepEqual((await pick(first!, second!))?.requires, [
        ...base,
        BIN[first!],
      ]);
      assert.equal(await pick(), undefined, `${name} without any program`);
    }
  },
});
