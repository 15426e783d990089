/**
 * The worker's logs on NATS: commands stored in GRID_CMD and republished
 * to a core subject per node, outcomes published to GRID_RES with an
 * acknowledgement, and the node record in the `nodes` bucket.
 *
 * Each republished command carries its stream sequence and the sequence
 * of the previous command for this node, so a gap (a message lost while
 * disconnected) is noticed and filled from the stream.
 *
 * A worker is a user of the WORKERS account (lib/access.ts): it reaches
 * GRID's JetStream API under WORKER_API_PREFIX, and only for its own
 * subjects. So its reads are by subject (direct get) and through its own
 * named consumer, never stream-wide; and a live message counts only when
 * the server's republish headers say it came from its own command subject.
 */
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import type { ResultEvent } from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";
import { AckedPublisher } from "../lib/acked.ts";
import type { Clock } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { encodeJson } from "../lib/nats.ts";
import { API_TIMEOUT_MS, readConsumer } from "../lib/ordered.ts";
import {
  commandConsumer,
  isGenuineDelivery,
  WORKER_API_PREFIX,
  workerInbox,
} from "../lib/access.ts";
import {
  BUCKET_NODES,
  HDR_LAST_SEQUENCE,
  HDR_SEQUENCE,
  STREAM_COMMANDS,
  STREAM_RESULTS,
  subjects,
} from "../lib/topology.ts";
import {
  type CommandLog,
  type Delivery,
  LogClosedError,
  type NodeBucket,
  type ResultLog,
  type WorkerLogs,
} from "./logs.ts";

const log = logger("gridw");

/** The inbox prefix node `id` must connect with: replies to it come there. */
export const inboxFor = workerInbox;

/** Opens node `id`'s logs on a connection made with `inboxFor(id)`. */
export async function openNatsLogs(
  nc: NatsConnection,
  id: string,
  _clock: Clock,
): Promise<WorkerLogs> {
  const opts = { apiPrefix: WORKER_API_PREFIX, timeout: API_TIMEOUT_MS };
  const js = jetstream(nc, opts);
  // No account-info check: $JS.API.INFO is not among a worker's subjects.
  const jsm = await jetstreamManager(nc, { ...opts, checkAPI: false });
  // Results: acks on one inbox, not one request each.
  const pub = new AckedPublisher(nc, 5000, workerInbox(id));
  // Reads by subject (direct get), which a worker's permissions can scope;
  // opening sends nothing, so a missing bucket shows at the first write.
  const kv = await new Kvm(js).open(BUCKET_NODES, { allow_direct: true });
  return {
    commands: commandLog(nc, js, jsm, id),
    results: resultLog(nc, jsm, pub),
    nodes: nodeBucket(kv, id),
  };
}

function commandLog(
  nc: NatsConnection,
  js: JetStreamClient,
  jsm: JetStreamManager,
  id: string,
): CommandLog {
  return {
    follow(f) {
      let following = true;
      const sub = nc.subscribe(subjects.delivery(id), {
        callback: (_err, msg) => {
          // Anything else on our subject is a reply another worker steered
          // here, not a command: it is dropped.
          const h = msg.headers;
          if (!isGenuineDelivery(msg.subject, (k) => h?.values(k) ?? [], id)) {
            log.warn("dropping a message that is not a command for this node", {
              subject: msg.subject,
            });
            return;
          }
          const d: Delivery = {
            seq: Number(msg.headers?.get(HDR_SEQUENCE)),
            prev: Number(msg.headers?.get(HDR_LAST_SEQUENCE) || 0),
            data: msg.data,
          };
          if (Number.isSafeInteger(d.seq) && d.seq > 0) f.delivered(d);
        },
      });
      (async () => {
        for await (const s of nc.status()) {
          if (!following) break;
          if (s.type === "reconnect") {
            log.info("reconnected; catching up on commands");
            f.resync();
          } else if (s.type === "disconnect") {
            log.warn("disconnected from NATS; reconnecting");
          }
        }
      })().catch(() => {});
      return () => {
        following = false;
        sub.unsubscribe();
      };
    },
    async newest() {
      const m = await jsm.direct.getMessage(STREAM_COMMANDS, {
        last_by_subj: subjects.command(id),
      });
      return m?.seq ?? 0;
    },
    async read(from, to, fn) {
      if (to < from) return from - 1;
      const c = await ownConsumer(js, jsm, id, from);
      try {
        return await readConsumer(
          c,
          { from, to, batch: 256, quietMs: 2000 },
          async (m) => {
            // The consumer's filter is ours; the server said so, and so do we.
            if (m.subject === subjects.command(id)) await fn(m.seq, m.data);
          },
        );
      } finally {
        await jsm.consumers.delete(STREAM_COMMANDS, commandConsumer(id))
          .catch(() => {});
      }
    },
  };
}

function resultLog(
  nc: NatsConnection,
  jsm: JetStreamManager,
  pub: AckedPublisher,
): ResultLog {
  return {
    async report(ev: ResultEvent) {
      const subject = subjects.result(ev.job, ev.step, ev.node);
      // One id per attempt: the stream drops a retried publish it already has.
      const msgID = `${ev.job}.${ev.step}.${ev.node}.${ev.attempt}.w`;
      try {
        await pub.send(subject, encodeJson(ev), msgID);
      } catch (e) {
        if (nc.isClosed()) throw new LogClosedError(String(e));
        throw e;
      }
    },
    stream(chunk) {
      try {
        nc.publish(
          subjects.output(chunk.job, chunk.step, chunk.node),
          encodeJson(chunk),
        );
      } catch {
        // Closed or draining: a live view misses it, the result will not.
      }
    },
    async lastAttempt(job, step, node) {
      // null: nothing was reported for it.
      const m = await jsm.direct.getMessage(STREAM_RESULTS, {
        last_by_subj: subjects.result(job, step, node),
      });
      if (!m) return undefined;
      const attempt = (m.json<Partial<ResultEvent>>()).attempt;
      return typeof attempt === "number" ? attempt : 0;
    },
  };
}

function nodeBucket(kv: KV, id: string): NodeBucket {
  return {
    async get() {
      const e = await kv.get(id);
      return e?.operation === "PUT" ? e.json<NodeRecord>() : undefined;
    },
    async put(rec) {
      await kv.put(id, encodeJson(rec));
    },
  };
}

/**
 * This node's one consumer on GRID_CMD, starting at `from`. Its name is
 * fixed (its permissions name it), so any earlier one goes first: a
 * consumer's start cannot be changed. It ends by itself if forgotten.
 */
async function ownConsumer(
  js: JetStreamClient,
  jsm: JetStreamManager,
  id: string,
  from: number,
): Promise<Consumer> {
  const name = commandConsumer(id);
  await jsm.consumers.delete(STREAM_COMMANDS, name).catch(() => {});
  await jsm.consumers.add(STREAM_COMMANDS, {
    name,
    filter_subject: subjects.command(id),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: from,
    ack_policy: AckPolicy.None,
    inactive_threshold: nanos(60_000),
    mem_storage: true,
    num_replicas: 1,
  });
  return await js.consumers.get(STREAM_COMMANDS, name);
}
