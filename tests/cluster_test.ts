/**
 * Several controllers on loopback: three controllers whose nats-servers form
 * one JetStream cluster (replicas 3), and two controllers sharing one NATS.
 * Owners die or leave mid-job; peers finish their jobs; nothing runs twice.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertStartedOnce,
  clusterConfig,
  ControllerSet,
  type Json,
  type Member,
  preferring,
  waitFor,
  withControllers,
} from "./harness.ts";

/**
 * A test on three controllers whose nats-servers form one JetStream
 * cluster (replicas 3), and workers w1-w3 listing every server (each
 * starting with a different one): it starts once the set has settled
 * (see `waitSettled`).
 */
function clusterTest(
  name: string,
  fn: (set: ControllerSet, workers: string[]) => Promise<void>,
): void {
  Deno.test(name, async () => {
    const set = new ControllerSet(["c1", "c2", "c3"], clusterConfig());
    await withControllers(set, async () => {
      for (const m of set.members) set.start(m);
      await set.readyAll();
      const workers = ["w1", "w2", "w3"];
      for (const [i, id] of workers.entries()) {
        await set.startWorker(id, preferring(set.natsUrls(), i));
      }
      await set.waitSettled(workers);
      await fn(set, workers);
    });
  });
}

/** Until every worker runs step `step` of `job`, as `via` sees it. */
async function waitStep(
  set: ControllerSet,
  via: Member,
  job: string,
  step: number,
): Promise<void> {
  await waitFor(`step ${step} of ${job} to run on every worker`, async () => {
    const nodes = await set.get(via, "/nodes");
    return nodes.filter((n: Json) =>
      n.running?.job === job && n.running.step === step
    ).length === set.workers.size;
  }, 30_000);
}

clusterTest(
  "cluster: three controllers survive losing the owner of a running job",
  async (set, ids) => {
    const job = {
      tasks: [
        { backend: "ping", action: "echo", params: { message: "one" } },
        { backend: "test", action: "sleep", params: { duration: "3s" } },
        { backend: "ping", action: "echo", params: { message: "three" } },
      ],
    };

    const runAndLose = async (how: "SIGTERM" | "SIGKILL") => {
      const entry = set.running()[0]!;
      const submitted = await set.post(entry, "/job", job);
      assert.equal(submitted.status, 202, JSON.stringify(submitted.json));
      const id = submitted.json.id;
      await waitStep(set, entry, id, 1);
      const running = await set.get(entry, `/job/${id}`);
      const owner = set.member(running.owner);
      const lostAt = Date.now();
      if (how === "SIGKILL") await set.crash(owner);
      else assert.equal((await owner.proc!.stop("SIGTERM")).code, 0);
      const survivor = set.running()[0]!;
      const done = await set.waitJob(survivor, id, 90_000);
      assert.equal(done.status, "completed", JSON.stringify(done));
      assert.notEqual(done.owner, owner.name);
      for (const w of ids) {
        assert.equal(done.results["1"][w].status, "success");
        assert.equal(done.results["1"][w].attempts, 1);
        assert.ok(
          Date.parse(done.results["1"][w].started_at) < lostAt,
          `${w} re-ran step 1`,
        );
        assert.equal(done.results["2"][w].output, "three");
      }
      assertStartedOnce(set, id, 3);
      return owner;
    };

    // SIGTERM: the owner hands its job over without failing it.
    const left = await runAndLose("SIGTERM");
    set.start(left);
    await set.ready(left);
    await set.waitSettled(ids);

    // SIGKILL of the owner and its nats-server: a peer finishes the job.
    await runAndLose("SIGKILL");

    // GET /controllers lists the peers and who is alive.
    const alive = set.running()[0]!;
    const controllers = await waitFor("two controllers online", async () => {
      const controllers = await set.get(alive, "/controllers");
      return controllers.filter((c: Json) => c.status === "online").length === 2
        ? controllers
        : undefined;
    });
    assert.equal(controllers.length, 3);
  },
);

