/**
 * GET /backends: the union over the online nodes, built from what they
 * advertise; an offline node's backends drop out.
 */
import assert from "node:assert/strict";
import { backendsView } from "../models/backend_view.ts";
import type { NodeParams, ParamSpec } from "../models/params.ts";
import { apiRig } from "./api_testing.ts";
import { OFFLINE_AFTER_MS } from "./testing.ts";

const UNIT: ParamSpec = {
  kind: "text",
  checks: [{ pattern: "^[a-z.@-]+$", message: "must be a unit name, got %s" }],
  doc: "The unit to act on",
  example: "nginx.service",
};
const LINES: ParamSpec = { kind: "int", min: 1, max: 1000, default: 50 };

function described(lines = LINES): NodeParams {
  return {
    specs: [UNIT, lines],
    actions: {
      systemd: { status: { params: { unit: 0 } } },
      journald: { tail: { params: { unit: 0, lines: 1 } } },
    },
  };
}

Deno.test("backendsView: backends, actions and params over nodes, first description wins", () => {
  const view = backendsView([
    {
      id: "n2",
      backends: { systemd: ["status"], journald: ["tail"] },
      params: described({ ...LINES, max: 10 }),
    },
    {
      id: "n1",
      backends: { journald: ["tail"], ping: ["echo"] },
      params: described(),
    },
  ]);
  assert.deepEqual(view.map((b) => b.name), ["journald", "ping", "systemd"]);
  const journald = view[0]!;
  assert.deepEqual(journald.nodes, ["n1", "n2"]);
  assert.deepEqual(journald.actions.tail!.params, { unit: UNIT, lines: LINES });
  assert.deepEqual(journald.actions.tail!.differ, ["n2"]);
  // A node that did not describe an action still offers it.
  assert.deepEqual(view[1]!.actions, { echo: { nodes: ["n1"], params: {} } });
  assert.deepEqual(view[2]!.actions.status!.params, { unit: UNIT });
});

Deno.test("GET /backends: what the online nodes offer, from their records", async () => {
  const r = await apiRig();
  try {
    r.fleet.beat("web-01", { backends: { systemd: ["status"] } });
    r.fleet.described.set("web-01", described());
    r.fleet.beat("web-02", { backends: { journald: ["tail"] } });
    r.fleet.described.set("web-02", described());
    const get = async () => {
      const res = await r.call("GET", "/backends", { scope: "read" });
      assert.equal(res.status, 200);
      return await res.json();
    };
    const both = await get();
    assert.deepEqual(both.map((b: { name: string }) => b.name), [
      "journald",
      "systemd",
    ]);
    assert.deepEqual(both[1].actions.status, {
      nodes: ["web-01"],
      params: { unit: UNIT },
    });
    // web-02 falls silent: its backends are no longer on offer.
    await r.clock.advance(OFFLINE_AFTER_MS / 2);
    r.fleet.beat("web-01");
    await r.clock.advance(OFFLINE_AFTER_MS / 2 + 1);
    r.fleet.beat("web-01");
    const one = await get();
    assert.deepEqual(one.map((b: { name: string }) => b.name), ["systemd"]);
    // A token is needed, as for every read.
    const anon = await r.call("GET", "/backends", {});
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
  } finally {
    await r.stop();
  }
});
