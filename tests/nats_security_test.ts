/**
 * NATS, attacked with a worker's own credentials, against a real controller,
 * its nats-server and real workers. Every refusal here is the server's: the
 * test speaks NATS directly, not through GRID's code, and then checks with a
 * controller's identity that nothing changed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
} from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { guardLateResets } from "../lib/nats.ts";
import {
  commandConsumer,
  WORKER_API_PREFIX as API,
  workerInbox,
} from "../lib/access.ts";
import {
  BUCKET_JOBS,
  BUCKET_NODES,
  STREAM_COMMANDS,
  STREAM_RESULTS,
  subjects,
} from "../lib/topology.ts";
import { loadOrCreateKeys } from "../controller/nats_keys.ts";
import { NatsTrust } from "../controller/nats_trust.ts";
import { Cluster, makeCerts, ROOT, waitFor, withCluster } from "./harness.ts";

const A = "node-a.example.com";
const B = "node-b";
const enc = new TextEncoder();

guardLateResets();

/** A NATS connection as `creds` (none: anonymous), with nothing retried. */
function dial(c: Cluster, creds?: Uint8Array, inbox?: string) {
  return connect({
    servers: c.natsUrl,
    reconnect: false,
    timeout: 5000,
    ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
    ...(inbox ? { inboxPrefix: inbox } : {}),
  });
}

/** A controller's identity, minted from the cluster's own keys: to look, not to attack. */
async function asController(c: Cluster): Promise<NatsConnection> {
  const trust = new NatsTrust(await loadOrCreateKeys(join(c.dir, "nats-auth")));
  return await dial(c, (await trust.controller("test-observer")).creds);
}

/** The permission errors the server sends `nc`, as they come. */
function violations(nc: NatsConnection): string[] {
  const seen: string[] = [];
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "error") {
        seen.push(String((s as { error: unknown }).error));
      }
    }
  })().catch(() => {});
  return seen;
}

/** Until the server has refused `what` on `subject`. */
async function refused(
  seen: string[],
  what: "Publish" | "Subscription",
  subject: string,
): Promise<void> {
  const text = `Permissions Violation for ${what} to "${subject}"`;
  await waitFor(
    `the server to refuse ${what} to ${subject}`,
    () => seen.some((s) => s.includes(text)),
    5000,
  );
}

/** The request is refused by the server's permissions. */
async function requestRefused(p: Promise<unknown>, subject: string) {
  await assert.rejects(
    p,
    (e: Error) =>
      `${e.message} ${String(e.cause)}`.includes(
        `Permissions Violation for Publish to "${subject}"`,
      ),
  );
}