clusterTest(
  "cluster: SIGKILL of a nats-server workers use: they reconnect elsewhere, no task lost or run twice",
  async (set, ids) => {
    const echo = (message: string) => ({
      backend: "ping",
      action: "echo",
      params: { message },
    });
    const sleep = (duration: string) => ({
      backend: "test",
      action: "sleep",
      params: { duration },
    });
    const tasks = [
      echo("zero"),
      sleep("4s"),
      echo("two"),
      sleep("2s"),
      echo("four"),
    ];
    const entry = set.members[0]!;
    const submitted = await set.post(entry, "/job", { tasks });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.json));
    const id: string = submitted.json.id;
    await waitStep(set, entry, id, 1);

    // The server most workers are connected to (a worker picks one of its
    // URLs at random). Its controller keeps its connection to a peer.
    const on = new Map<Member, string[]>();
    for (const [w, p] of set.workers) {
      const to = set.connectedTo(p.pid);
      assert.equal(
        to.length,
        1,
        `${w} is connected to ${to.map((m) => m.name)}`,
      );
      on.set(to[0]!, [...(on.get(to[0]!) ?? []), w]);
    }
    const [victim, moved] = [...on].sort((a, b) =>
      b[1].length - a[1].length
    )[0]!;
    const logAt = new Map(
      moved.map((w) => [w, set.workers.get(w)!.log.length]),
    );
    const controllerPid = victim.proc!.pid;
    const killedAt = Date.now();
    await set.killNatsServer(victim);

    // Its workers reconnected, to another server.
    for (const w of moved) {
      const p = set.workers.get(w)!;
      await waitFor(
        `${w} to reconnect`,
        () => p.log.slice(logAt.get(w)).some((l) => l.includes("reconnected")),
      );
      const to = set.connectedTo(p.pid).map((m) => m.name);
      assert.ok(
        to.length === 1 && to[0] !== victim.name,
        `${w}, on ${victim.name}'s server, is now connected to ${to}`,
      );
    }

    const done = await set.waitJob(entry, id, 90_000);
    assert.equal(done.status, "completed", JSON.stringify(done));
    for (const w of ids) {
      for (let s = 0; s < tasks.length; s++) {
        const r = done.results[String(s)][w];
        assert.equal(
          r.status,
          "success",
          `step ${s} on ${w}: ${JSON.stringify(r)}`,
        );
        assert.equal(r.attempts, 1, `step ${s} on ${w}: ${JSON.stringify(r)}`);
      }
      // The server died mid-job: during step 1, which was not run again.
      const step1 = done.results["1"][w];
      assert.ok(Date.parse(step1.started_at) < killedAt, `${w} re-ran step 1`);
      assert.ok(
        Date.parse(step1.finished_at) > killedAt,
        `${w} finished step 1 before the kill`,
      );
      assert.equal(done.results["4"][w].output, "four");
    }
    assertStartedOnce(set, id, tasks.length);
    // The controller lived through it: it only restarted its server.
    assert.equal(victim.proc!.pid, controllerPid);
    assert.ok(victim.proc!.running, `${victim.name} exited`);
  },
);

Deno.test("cluster: two controllers on one NATS race for pending jobs; each runs once", async () => {
  const set = new ControllerSet(["a", "b"], (m, all, dir) => {
    const first = all[0]!;
    const server = m === first
      ? `server: {host: 127.0.0.1, port: ${m.nats}}`
      : `server: {enabled: false}\n  client: {urls: [nats://127.0.0.1:${first.nats}]}`;
    return `api: {host: 127.0.0.1, port: ${m.api}}
nats:
  name: ${m.name}
  ${server}
  jetstream: {store_dir: ${join(dir, m.name)}}
controller: {heartbeat_interval: 500ms, stale_threshold: 2s}
scheduler: {max_concurrent: 4, max_pending: 100}
nodes: {offline_after: 5s}
`;
  });
  await withControllers(set, async () => {
    const [a, b] = set.members as [Member, Member];
    set.start(a);
    await set.ready(a);
    set.start(b);
    await set.ready(b);
    await set.startWorker("w1", [set.natsUrl(a)]);
    await set.startWorker("w2", [set.natsUrl(a)]);
    await set.waitOnline(["w1", "w2"], b);
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const r = await set.post(i % 2 ? a : b, "/job", {
        tasks: [{
          backend: "test",
          action: "succeed",
          params: { delay: "50ms" },
        }],
      });
      assert.equal(r.status, 202);
      ids.push(r.json.id);
    }
    const owners = new Set<string>();
    for (const id of ids) {
      const j = await set.waitJob(a, id);
      assert.equal(j.status, "completed");
      owners.add(j.owner);
      assertStartedOnce(set, id, 1);
    }
    // Cancel and listing work through either controller.
    const slow = await set.post(a, "/job", {
      tasks: [{
        backend: "test",
        action: "sleep",
        params: { duration: "30s" },
      }],
    });
    await waitFor(
      "it to run",
      async () =>
        (await set.get(b, `/job/${slow.json.id}`)).status === "running",
    );
    const cancelled = await set.post(b, `/job/${slow.json.id}/cancel`);
    assert.equal(cancelled.json.status, "cancelled");
    const listA = await set.get(a, "/jobs?limit=100");
    const listB = await set.get(b, "/jobs?limit=100");
    assert.deepEqual(
      listA.map((j: Json) => j.id),
      listB.map((j: Json) => j.id),
    );
    assert.ok(owners.size >= 1);
  });
});
