/**
 * Who may use which NATS subjects, built from the names in topology.ts.
 *
 * Two accounts (docs/DESIGN.md, "NATS identities"): GRID holds JetStream
 * and the controllers; WORKERS holds the workers and reaches GRID only
 * through what GRID exports. One account would not do: NATS checks the
 * subject a client publishes to but not the reply subject it attaches, and
 * every JetStream responder answers to that reply subject from inside the
 * account, so a worker could steer answers into streams, KV buckets and
 * the JetStream API. Across an import, answers come back into WORKERS,
 * which has no streams and no JetStream.
 */
import { createHash } from "node:crypto";
import {
  BUCKET_NODES,
  STREAM_COMMANDS,
  STREAM_RESULTS,
  subjects,
} from "./topology.ts";

/** Where workers find GRID's JetStream API (nats.js `apiPrefix`). */
export const WORKER_API_PREFIX = "grid.api";

const JS_API = "$JS.API";
const KV_NODES_STREAM = `KV_${BUCKET_NODES}`;
const kvSubject = (bucket: string, key: string) => `$KV.${bucket}.${key}`;

/** One subject token from a node id: ids may hold dots and underscores, so a hash. */
function nodeToken(node: string): string {
  return createHash("sha256").update(node).digest("hex").slice(0, 32);
}

/** The one pull consumer on GRID_CMD a worker may create, read and delete. */
export function commandConsumer(node: string): string {
  return `gridw_${nodeToken(node)}`;
}

/** The inbox prefix a worker's replies come to; nobody else may read it. */
export function workerInbox(node: string): string {
  return `_INBOX_${nodeToken(node)}`;
}

export interface Permissions {
  pub: { allow: string[] };
  sub: { allow: string[] };
}

/**
 * What worker `node` may publish and subscribe to in WORKERS: its own
 * results, its own node record, its own commands (live, read back, the last
 * one) and look-ups of its own results. Subjects under WORKER_API_PREFIX
 * are GRID's JetStream API as imported.
 */
export function workerPermissions(node: string): Permissions {
  const api = WORKER_API_PREFIX;
  const consumer = commandConsumer(node);
  const ownCommands = subjects.command(node);
  return {
    pub: {
      allow: [
        subjects.nodeResults(node),
        subjects.nodeOutput(node),
        `${api}.${kvSubject(BUCKET_NODES, node)}`,
        `${api}.CONSUMER.CREATE.${STREAM_COMMANDS}.${consumer}.${ownCommands}`,
        `${api}.CONSUMER.INFO.${STREAM_COMMANDS}.${consumer}`,
        `${api}.CONSUMER.MSG.NEXT.${STREAM_COMMANDS}.${consumer}`,
        `${api}.CONSUMER.DELETE.${STREAM_COMMANDS}.${consumer}`,
        `${api}.DIRECT.GET.${STREAM_COMMANDS}.${ownCommands}`,
        `${api}.DIRECT.GET.${STREAM_RESULTS}.${subjects.nodeResults(node)}`,
        `${api}.DIRECT.GET.${KV_NODES_STREAM}.${kvSubject(BUCKET_NODES, node)}`,
      ],
    },
    sub: { allow: [subjects.delivery(node), `${workerInbox(node)}.>`] },
  };
}

export interface Export {
  name: string;
  subject: string;
  type: "service" | "stream";
  /** "Stream": one request, many answers (a pull of several messages). */
  response_type?: "Singleton" | "Stream";
}

const service = (subject: string, many = false): Export => ({
  name: subject,
  subject,
  type: "service",
  ...(many ? { response_type: "Stream" as const } : {}),
});

/** What GRID offers WORKERS; each worker's permissions narrow it to its own. */
export const GRID_EXPORTS: readonly Export[] = [
  service(subjects.allResults),
  service(subjects.allOutput),
  service(kvSubject(BUCKET_NODES, ">")),
  service(`${JS_API}.DIRECT.GET.${STREAM_RESULTS}.>`),
  service(`${JS_API}.DIRECT.GET.${STREAM_COMMANDS}.>`),
  service(`${JS_API}.DIRECT.GET.${KV_NODES_STREAM}.>`),
  service(`${JS_API}.CONSUMER.CREATE.${STREAM_COMMANDS}.>`),
  service(`${JS_API}.CONSUMER.DELETE.${STREAM_COMMANDS}.>`),
  service(`${JS_API}.CONSUMER.INFO.${STREAM_COMMANDS}.>`),
  service(`${JS_API}.CONSUMER.MSG.NEXT.${STREAM_COMMANDS}.>`, true),
  { name: "deliveries", subject: subjects.allDeliveries, type: "stream" },
];

export interface Import extends Omit<Export, "response_type"> {
  account: string;
  /** Where the subject appears in WORKERS, when not under its own name. */
  local_subject?: string;
}

/**
 * GRID's exports as WORKERS imports them. JetStream API subjects (and KV
 * puts, which nats.js prefixes too) move under WORKER_API_PREFIX: under
 * their own names WORKERS' built-in JetStream import would answer first,
 * with "JetStream not enabled for account".
 */
export function workerImports(gridAccount: string): Import[] {
  return GRID_EXPORTS.map((e) => {
    const local = e.subject.startsWith(`${JS_API}.`)
      ? `${WORKER_API_PREFIX}.${e.subject.slice(JS_API.length + 1)}`
      : e.subject.startsWith("$KV.")
      ? `${WORKER_API_PREFIX}.${e.subject}`
      : undefined;
    return {
      name: e.name,
      subject: e.subject,
      account: gridAccount,
      type: e.type,
      ...(local ? { local_subject: local } : {}),
    };
  });
}

/** Server headers that say a live command really came from GRID_CMD for `node`. */
export function isGenuineDelivery(
  subject: string,
  header: (name: string) => string[],
  node: string,
): boolean {
  if (subject !== subjects.delivery(node)) return false;
  const one = (name: string) => {
    const v = header(name);
    return v.length === 1 ? v[0] : undefined;
  };
  return one("Nats-Stream") === STREAM_COMMANDS &&
    one("Nats-Subject") === subjects.command(node) &&
    /^[1-9][0-9]*$/.test(one("Nats-Sequence") ?? "");
}
