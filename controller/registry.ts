/**
 * The controller's view of the fleet, kept current by following the nodes
 * bucket that workers heartbeat into. A record is a node's claim, checked
 * against its enrollment (enrollment.ts) before it counts:
 * - only an enrolled node's record is taken, and only under its own key;
 * - its groups are cut to those it was enrolled with, and its labels to the
 *   key=value pairs it was enrolled with (the rest is refused, and the
 *   refusal logged);
 * - it is online by when the server stored its heartbeat, never by the
 *   time the node wrote into it (a skewed or forged clock);
 * - a revoked node is kept apart, never a target again.
 *
 * Each controller also writes a sentinel of its own into the bucket and
 * watches for it to come back: while it does not, the view is not current
 * (an outage, a follower stuck on a lost server) and silent nodes prove
 * nothing (`freshAt`, sweep.ts `fleetCurrent`).
 */
import { type NodeEnrollment, NodeRecord } from "../models/node.ts";
import { canonicalJson, NodeParams } from "../models/params.ts";
import { formatLabels } from "../models/selector.ts";
import type { Bucket, BucketEntry } from "../lib/bucket.ts";
import { type Cancel, type Clock, iso, systemClock } from "../lib/clock.ts";
import { encodeJson } from "../lib/nats.ts";
import { logger } from "../lib/log.ts";
import { type Fleet, isOnline } from "./targets.ts";

const log = logger("registry");

/**
 * A controller's sentinel key. "=" may appear in a KV key but never in a
 * node id, so no worker's record (nor its permissions) can take its place.
 */
const sentinelKey = (controller: string) => `controller=${controller}`;
const isSentinel = (key: string) => key.startsWith("controller=");

/** What the registry needs of enrollments. */
export interface EnrollmentLookup {
  get(id: string): NodeEnrollment | undefined;
  onChange(fn: (e: NodeEnrollment) => void): void;
}

interface Heard {
  rec: NodeRecord;
  /** When the server stored it. */
  at: number;
}

export class Registry implements Fleet {
  /** Enrolled nodes that are not revoked, as the controller judges them. */
  readonly nodes = new Map<string, NodeRecord>();
  /** Revoked nodes' last records. */
  readonly revoked = new Map<string, NodeRecord>();
  #heard = new Map<string, Heard>();
  #revs = new Map<string, number>();
  /** The last refusal logged per node, so a heartbeat does not repeat it. */
  #refusals = new Map<string, string>();
  /** What each node last described its actions accept, under its digest. */
  #params = new Map<string, { digest: string; np: NodeParams }>();
  /** Descriptions by content: a fleet of one version shares one. */
  #interned = new Map<string, NodeParams>();
  #freshAt = 0;
  /**
   * A full store (storage.ts): writes of other processes may hang or fail
   * while ours go through, so the view is not current meanwhile.
   */
  storage?: { readonly full: boolean; note(text: string): void };

  /**
   * When our sentinel last came back: the view was current then. While the
   * store is full, old enough that it is not current at once (sweep.ts
   * `fleetCurrent`), yet nodes heard just before are judged as they were.
   */
  get freshAt(): number {
    const half = this.offlineAfterMs / 2;
    if (this.storage?.full) return this.#freshAt - half;
    // Back from a gap: the heartbeats nodes could not store meanwhile come
    // in over the next moments, and until they have, a healthy node looks
    // offline (a job started then failed "no online node matches").
    if (this.clock.now() < this.#backAt + half) return this.#backAt - half;
    return this.#freshAt;
  }
  /** When our sentinel came back after a gap (not current until half offline_after later). */
  #backAt = -Infinity;
  #gap = false;
  #stop?: () => void;
  #stopBeat?: Cancel;

  constructor(
    readonly bucket: Bucket,
    readonly offlineAfterMs: number,
    readonly enrollment: EnrollmentLookup,
    /** This controller's id: names its sentinel. */
    readonly self = "controller",
    readonly clock: Clock = systemClock,
  ) {
    enrollment.onChange((e) => this.#place(e.id));
  }

  /** Reads every record, then follows changes; writes the sentinel often. */
  async start(): Promise<void> {
    const f = await this.bucket.follow((e) => this.#apply(e));
    this.#stop = () => f.stop();
    // A few writes per half offline_after: one lost write is no outage.
    const every = Math.max(100, Math.min(2000, this.offlineAfterMs / 8));
    await this.#beat();
    this.#stopBeat = this.clock.every(every, () => this.#beat());
  }

  /** What node `id` accepts, while its heartbeats name the description it sent. */
  paramsOf(id: string): NodeParams | undefined {
    return this.nodes.has(id) ? this.#params.get(id)?.np : undefined;
  }

  isOnline(id: string, now = Date.now()): boolean {
    const n = this.nodes.get(id);
    return n !== undefined && isOnline(n, now, this.offlineAfterMs);
  }

  stop(): void {
    this.#stopBeat?.();
    this.#stop?.();
  }

  async #beat(): Promise<void> {
    const at = this.clock.now();
    await this.bucket.put(sentinelKey(this.self), encodeJson({ at }))
      // An outage: the missing echo says so; the words may say why.
      .catch((e) => this.storage?.note(`${e?.message ?? e}`));
  }

  #apply(e: BucketEntry): void {
    if (isSentinel(e.key)) {
      if (e.key === sentinelKey(this.self)) {
        const now = this.clock.now();
        // Echoes while the store is full do not count: the view is in a gap.
        if (this.storage?.full) return void (this.#gap = true);
        const half = this.offlineAfterMs / 2;
        if (this.#gap || (this.#freshAt > 0 && now - this.#freshAt >= half)) {
          this.#backAt = now;
        }
        this.#gap = false;
        this.#freshAt = now;
      }
      return;
    }
    const have = this.#revs.get(e.key) ?? 0;
    if (e.revision <= have) return;
    this.#revs.set(e.key, e.revision);
    if (e.operation !== "PUT") {
      this.#heard.delete(e.key);
      this.#params.delete(e.key);
      this.nodes.delete(e.key);
      this.revoked.delete(e.key);
      return;
    }
    let parsed;
    try {
      parsed = NodeRecord.safeParse(e.json());
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success || parsed.data.id !== e.key) {
      this.#refuse(e.key, "ignoring a malformed node record", {
        seq: e.revision,
      });
      return;
    }
    const { params, ...rec } = parsed.data;
    this.#learn(rec, params);
    this.#heard.set(e.key, { rec, at: e.time ?? Date.now() });
    this.#place(e.key);
  }