Deno.test("nats: a worker's credentials reach its own subjects and nothing else", async (t) => {
  await withCluster({
    workers: [
      // A claims a group it was not enrolled in.
      { id: A, groups: ["web", "db"], enrolled: ["web"] },
      { id: B, groups: ["web"] },
    ],
    offlineAfter: "3s",
  }, async (c) => {
    const admin = await asController(c);
    const ajsm = await jetstreamManager(admin);
    const nodes = await new Kvm(admin).open(BUCKET_NODES);
    const jobs = await new Kvm(admin).open(BUCKET_JOBS);
    const aCreds = await Deno.readFile(c.credsFile(A));

    // B has a command and a result of its own, for A to go after.
    const warm = await c.submit({
      target: { scope: "node", value: B },
      tasks: [{ backend: "ping", action: "echo", params: { message: "b" } }],
    });
    assert.equal((await c.waitJob(warm)).status, "completed");
    const bRecord = await nodes.get(B);
    const lastOf = async (stream: string, subject: string) =>
      (await ajsm.streams.getMessage(stream, { last_by_subj: subject })
        .catch(() => null))?.seq ?? 0;
    const bCommand = await lastOf(STREAM_COMMANDS, subjects.command(B));
    const results = (await ajsm.streams.info(STREAM_RESULTS)).state.messages;

    await t.step("an anonymous connection is refused", async () => {
      await assert.rejects(dial(c), /Authorization Violation/);
    });

    const nc = await dial(c, aCreds, workerInbox(A));
    const seen = violations(nc);
    const js = jetstream(nc, { apiPrefix: API, timeout: 3000 });
    const jsm = await jetstreamManager(nc, {
      apiPrefix: API,
      timeout: 3000,
      checkAPI: false,
    });

    await t.step("A cannot publish a command for B", async () => {
      nc.publish(subjects.command(B), enc.encode('{"type":"run"}'));
      await refused(seen, "Publish", subjects.command(B));
    });

    await t.step("A cannot publish a result or output as B", async () => {
      const forged = subjects.result(warm, 0, B);
      await requestRefused(js.publish(forged, enc.encode("{}")), forged);
      const output = subjects.output(warm, 0, B);
      nc.publish(output, enc.encode("{}"));
      await refused(seen, "Publish", output);
    });

    await t.step(
      "A cannot write B's node record, nor a fake node's",
      async () => {
        for (const id of [B, "ghost"]) {
          const subject = `${API}.$KV.${BUCKET_NODES}.${id}`;
          nc.publish(subject, enc.encode(`{"id":"${id}"}`));
          await refused(seen, "Publish", subject);
        }
      },
    );

    await t.step("A cannot write a job record", async () => {
      for (
        const subject of [`$KV.${BUCKET_JOBS}.X`, `${API}.$KV.${BUCKET_JOBS}.X`]
      ) {
        nc.publish(subject, enc.encode('{"status":"pending"}'));
        await refused(seen, "Publish", subject);
      }
    });

    await t.step("A cannot read B's results, commands or record", async () => {
      const get = (stream: string, subject: string) =>
        requestRefused(
          jsm.direct.getMessage(stream, { last_by_subj: subject }),
          `${API}.DIRECT.GET.${stream}.${subject}`,
        );
      await get(STREAM_RESULTS, subjects.result(warm, 0, B));
      await get(STREAM_COMMANDS, subjects.command(B));
      for (const s of [subjects.allResults, subjects.delivery(B)]) {
        nc.subscribe(s);
        await refused(seen, "Subscription", s);
      }
    });

    await t.step("A cannot delete or purge a stream", async () => {
      await requestRefused(
        jsm.streams.delete(STREAM_RESULTS),
        `${API}.STREAM.DELETE.${STREAM_RESULTS}`,
      );
      await requestRefused(
        jsm.streams.purge(STREAM_RESULTS),
        `${API}.STREAM.PURGE.${STREAM_RESULTS}`,
      );
    });

    await t.step("A cannot create a consumer on other subjects", async () => {
      const mine = commandConsumer(A);
      await requestRefused(
        jsm.consumers.add(STREAM_COMMANDS, {
          name: mine,
          filter_subject: subjects.command(B),
        }),
        `${API}.CONSUMER.CREATE.${STREAM_COMMANDS}.${mine}.${
          subjects.command(B)
        }`,
      );
      await requestRefused(
        jsm.consumers.add(STREAM_RESULTS, {
          name: "x",
          filter_subject: subjects.allResults,
        }),
        `${API}.CONSUMER.CREATE.${STREAM_RESULTS}.x.${subjects.allResults}`,
      );
    });

    await t.step(
      "replies A steers at GRID's subjects never reach GRID",
      async () => {
        // A's own result, written to look like B's, then reflected: a direct
        // get or a publish ack answers to whatever reply subject A names.
        const own = subjects.result("EVIL", 0, A);
        const fake = JSON.stringify({ id: B, groups: ["db"], node: B });
        await js.publish(own, enc.encode(fake));
        const direct = `${API}.DIRECT.GET.${STREAM_RESULTS}.${own}`;
        for (
          const target of [
            subjects.result("EVIL", 0, B),
            `$KV.${BUCKET_NODES}.${B}`,
            `$JS.API.STREAM.PURGE.${STREAM_RESULTS}`,
            subjects.command(B),
          ]
        ) {
          nc.publish(direct, undefined, { reply: target });
        }
        nc.publish(subjects.result("EVIL", 1, A), enc.encode("{}"), {
          reply: subjects.result("EVIL", 1, B),
        });
        await nc.flush();
        // Give a forged write every chance to land, then look.
        await admin.flush();
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(
          await lastOf(STREAM_RESULTS, subjects.result("EVIL", 0, B)),
          0,
        );
        assert.equal(
          await lastOf(STREAM_RESULTS, subjects.result("EVIL", 1, B)),
          0,
        );
        assert.equal(
          await lastOf(STREAM_COMMANDS, subjects.command(B)),
          bCommand,
        );
        assert.equal((await nodes.get(B))?.string().includes('"db"'), false);
        assert.ok(
          (await ajsm.streams.info(STREAM_RESULTS)).state.messages > results,
          "GRID_RES was not purged",
        );
      },
    );

    await t.step("nothing A tried changed GRID's state", async () => {
      assert.equal(
        await lastOf(STREAM_COMMANDS, subjects.command(B)),
        bCommand,
      );
      assert.equal(
        await lastOf(STREAM_RESULTS, subjects.result(warm, 0, B)) > 0,
        true,
      );
      assert.equal(await jobs.get("X"), null);
      assert.equal(await nodes.get("ghost"), null);
      assert.ok((await nodes.get(B))!.revision >= bRecord!.revision);
      assert.ok((await ajsm.streams.info(STREAM_RESULTS)).state.messages > 0);
    });

    await t.step(
      "a cancel A writes on its own result subject cancels nothing",
      async () => {
        // Permissions let A write its own result subjects: what it writes
        // there counts only as A's result, never as a job-wide event.
        const id = await c.submit({
          target: { scope: "node", value: B },
          tasks: [{
            backend: "test",
            action: "sleep",
            params: { duration: "1s" },
          }],
        });
        await js.publish(
          subjects.result(id, 0, A),
          enc.encode(JSON.stringify({
            type: "cancel",
            job: id,
            at: new Date().toISOString(),
            reason: "forged by A",
          })),
        );
        const job = await c.waitJob(id);
        assert.equal(job.status, "completed", JSON.stringify(job));
      },
    );

    await t.step("A is refused the group it was not enrolled in", async () => {
      const node = (await c.request("GET", `/node/${A}`)).json;
      assert.deepEqual(node.groups, ["web"]);
      const r = await c.request("POST", "/job", {
        target: { scope: "group", value: "db" },
        tasks: [{ backend: "ping", action: "echo", params: { message: "x" } }],
      });
      assert.equal(r.status, 400);
      assert.match(r.json.error, /no registered node matches group "db"/);
    });

    let aJob = "";
    await t.step("worker A still does its whole job", async () => {
      const id = aJob = await c.submit({
        target: { scope: "node", value: A },
        tasks: [
          { backend: "ping", action: "echo", params: { message: "one" } },
          { backend: "test", action: "succeed" },
        ],
      });
      const job = await c.waitJob(id);
      assert.equal(job.status, "completed", JSON.stringify(job));
      assert.equal(job.results["0"][A].output, "one");
    });

    await t.step(
      "a reply A steers onto B's delivery subject is not run",
      async () => {
        // The one reflection NATS lets through: inside WORKERS, onto B's live
        // subject. B's own check of the server's republish headers drops it.
        const b = c.workers.get(B)!;
        nc.publish(
          `${API}.DIRECT.GET.${STREAM_COMMANDS}.${subjects.command(A)}`,
          undefined,
          { reply: subjects.delivery(B) },
        );
        await nc.flush();
        await waitFor(
          "B to drop the reflected command",
          () => b.log.some((l) => l.includes("not a command for this node")),
          5000,
        );
        assert.ok(!b.log.some((l) => l.includes(`job=${aJob}`)));
      },
    );

    await t.step(
      "a forged last_seen does not keep a dead node online",
      async () => {
        await c.workers.get(A)!.stop("SIGKILL");
        const record = JSON.parse((await nodes.get(A))!.string());
        await js.publish(
          `${API}.$KV.${BUCKET_NODES}.${A}`,
          enc.encode(JSON.stringify({
            ...record,
            status: "online",
            last_seen: "2099-01-01T00:00:00.000Z",
          })),
        );
        await waitFor("A to be judged offline", async () => {
          const n = (await c.request("GET", `/node/${A}`)).json;
          return n.status === "offline";
        }, 10_000);
      },
    );

    await t.step(
      "a revoked worker is cut off within 5 s; others carry on",
      async () => {
        const b = c.workers.get(B)!;
        const t0 = Date.now();
        const r = await c.request("POST", `/node/${B}/revoke`);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        // Cut off by the server within 5 s: the worker sees it drop at once.
        await waitFor(
          "B to be disconnected",
          () => b.log.some((l) => l.includes("disconnected from NATS")),
          5000,
        );
        assert.ok(Date.now() - t0 < 5000);
        // Its reconnects are refused, and it stops, saying why (a loaded
        // machine may take a while to run the process down).
        await waitFor("B to exit", () => !b.running, 15_000);
        await b.wait(); // its last lines may still be in the pipe
        assert.match(b.log.join("\n"), /refused this node's credentials/);
        const n = (await c.request("GET", `/node/${B}`)).json;
        assert.equal(n.status, "revoked");
        await assert.rejects(
          dial(c, await Deno.readFile(c.credsFile(B)), workerInbox(B)),
          /Authorization Violation/,
        );
      },
    );

    await nc.close();
    await admin.close();
  });
});

Deno.test("nats: TLS on the bundled server; workers trust a private CA", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-nats-tls-" });
  try {
    const certs = await makeCerts(dir);
    await withCluster({
      workers: [{ id: "w1", groups: ["web"] }],
      natsTls: certs,
    }, async (c) => {
      const id = await c.submit({
        target: { scope: "node", value: "w1" },
        tasks: [{ backend: "ping", action: "echo", params: { message: "t" } }],
      });
      assert.equal((await c.waitJob(id)).status, "completed");
      const creds = await Deno.readFile(c.credsFile("w1"));
      // Without the CA the server's certificate is not trusted ...
      await assert.rejects(
        connect({
          servers: c.natsUrl,
          reconnect: false,
          authenticator: credsAuthenticator(creds),
          tls: {},
        }),
        /certificate/,
      );
      // ... and nobody talks to it in plain text: its greeting says so.
      const tcp = await Deno.connect({
        hostname: "127.0.0.1",
        port: c.natsPort,
      });
      const buf = new Uint8Array(4096);
      const n = await tcp.read(buf);
      tcp.close();
      const info = new TextDecoder().decode(buf.subarray(0, n ?? 0));
      assert.match(info, /^INFO .*"tls_required":true/);
      const ok = await connect({
        servers: c.natsUrl,
        reconnect: false,
        authenticator: credsAuthenticator(creds),
        inboxPrefix: workerInbox("w1"),
        tls: { caFile: certs.ca },
      });
      await ok.close();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nats: an external nats-server set up from `grid --nats-trust` runs GRID", async () => {
  const c = new Cluster({ externalNats: true, workers: [] });
  let server: Deno.ChildProcess | undefined;
  try {
    await Deno.writeTextFile(c.configFile, c.controllerConfig());
    const trust = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=controller",
        "main.ts",
        "controller",
        "-c",
        c.configFile,
        "--nats-trust",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(trust.code, 0, new TextDecoder().decode(trust.stderr));
    const lines = new TextDecoder().decode(trust.stdout).replace(
      "/var/lib/nats/accounts",
      join(c.dir, "ext-accounts"),
    );
    const conf = join(c.dir, "ext.conf");
    await Deno.writeTextFile(
      conf,
      `${lines}\nhost: 127.0.0.1\nport: ${c.natsPort}\n` +
        `jetstream { store_dir: ${JSON.stringify(join(c.dir, "ext-js"))} }\n`,
    );
    server = new Deno.Command("/usr/sbin/nats-server", {
      args: ["-c", conf],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor("the external nats-server", async () => {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: c.natsPort,
      })
        .catch(() => undefined);
      conn?.close();
      return conn !== undefined;
    }, 10_000);
    await c.startController();
    await c.startWorker({ id: "ext-w1", groups: ["web"] });
    await c.waitOnline(["ext-w1"]);
    const id = await c.submit({
      target: { scope: "group", value: "web" },
      tasks: [{ backend: "ping", action: "echo", params: { message: "ext" } }],
    });
    assert.equal((await c.waitJob(id)).status, "completed");
    await assert.rejects(dial(c), /Authorization Violation/);
  } catch (e) {
    console.error(c.dump());
    throw e;
  } finally {
    await c.stop();
    server?.kill("SIGTERM");
    await server?.status;
  }
});
