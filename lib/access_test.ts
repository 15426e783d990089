import assert from "node:assert/strict";
import {
  commandConsumer,
  GRID_EXPORTS,
  isGenuineDelivery,
  WORKER_API_PREFIX,
  workerImports,
  workerInbox,
  workerPermissions,
} from "./access.ts";
import { onItsSubject } from "./topology.ts";

Deno.test("workerPermissions() name only the node's own subjects, dotted ids included", () => {
  const p = workerPermissions("web-01.example.com");
  for (const s of [...p.pub.allow, ...p.sub.allow]) {
    // Every subject is about this node (its id, consumer or inbox), never a wildcard tail.
    assert.ok(
      s.includes("web-01.example.com") ||
        s.includes(commandConsumer("web-01.example.com")) ||
        s.startsWith(workerInbox("web-01.example.com")),
      s,
    );
    assert.ok(
      !s.endsWith(">") || s === `${workerInbox("web-01.example.com")}.>`,
      s,
    );
  }
  assert.ok(p.pub.allow.includes("grid.res.*.*.web-01.example.com"));
  assert.ok(p.sub.allow.includes("grid.run.web-01.example.com"));
  // Nothing stream-wide: no plain message get, no stream calls.
  assert.ok(!p.pub.allow.some((s) => /STREAM\.|MSG\.GET/.test(s)));
});

Deno.test("commandConsumer() and workerInbox() tell apart ids that escaping would merge", () => {
  assert.notEqual(commandConsumer("a.b"), commandConsumer("a_b"));
  assert.notEqual(workerInbox("a.b"), workerInbox("a_b"));
  assert.match(commandConsumer("a.b"), /^gridw_[0-9a-f]{32}$/);
  assert.match(workerInbox("a.b"), /^_INBOX_[0-9a-f]{32}$/);
});

Deno.test("workerImports() moves JetStream and KV subjects under the worker API prefix", () => {
  const imports = workerImports("AGRID");
  assert.equal(imports.length, GRID_EXPORTS.length);
  for (const i of imports) {
    assert.equal(i.account, "AGRID");
    if (i.subject.startsWith("$JS.API.") || i.subject.startsWith("$KV.")) {
      assert.ok(
        i.local_subject?.startsWith(`${WORKER_API_PREFIX}.`),
        i.subject,
      );
    } else assert.equal(i.local_subject, undefined);
  }
  const deliveries = imports.find((i) => i.subject === "grid.run.>")!;
  assert.equal(deliveries.type, "stream");
});

Deno.test("isGenuineDelivery() takes only the server's republish of this node's commands", () => {
  const h = (m: Record<string, string[]>) => (k: string) => m[k] ?? [];
  const good = {
    "Nats-Stream": ["GRID_CMD"],
    "Nats-Subject": ["grid.cmd.n1"],
    "Nats-Sequence": ["42"],
  };
  assert.ok(isGenuineDelivery("grid.run.n1", h(good), "n1"));
  // Another node's subject, another stream, doubled headers, no sequence.
  assert.ok(!isGenuineDelivery("grid.run.n2", h(good), "n2"));
  assert.ok(!isGenuineDelivery("grid.cmd.n1", h(good), "n1"));
  assert.ok(
    !isGenuineDelivery(
      "grid.run.n1",
      h({ ...good, "Nats-Stream": ["GRID_RES"] }),
      "n1",
    ),
  );
  assert.ok(
    !isGenuineDelivery(
      "grid.run.n1",
      h({ ...good, "Nats-Stream": ["GRID_RES", "GRID_CMD"] }),
      "n1",
    ),
  );
  assert.ok(
    !isGenuineDelivery(
      "grid.run.n1",
      h({ ...good, "Nats-Subject": ["grid.cmd.n2"] }),
      "n1",
    ),
  );
  assert.ok(
    !isGenuineDelivery(
      "grid.run.n1",
      h({ ...good, "Nats-Sequence": [] }),
      "n1",
    ),
  );
  assert.ok(
    !isGenuineDelivery(
      "grid.run.n1",
      h({ ...good, "Nats-Sequence": ["0"] }),
      "n1",
    ),
  );
});

Deno.test("onItsSubject() accepts an event only on the subject its content names", () => {
  const result = { type: "result", job: "j1", step: 2, node: "n1.example" };
  assert.ok(onItsSubject("grid.res.j1.2.n1.example", result));
  assert.ok(!onItsSubject("grid.res.j1.2.n2", result));
  assert.ok(!onItsSubject("grid.res.j1.3.n1.example", result));
  assert.ok(!onItsSubject("grid.res.j9.2.n1.example", result));
  const cancel = { type: "cancel", job: "j1" };
  assert.ok(onItsSubject("grid.res.j1.ctl", cancel));
  // A worker's own result subject cannot carry a cancel or a timeout.
  assert.ok(!onItsSubject("grid.res.j1.0.n1", cancel));
  assert.ok(
    !onItsSubject("grid.res.j1.0.n1", { type: "job_timeout", job: "j1" }),
  );
});
