/**
 * Ownership claims against a real three-server JetStream cluster with three
 * replicas — the setting where compare-and-set updates are not atomic on the
 * nats-server we ship against (docs/DESIGN.md, "Several controllers").
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { type Claim, KvClaims } from "../controller/claims.ts";
import { BUCKET_CLAIMS } from "../lib/topology.ts";
import { freePort, waitFor } from "./harness.ts";

Deno.test("claims: concurrent claims through different servers of a replicated bucket have one winner", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "grid-claims-" });
  const servers = [0, 1, 2].map(() => ({
    client: freePort(),
    route: freePort(),
  }));
  const procs = servers.map((s, i) =>
    new Deno.Command("nats-server", {
      args: [
        "-a",
        "127.0.0.1",
        "-p",
        String(s.client),
        "-n",
        `s${i}`,
        "-js",
        "-sd",
        join(dir, `s${i}`),
        "--cluster_name",
        "claims",
        "--cluster",
        `nats://127.0.0.1:${s.route}`,
        "--routes",
        servers.filter((o) => o !== s).map((o) => `nats://127.0.0.1:${o.route}`)
          .join(","),
      ],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  const conns: NatsConnection[] = [];
  try {
    for (const s of servers) {
      conns.push(
        await waitFor(
          `nats-server on port ${s.client}`,
          () => connect({ servers: `127.0.0.1:${s.client}` }),
        ),
      );
    }
    // The bucket can be made once the cluster has elected a meta leader.
    await waitFor(
      "a JetStream meta leader",
      () =>
        new Kvm(conns[0]!).create(BUCKET_CLAIMS, { history: 1, replicas: 3 }),
      30_000,
      250,
    );
    const [a, b] = await Promise.all(
      [conns[1]!, conns[2]!].map(async (nc) =>
        new KvClaims(await new Kvm(nc).open(BUCKET_CLAIMS))
      ),
    );
    const as = (controller: string): Claim => ({
      controller,
      purpose: "run",
      at: new Date().toISOString(),
    });
    const winners = { a: 0, b: 0 };
    for (let i = 0; i < 100; i++) {
      const job = `job${i}`;
      const [ha, hb] = await Promise.all([
        a!.claim(job, 1, as("a")),
        b!.claim(job, 1, as("b")),
      ]);
      assert.equal(
        ha.controller,
        hb.controller,
        `${job}: both claimants were told they hold epoch 1`,
      );
      winners[ha.controller as "a" | "b"]++;
    }
    assert.equal(winners.a + winners.b, 100);
  } finally {
    await Promise.allSettled(conns.map((nc) => nc.close()));
    for (const p of procs) {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
      await p.status;
    }
    Deno.removeSync(dir, { recursive: true });
  }
});
