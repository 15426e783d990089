/**
 * A worker restarted after running an attempt has an empty ledger: a live
 * copy of that attempt must be checked against the results stream, not run
 * again. The copies are published straight to the node's command subject, as
 * a controller re-sending it would.
 */
import assert from "node:assert/strict";
import { headers } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { ResultEvent, RunCommand } from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";
import {
  BUCKET_NODES,
  HDR_LAST_SEQUENCE,
  HDR_SEQUENCE,
  STREAM_COMMANDS,
  STREAM_RESULTS,
  subjects,
} from "../lib/topology.ts";
import { encodeJson } from "../lib/nats.ts";
import {
  connectAsController,
  keysDirOf,
  waitFor,
  withCluster,
} from "./harness.ts";

Deno.test("worker: after a restart, a live re-send of an attempt it ran is not run again", async () => {
  await withCluster(
    { workers: [{ id: "n1" }], offlineAfter: "30s" },
    async (c) => {
      const id = await c.submit({
        tasks: [{
          backend: "ping",
          action: "echo",
          params: { message: "once" },
        }],
      });
      const job = await c.waitJob(id);
      assert.equal(job.status, "completed", JSON.stringify(job));

      const nc = await connectAsController(keysDirOf(c.dir), {
        servers: c.natsUrl,
      });
      try {
        const jsm = await jetstreamManager(nc);
        const js = jetstream(nc);
        const sent = await jsm.streams.getMessage(STREAM_COMMANDS, {
          last_by_subj: subjects.command("n1"),
        });
        const original = sent!.json<RunCommand>();
        assert.equal(original.job, id);
        const result = await jsm.streams.getMessage(STREAM_RESULTS, {
          last_by_subj: subjects.result(id, 0, "n1"),
        });
        assert.equal(result!.json<ResultEvent>().attempt, original.attempt);

        const nodes = await new Kvm(nc).open(BUCKET_NODES);
        const publish = async (cmd: RunCommand, msgID: string) =>
          (await js.publish(
            subjects.command("n1"),
            encodeJson(cmd),
            { msgID },
          )).seq;
        let lastSeq = sent!.seq;
        // Killed once its record says every command so far is done with, the
        // worker reads none back on start: its ledger has none of them.
        const restart = async () => {
          await waitFor("n1 to record its commands as done", async () => {
            const rec = (await nodes.get("n1"))?.json<NodeRecord>();
            return (rec?.resume_seq ?? 0) >= lastSeq;
          });
          await c.workers.get("n1")!.stop("SIGKILL");
          const w = await c.startWorker({ id: "n1" });
          await waitFor(
            "the worker to be ready",
            () => w.log.some((l) => l.includes("worker ready")),
          );
          return w;
        };
        // Once a probe (an attempt with no outcome, marked a re-send: looked
        // up, then run) has run, what was sent before it has been decided,
        // since intake is in order.
        const probe = async (w: { log: string[] }) => {
          const job = `probe-${crypto.randomUUID()}`;
          lastSeq = await publish({
            ...original,
            job,
            params: { message: "probe" },
            issued_at: new Date().toISOString(),
            resend: true,
          }, `${job}.test`);
          await waitFor(
            "the probe to run",
            () =>
              w.log.some((l) =>
                l.includes(`job=${job}`) && l.includes("task finished")
              ),
          );
        };
        const assertSkippedOnce = (w: { log: string[]; dump(): string }) => {
          const about = w.log.filter((l) => l.includes(`job=${id}`));
          assert.deepEqual(
            about.filter((l) => l.includes("task started")),
            [],
            w.dump(),
          );
          assert.equal(
            about.filter((l) =>
              l.includes("already has an outcome") &&
              l.includes("arrival=live")
            ).length,
            1,
            w.dump(),
          );
        };
        const key = `${id}.0.n1.${original.attempt}`;

        // Unmarked, but built before this worker started.
        const first = await restart();
        await publish(original, `${key}.test-unmarked`);
        await probe(first);
        assertSkippedOnce(first);

        // What a controller re-sending it, or one that adopted the job, sends.
        const second = await restart();
        await publish(
          { ...original, issued_at: new Date().toISOString(), resend: true },
          `${key}.test-resend`,
        );
        await probe(second);
        assertSkippedOnce(second);
      } finally {
        await nc.close();
      }
    },
  );
});

Deno.test("worker: a live command behind the resume point runs once if it was never taken", async () => {
  await withCluster({ workers: [{ id: "n1" }] }, async (c) => {
    // Moves the worker's last sequence past 1.
    for (let i = 0; i < 2; i++) {
      const job = await c.waitJob(
        await c.submit({ tasks: [{ backend: "ping", action: "echo" }] }),
      );
      assert.equal(job.status, "completed");
    }
    const w = c.workers.get("n1")!;
    const nc = await connectAsController(keysDirOf(c.dir), {
      servers: c.natsUrl,
    });
    try {
      // Straight to the delivery subject, as the server's republish would
      // (with its headers: only a controller's identity may publish there),
      // with a sequence the worker has passed. One connection: in order.
      const deliver = (body: unknown) => {
        const h = headers();
        h.set("Nats-Stream", STREAM_COMMANDS);
        h.set("Nats-Subject", subjects.command("n1"));
        h.set(HDR_SEQUENCE, "1");
        h.set(HDR_LAST_SEQUENCE, "0");
        nc.publish(
          subjects.delivery("n1"),
          new TextEncoder().encode(
            typeof body === "string" ? body : JSON.stringify(body),
          ),
          { headers: h },
        );
      };
      const cmd = (job: string): RunCommand => ({
        type: "run",
        job,
        step: 0,
        attempt: 1,
        backend: "ping",
        action: "echo",
        params: { message: job },
        timeout_ms: 10_000,
        issued_at: new Date().toISOString(),
      });
      const late = `late-${crypto.randomUUID()}`;
      const last = `last-${crypto.randomUUID()}`;
      deliver(cmd(late));
      deliver(cmd(late));
      deliver("{not json");
      deliver(cmd(last));
      await waitFor(
        "the last one to run",
        () =>
          w.log.some((l) =>
            l.includes(`job=${last}`) && l.includes("task finished")
          ),
      );
      const started = (job: string) =>
        w.log.filter((l) =>
          l.includes(`job=${job}`) && l.includes("task started")
        ).length;
      assert.equal(started(late), 1, w.dump());
      assert.equal(started(last), 1, w.dump());
      assert.ok(
        w.log.some((l) => l.includes("ignoring a malformed command")),
        w.dump(),
      );
    } finally {
      await nc.close();
    }
  });
});
