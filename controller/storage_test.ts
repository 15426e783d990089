/**
 * The full-store rules on a fault-injected store: free space and the
 * server's JetStream are whatever the test says (tests/disk_full_test.ts
 * runs them on a real full tmpfs where the machine allows it).
 */
import assert from "node:assert/strict";
import { ManualClock } from "../lib/clock.ts";
import { setLogLevel } from "../lib/log.ts";
import { conflict, notFound, unavailable } from "./errors.ts";
import {
  LOW_BYTES,
  type ServerJetStream,
  serverJetStream,
  storageRefusal,
  StorageWatch,
} from "./storage.ts";

setLogLevel("error");

function rig(start: { free: number; js: ServerJetStream | undefined }) {
  const clock = new ManualClock();
  const state = { ...start, restarts: 0 };
  const watch = new StorageWatch({
    clock,
    dir: "/var/lib/grid/jetstream",
    free: () => state.free,
    server: {
      jetstream: () => Promise.resolve(state.js),
      restart: () => {
        state.restarts++;
        state.js = "ok";
        return Promise.resolve();
      },
    },
  });
  return { clock, state, watch };
}

Deno.test("storage: a full store is reported with its free space", async () => {
  const { watch, state } = rig({ free: 10 << 20, js: "ok" });
  await watch.check();
  assert.equal(watch.full, false);
  assert.equal(watch.reason(), undefined);
  state.free = 4096;
  await watch.check();
  assert.equal(watch.full, true);
  assert.match(
    watch.reason()!,
    /^JetStream storage full: 4 KiB free where \/var\/lib\/grid\/jetstream is \(no space left on device\)/,
  );
  state.free = LOW_BYTES;
  await watch.check();
  assert.equal(watch.full, false);
  assert.equal(watch.reason(), undefined);
  assert.equal(state.restarts, 0, "JetStream answers: nothing to restart");
});

Deno.test("storage: a server stuck after the disk filled is restarted once there is room, not before, not twice", async () => {
  const { watch, state, clock } = rig({ free: 0, js: "stuck" });
  await watch.check();
  await watch.check();
  assert.equal(state.restarts, 0, "no restart while still full");
  state.free = 1 << 30;
  await watch.check();
  assert.equal(state.restarts, 0, "one stuck look is no verdict");
  await watch.check();
  assert.equal(state.restarts, 1);
  state.js = "stuck";
  await watch.check();
  await watch.check();
  await clock.advance(5000);
  await watch.check();
  assert.equal(state.restarts, 1, "not again within 30 s");
  await clock.advance(30_000);
  await watch.check();
  assert.equal(state.restarts, 2);
});

Deno.test("storage: with no sign of a full store, the server is left to the outage rules", async () => {
  let asked = 0;
  let restarts = 0;
  const watch = new StorageWatch({
    clock: new ManualClock(),
    dir: "/var/lib/grid/jetstream",
    free: () => 1 << 30,
    server: {
      jetstream: () => (asked++, Promise.resolve("stuck")),
      restart: () => (restarts++, Promise.resolve()),
    },
  });
  for (let i = 0; i < 5; i++) await watch.check();
  assert.equal(restarts, 0);
  assert.equal(asked, 0, "not even asked: nothing to look into");
});

Deno.test("storage: JetStream disabled for want of space is restarted once its words are old and there is room", async () => {
  const { watch, state, clock } = rig({ free: 1 << 30, js: "disabled" });
  watch.note("[ERR] JetStream out of File resources, will be DISABLED");
  assert.match(watch.reason()!, /^JetStream storage full: NATS answers/);
  await watch.check();
  await watch.check();
  assert.equal(state.restarts, 0, "while its words say full");
  await clock.advance(10_000);
  await watch.check();
  assert.equal(state.restarts, 1);
  assert.equal(watch.reason(), undefined);
});

Deno.test("storage: a server's 'no space' words count for a while (external NATS: no dir)", async () => {
  const clock = new ManualClock();
  const watch = new StorageWatch({ clock });
  watch.note("nats: timeout");
  assert.equal(watch.full, false);
  watch.note("write /js/1.blk: no space left on device");
  assert.equal(watch.full, true);
  assert.match(watch.reason()!, /^JetStream storage full: NATS answers "write/);
  await clock.advance(11_000);
  await watch.check();
  assert.equal(watch.full, false);
  watch.note("insufficient resources");
  assert.equal(watch.full, true, "10023, status 503: not 'electing a leader'");
});

Deno.test("storage: a 503 says the store is full; other refusals are left alone", async () => {
  const { watch, state } = rig({ free: 0, js: "ok" });
  await watch.check();
  assert.match(
    storageRefusal(watch, unavailable("the node registry is not current"))!,
    /^JetStream storage full/,
  );
  const timeout = Object.assign(new Error("timeout"), { name: "TimeoutError" });
  assert.match(storageRefusal(watch, timeout)!, /^JetStream storage full/);
  assert.equal(storageRefusal(watch, notFound('job "x" not found')), undefined);
  assert.equal(storageRefusal(watch, conflict("already completed")), undefined);
  state.free = 1 << 30;
  await watch.check();
  assert.equal(storageRefusal(watch, timeout), undefined);
  // Without a watch (or before it noticed), the error's own words say it.
  const full = Object.assign(
    new Error("insufficient storage resources available"),
    { name: "JetStreamApiError", status: 500 },
  );
  assert.match(storageRefusal(undefined, full)!, /^JetStream storage full/);
});

Deno.test("storage: a server's JetStream read off its monitoring endpoint", async () => {
  const answer =
    (health: unknown, jsz: "ok" | "hang") =>
    (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (url.includes("/healthz")) {
        return Promise.resolve(new Response(JSON.stringify(health)));
      }
      if (jsz === "ok") return Promise.resolve(new Response("{}"));
      return new Promise<Response>((_, reject) =>
        init?.signal?.addEventListener(
          "abort",
          () => reject(init.signal!.reason),
        )
      );
    };
  const url = "http://127.0.0.1:1";
  assert.equal(
    await serverJetStream(url, answer({ status: "ok" }, "ok")),
    "ok",
  );
  assert.equal(
    await serverJetStream(
      url,
      answer({ status: "unavailable", error: "JetStream not enabled" }, "ok"),
    ),
    "disabled",
  );
  assert.equal(
    await serverJetStream(url, answer({ status: "ok" }, "hang")),
    "stuck",
  );
  assert.equal(await serverJetStream(undefined), undefined);
});
