/**
 * What a bucket's remove and erase do to the readers of the whole bucket,
 * on a real nats-server 2.9. Every controller follows the jobs bucket with
 * one consumer; a remove or erase of one key must not move that consumer
 * past other keys' entries it has not delivered yet. A KV purge (a rollup)
 * and a filtered stream purge both did: the server sets every consumer
 * whose filter covers the subject to the first message left on it (or to
 * the stream's end when none is left). A follower then lost entries,
 * which showed as a removed job still listed (tests/history_test.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { natsBucket } from "../lib/bucket.ts";
import { freePort, waitFor } from "./harness.ts";

const enc = new TextEncoder();

Deno.test("bucket: remove and erase leave a reader of the bucket every other entry it has not read yet", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "grid-bucket-" });
  const port = freePort();
  const server = new Deno.Command("nats-server", {
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", join(dir, "s")],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const nc = await waitFor(
      `nats-server on port ${port}`,
      () => connect({ servers: `127.0.0.1:${port}` }),
    );
    try {
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      const kv = await new Kvm(js).create("follow", { history: 1 });
      const bucket = natsBucket(kv, js, "follow");
      // A reader placed before the writes, which reads nothing until after
      // them: what a follower is when the writes come faster than it reads.
      await jsm.consumers.add("KV_follow", {
        durable_name: "reader",
        filter_subject: "$KV.follow.>",
        deliver_policy: DeliverPolicy.All,
        ack_policy: AckPolicy.None,
      });
      await bucket.put("a", enc.encode("1"));
      const b = await bucket.put("b", enc.encode("2"));
      await bucket.put("c", enc.encode("3"));
      await bucket.remove("b", b);
      await bucket.erase("c");
      await bucket.put("d", enc.encode("4"));

      const reader = await js.consumers.get("KV_follow", "reader");
      const got: string[] = [];
      const msgs = await reader.fetch({ max_messages: 10, expires: 1000 });
      for await (const m of msgs) {
        const op = m.headers?.get("KV-Operation") || "PUT";
        got.push(`${m.subject.slice("$KV.follow.".length)} ${op}`);
      }
      // b's value went with its marker, c with its erase; `a`, written
      // before both, is still read.
      assert.deepEqual(got, ["a PUT", "b DEL", "d PUT"]);
      // A remove checks the revision; an erase of nothing is no error.
      await assert.rejects(bucket.remove("a", b), /wrong last sequence/);
      await bucket.erase("c");
      // The sweeper erases a marker by the revision its follower read.
      const marker = await kv.get("b");
      assert.equal(marker?.operation, "DEL");
      await bucket.erase("b", marker!.revision);
      assert.equal(await kv.get("b"), null);
    } finally {
      await nc.close();
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
    Deno.removeSync(dir, { recursive: true });
  }
});
