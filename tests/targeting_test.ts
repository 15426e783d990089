/**
 * Labels and selectors on a real fleet of six enrolled workers, and the
 * plan: a selector with exclusions runs exactly its nodes, a worker gets
 * only the labels it was enrolled with, and a plan answers what a job
 * would do while storing, sending and auditing nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { STREAM_AUDIT, STREAM_COMMANDS } from "../lib/topology.ts";
import { loadOrCreateKeys } from "../controller/nats_keys.ts";
import { NatsTrust } from "../controller/nats_trust.ts";
import { gridc, gridcEnv } from "../scenarios/fleet.ts";
import { type Cluster, type Json, waitFor, withCluster } from "./harness.ts";

interface Node {
  id: string;
  groups: string[];
  /** What its enrollment grants. */
  enrolled: Record<string, string>;
  /** What its worker.labels claims. */
  claims: Record<string, string>;
}

const WEB = { role: "web", env: "prod" };
const FLEET: Node[] = [
  { id: "web-01", groups: ["web"], enrolled: WEB, claims: WEB },
  { id: "web-02", groups: ["web"], enrolled: WEB, claims: WEB },
  {
    id: "web-03",
    groups: ["web"],
    enrolled: { role: "web", env: "canary" },
    claims: { role: "web", env: "canary" },
  },
  { id: "web-04", groups: ["web"], enrolled: WEB, claims: WEB },
  {
    id: "db-01",
    groups: ["db"],
    enrolled: { role: "db", env: "prod" },
    claims: { role: "db", env: "prod" },
  },
  // Enrolled with env=prod only, it claims to be a web node too.
  { id: "rogue-01", groups: ["db"], enrolled: { env: "prod" }, claims: WEB },
];

const yamlMap = (m: Record<string, string>) =>
  `{${Object.entries(m).map(([k, v]) => `${k}: ${v}`).join(", ")}}`;

