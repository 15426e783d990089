import assert from "node:assert/strict";
import { createBackends, describeBackends, isUsable } from "./mod.ts";

const BIN = {
  "apt-get": "/usr/bin/apt-get",
  systemctl: "/usr/bin/systemctl",
  rke2: "/usr/local/bin/rke2",
};
const only = (...present: string[]) => (p: string) =>
  Promise.resolve(present.includes(p));

Deno.test("mod - every backend when every program is usable", async () => {
  const all = await createBackends(BIN, {
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
  const none = await createBackends(BIN, { usable: only() });
  assert.deepEqual([...none.keys()], ["ping", "test"]);
  const noRke2 = await createBackends(BIN, { usable: only(BIN.systemctl) });
  assert.deepEqual(describeBackends(noRke2), {
    ping: ["echo", "hostname", "sleep"],
    test: ["fail", "flaky", "output", "sleep", "stream", "succeed"],
    systemd: ["disable", "enable", "restart", "start", "status", "stop"],
    rke2: ["install"],
  });
  const aptOnly = await createBackends(BIN, {
    usable: only(BIN["apt-get"], BIN.rke2),
  });
  assert.deepEqual([...aptOnly.keys()], ["ping", "test", "apt"]);
});

Deno.test("mod - real checks: nonexistent programs are not usable", async () => {
  const b = await createBackends({
    "apt-get": "/nonexistent/apt-get",
    systemctl: "/nonexistent/systemctl",
    rke2: "/nonexistent/rke2",
  });
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
  const b = await createBackends(BIN, { usable: only() });
  assert.deepEqual(
    describeBackends(Object.fromEntries(b)),
    describeBackends(b),
  );
});
