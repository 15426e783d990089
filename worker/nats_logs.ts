/**
 * The worker's logs on NATS: commands stored in GRID_CMD and republished
 * to a core subject per node, outcomes published to GRID_RES with an
 * acknowledgement, and the node record in the `nodes` bucket.
 *
 * Each republished command carries its stream sequence and the sequence
 * of the previous command for this node, so a gap (a message lost while
 * disconnected) is noticed and filled from the stream.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ResultEvent } from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";
import { AckedPublisher } from "../lib/acked.ts";
import { type Clock, sleep } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { encodeJson } from "../lib/nats.ts";
import { jetstreamClient, readRange } from "../lib/ordered.ts";
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

/** Opens node `id`'s logs, waiting for the controller to create the bucket. */
export async function openNatsLogs(
  nc: NatsConnection,
  id: string,
  clock: Clock,
): Promise<WorkerLogs> {
  const js = jetstreamClient(nc);
  // Results: acks on one inbox, not one request each.
  const pub = new AckedPublisher(nc);
  const kv = await openBucket(nc, clock);
  const jsm = await jetstreamManager(nc);
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
      const m = await jsm.streams.getMessage(STREAM_COMMANDS, {
        last_by_subj: subjects.command(id),
      });
      return m?.seq ?? 0;
    },
    read(from, to, fn) {
      return readRange(
        js,
        STREAM_COMMANDS,
        { filter: subjects.command(id), from, to, batch: 256, quietMs: 2000 },
        (m) => fn(m.seq, m.data),
      );
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
    async lastAttempt(job, step, node) {
      try {
        const m = await jsm.streams.getMessage(STREAM_RESULTS, {
          last_by_subj: subjects.result(job, step, node),
        });
        return m ? (m.json<ResultEvent>().attempt ?? 0) : undefined;
      } catch (e) {
        // "no message found" is an answer: nothing was reported for it.
        if (/no message found/i.test(String(e))) return undefined;
        throw e;
      }
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

async function openBucket(nc: NatsConnection, clock: Clock): Promise<KV> {
  const kvm = new Kvm(nc);
  for (let warned = false;; warned = true) {
    try {
      return await kvm.open(BUCKET_NODES);
    } catch (e) {
      if (!warned) {
        log.warn("waiting for the controller to create the nodes bucket", {
          error: String(e),
        });
      }
      await sleep(clock, 1000);
    }
  }
}