async function enrollAndStart(c: Cluster, n: Node): Promise<void> {
  const r = await c.request("POST", "/nodes/enroll", {
    id: n.id,
    groups: n.groups,
    labels: n.enrolled,
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  assert.deepEqual(r.json.labels, n.enrolled);
  await Deno.writeTextFile(c.credsFile(n.id), r.json.creds, { mode: 0o600 });
  await c.startWorker({
    id: n.id,
    groups: n.groups,
    extra: `  labels: ${yamlMap(n.claims)}\n`,
  });
}

/** What GRID's streams hold past `after`, read as a controller would. */
async function streamLook(c: Cluster) {
  const trust = new NatsTrust(await loadOrCreateKeys(join(c.dir, "nats-auth")));
  const nc = await connect({
    servers: c.natsUrl,
    reconnect: false,
    authenticator: credsAuthenticator(
      (await trust.controller("test-observer")).creds,
    ),
  });
  const jsm = await jetstreamManager(nc);
  const last = async (stream: string) =>
    (await jsm.streams.info(stream)).state.last_seq;
  const since = async (stream: string, after: number): Promise<Json[]> => {
    const out: Json[] = [];
    for (let seq = after + 1; seq <= await last(stream); seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (m) out.push(m.json());
    }
    return out;
  };
  return { last, since, close: () => nc.close() };
}

const ECHO = { backend: "ping", action: "echo", params: { message: "hi" } };
const nodesRan = (job: Json) => Object.keys(job.results["0"] ?? {}).sort();

Deno.test("targeting: labels as enrolled, selectors with exclusions, and a plan that changes nothing", async () => {
  await withCluster({ offlineAfter: "3s" }, async (c) => {
    for (const n of FLEET) await enrollAndStart(c, n);
    await c.waitOnline(FLEET.map((n) => n.id));
    const look = await streamLook(c);
    try {
      // Each node has exactly what it claimed and was enrolled with.
      await waitFor("labels in GET /nodes", async () => {
        const nodes = (await c.request("GET", "/nodes")).json as Json[];
        const labels = Object.fromEntries(nodes.map((n) => [n.id, n.labels]));
        return labels["rogue-01"]?.env === "prod" && labels;
      }, 10_000).then((labels) => {
        assert.deepEqual(labels, {
          "web-01": WEB,
          "web-02": WEB,
          "web-03": { role: "web", env: "canary" },
          "web-04": WEB,
          "db-01": { role: "db", env: "prod" },
          "rogue-01": { env: "prod" },
        });
      });
      const list = await gridc(
        ["-a", c.api, "node", "list"],
        false,
        gridcEnv(c),
      )
        .output();
      const listed = new TextDecoder().decode(list.stdout);
      assert.equal(list.code, 0, new TextDecoder().decode(list.stderr));
      assert.match(listed, /LABELS/);
      assert.match(listed, /web-03 .*env=canary,role=web/);
      assert.match(listed, /rogue-01 .* env=prod /);

      // The plan: nothing stored, sent or audited.
      await waitFor("the enrollments' audit entries", async () => {
        const page = (await c.request("GET", "/audit?limit=100")).json;
        const entries = (page.entries ?? page) as Json[];
        return entries.filter((e) => e.action === "node.enroll").length ===
          FLEET.length;
      }, 10_000);
      const jobsBefore = (await c.request("GET", "/jobs")).json;
      const cmdSeq = await look.last(STREAM_COMMANDS);
      const auditSeq = await look.last(STREAM_AUDIT);
      const spec = {
        target: { selector: "role=web,!node:web-03" },
        strategy: "continue",
        rollout: { batch: 2, max_failures: 1 },
        tasks: [ECHO, { backend: "ping", action: "hostname" }],
      };
      const plan = await c.request("POST", "/job/plan", spec);
      assert.equal(plan.status, 200, JSON.stringify(plan.json));
      assert.equal(plan.json.valid, true, plan.json.problem);
      assert.deepEqual(plan.json.nodes, ["web-01", "web-02", "web-04"]);
      assert.deepEqual(plan.json.offline, []);
      assert.deepEqual(
        plan.json.batches.map((b: Json) => b.nodes),
        [["web-01", "web-02"], ["web-04"]],
      );
      assert.deepEqual(
        plan.json.steps.map((s: Json) => `${s.step} ${s.backend} ${s.action}`),
        ["0 ping echo", "1 ping hostname"],
      );
      assert.equal(plan.json.budget.nodes, 1);

      // Params are judged by the targeted nodes, as a submit would.
      const bad = await c.request("POST", "/job/plan", {
        target: { selector: "group:db" },
        tasks: [{
          backend: "ping",
          action: "sleep",
          params: { duration: "x" },
        }],
      });
      assert.equal(bad.status, 200, JSON.stringify(bad.json));
      assert.equal(bad.json.valid, false);
      assert.match(bad.json.problem, /^tasks\[0\]\.params\.duration/);
      assert.deepEqual(bad.json.nodes, ["db-01", "rogue-01"]);
      const malformed = await c.request("POST", "/job/plan", {
        target: { selector: "role=web,!web-03" },
        tasks: [ECHO],
      });
      assert.equal(malformed.status, 400);
      assert.match(malformed.json.error, /^target\.selector: term 2/);

      // A read token may plan; gridc prints it.
      const reader = await c.request("POST", "/tokens", {
        name: "reader",
        scope: "read",
      });
      const asReader = await c.request(
        "POST",
        "/job/plan",
        spec,
        reader.json.token,
      );
      assert.equal(asReader.status, 200);
      const file = join(c.dir, "plan.yaml");
      await Deno.writeTextFile(file, JSON.stringify(spec));
      const planned = await gridc(
        ["-a", c.api, "-o", "json", "job", "plan", "-f", file],
        false,
        gridcEnv(c),
      ).output();
      assert.equal(planned.code, 0, new TextDecoder().decode(planned.stderr));
      assert.deepEqual(
        JSON.parse(new TextDecoder().decode(planned.stdout)).nodes,
        plan.json.nodes,
      );

      assert.deepEqual((await c.request("GET", "/jobs")).json, jobsBefore);
      assert.equal(await look.last(STREAM_COMMANDS), cmdSeq);

      // A real submit: exactly the selected nodes run it; rogue-01 claimed
      // role=web but was not enrolled with it.
      const id = await c.submit({
        target: { selector: "role=web,!node:web-03" },
        tasks: [ECHO],
      });
      const done = await c.waitJob(id);
      assert.equal(done.status, "completed");
      assert.deepEqual(nodesRan(done), ["web-01", "web-02", "web-04"]);
      // What came after the snapshot is this job's, nothing of the plans'
      // (an entry of theirs would have gone out before it).
      await waitFor(
        "the submit's audit entry",
        async () =>
          (await look.since(STREAM_AUDIT, auditSeq)).some((e) =>
            e.action === "job.submit"
          ),
        10_000,
      );
      assert.deepEqual(
        (await look.since(STREAM_AUDIT, auditSeq)).map((e) =>
          `${e.action} ${e.target}`
        ),
        [`token.create reader`, `job.submit ${id}`],
      );
      const sent = await look.since(STREAM_COMMANDS, cmdSeq);
      assert.ok(sent.length >= 3, `${sent.length} commands`);
      assert.deepEqual([...new Set(sent.map((m) => m.job))], [id]);

      const prod = await c.waitJob(
        await c.submit({
          target: { selector: "env=prod,!node:web-01,web-02" },
          tasks: [ECHO],
        }),
      );
      assert.deepEqual(nodesRan(prod), ["db-01", "rogue-01", "web-04"]);

      // A node that stops is offline in the plan, and skipped.
      await c.workers.get("web-04")!.stop();
      await waitFor("web-04 offline in the plan", async () => {
        const p = (await c.request("POST", "/job/plan", spec)).json;
        return p.offline?.includes("web-04") && p;
      }, 20_000).then((p) => {
        assert.deepEqual(p.nodes, ["web-01", "web-02"]);
        assert.deepEqual(p.batches.map((b: Json) => b.nodes), [[
          "web-01",
          "web-02",
        ]]);
      });
    } finally {
      await look.close();
    }
  });
});