  /**
   * Keeps the description a record carries; a record that names another
   * digest than the one kept (the worker restarted with other backends or
   * another version) leaves the node undescribed until it sends it.
   */
  #learn(rec: NodeRecord, params: unknown): void {
    const digest = rec.params_digest;
    if (digest === undefined) return void this.#params.delete(rec.id);
    if (params !== undefined) {
      const p = NodeParams.safeParse(params);
      if (p.success) {
        this.#params.set(rec.id, { digest, np: this.#intern(p.data) });
        return;
      }
      this.#refuse(rec.id, "ignoring a malformed description of params", {
        error: p.error.issues[0]?.message,
      });
    }
    if (this.#params.get(rec.id)?.digest !== digest) {
      this.#params.delete(rec.id);
    }
  }

  #intern(np: NodeParams): NodeParams {
    const key = canonicalJson(np);
    const have = this.#interned.get(key);
    if (have) return have;
    if (this.#interned.size >= 64) {
      const used = new Set([...this.#params.values()].map((p) => p.np));
      for (const [k, v] of this.#interned) {
        if (!used.has(v)) this.#interned.delete(k);
      }
    }
    this.#interned.set(key, np);
    return np;
  }

  /** Files a node's last record under what its enrollment allows. */
  #place(id: string): void {
    const heard = this.#heard.get(id);
    if (!heard) return;
    const enrolled = this.enrollment.get(id);
    if (!enrolled) {
      this.nodes.delete(id);
      this.revoked.delete(id);
      this.#refuse(id, "ignoring the record of a node that is not enrolled");
      return;
    }
    const allowed = heard.rec.groups.filter((g) => enrolled.groups.includes(g));
    const refused = heard.rec.groups.filter((g) =>
      !enrolled.groups.includes(g)
    );
    if (refused.length > 0) {
      this.#refuse(id, "refusing groups the node was not enrolled in", {
        refused: refused.join(","),
        enrolled: enrolled.groups.join(",") || "-",
      });
    }
    const labels = grantedLabels(
      heard.rec.labels ?? {},
      enrolled.labels ?? {},
    );
    if (labels.refused.length > 0) {
      this.#refuse(id, "refusing labels the node was not enrolled with", {
        refused: labels.refused.join(","),
        enrolled: formatLabels(enrolled.labels ?? {}) || "-",
      });
    }
    const rec: NodeRecord = {
      ...heard.rec,
      groups: allowed,
      labels: labels.granted,
      last_seen: iso(heard.at),
    };
    if (enrolled.revoked_at) {
      this.nodes.delete(id);
      this.revoked.set(id, { ...rec, status: "offline" });
    } else {
      this.revoked.delete(id);
      this.nodes.set(id, rec);
    }
  }

  #refuse(id: string, msg: string, fields: Record<string, unknown> = {}): void {
    const said = `${msg} ${JSON.stringify(fields)}`;
    if (this.#refusals.get(id) === said) return;
    this.#refusals.set(id, said);
    log.warn(msg, { node: id, ...fields });
  }
}

/**
 * The claimed pairs the enrollment grants, as they were granted; a claim of
 * a granted key with another value is refused like an unknown key.
 */
export function grantedLabels(
  claimed: Readonly<Record<string, string>>,
  enrolled: Readonly<Record<string, string>>,
): { granted: Record<string, string>; refused: string[] } {
  const granted: Record<string, string> = {};
  const refused: string[] = [];
  for (const [k, v] of Object.entries(claimed)) {
    if (Object.hasOwn(enrolled, k) && enrolled[k] === v) granted[k] = v;
    else refused.push(`${k}=${v}`);
  }
  return { granted, refused };
}
