/**
 * Node identities: enrolling a node mints it a NATS user of its own (its
 * `.creds` file) and fixes the groups it may join; revoking it puts that
 * user in the WORKERS account's revocations and pushes the account to the
 * servers, which cut the node off at once.
 *
 * The records (KV `grid_enroll`) are the one source of truth: the WORKERS
 * account JWT is derived from them, and every controller pushes it again
 * when it sees them change, so concurrent revocations on two controllers
 * both end up in the account.
 */
import {
  type NodeEnrollment,
  NodeEnrollment as Schema,
} from "../models/node.ts";
import { formatLabels } from "../models/selector.ts";
import type { Bucket } from "../lib/bucket.ts";
import type { Cancel, Clock } from "../lib/clock.ts";
import { iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { decoder, encodeJson } from "../lib/nats.ts";
import { notFound } from "./errors.ts";
import type { NatsTrust } from "./nats_trust.ts";

const log = logger("enroll");

/** Sends an account JWT to the servers; resolves once one stored it. */
export type PushAccount = (jwt: string) => Promise<void>;

export class Enrollments {
  #items = new Map<string, NodeEnrollment>();
  #listeners: ((e: NodeEnrollment) => void)[] = [];
  #pushed = "";
  #retry?: Cancel;
  #stop?: () => void;

  constructor(
    readonly bucket: Bucket,
    readonly trust: NatsTrust,
    readonly push: PushAccount,
    readonly clock: Clock,
  ) {}

  /** Reads every record, follows changes, and pushes the account as it stands. */
  async start(): Promise<void> {
    const f = await this.bucket.follow((e) => {
      if (e.operation !== "PUT") {
        this.#items.delete(e.key);
        return;
      }
      let rec: NodeEnrollment;
      try {
        rec = Schema.parse(JSON.parse(decoder.decode(e.value)));
      } catch {
        log.warn("ignoring a malformed enrollment record", {
          key: e.key,
          seq: e.revision,
        });
        return;
      }
      this.#items.set(e.key, rec);
      for (const fn of this.#listeners) fn(rec);
      this.#pushSoon();
    });
    this.#stop = () => f.stop();
    await this.pushAccount();
  }

  stop(): void {
    this.#stop?.();
    this.#retry?.();
  }

  get(id: string): NodeEnrollment | undefined {
    return this.#items.get(id);
  }

  /** Called with every record that changes. */
  onChange(fn: (e: NodeEnrollment) => void): void {
    this.#listeners.push(fn);
  }

  /**
   * A new identity for `id` with these groups and labels. A node enrolled
   * before gets a new user, and its old one is revoked: creds that leaked
   * with an old copy stop working.
   */
  async enroll(
    id: string,
    groups: string[],
    by: string,
    labels: Record<string, string> = {},
  ): Promise<{ creds: string }> {
    const minted = await this.trust.worker(id);
    const now = iso(this.clock.now());
    const prev = this.#items.get(id);
    const retired = prev ? [...prev.retired, { user: prev.user, at: now }] : [];
    const rec: NodeEnrollment = {
      id,
      groups: [...new Set(groups)].sort(),
      labels: { ...labels },
      user: minted.user,
      enrolled_at: now,
      enrolled_by: by,
      retired,
    };
    await this.#write(rec);
    if (prev) await this.pushAccount();
    log.info("node enrolled", {
      node: id,
      groups: rec.groups.join(","),
      labels: formatLabels(labels),
      by,
    });
    return { creds: decoder.decode(minted.creds) };
  }

  /** Cuts the node off: its user is revoked on every server. */
  async revoke(id: string, by: string): Promise<void> {
    const prev = this.#items.get(id);
    if (!prev) throw notFound(`node "${id}" is not enrolled`);
    const rec: NodeEnrollment = prev.revoked_at ? prev : {
      ...prev,
      revoked_at: iso(this.clock.now()),
      revoked_by: by,
    };
    await this.#write(rec);
    await this.pushAccount();
    log.warn("node revoked", { node: id, by });
  }

  /** User key → revocation time (seconds), for every user no longer valid. */
  revocations(): Record<string, number> {
    const out: Record<string, number> = {};
    const secs = (at: string) => Math.ceil(Date.parse(at) / 1000);
    for (const e of this.#items.values()) {
      for (const r of e.retired) out[r.user] = secs(r.at);
      if (e.revoked_at) out[e.user] = secs(e.revoked_at);
    }
    return out;
  }

  /** Pushes WORKERS with the revocations known now. */
  async pushAccount(): Promise<void> {
    const revocations = this.revocations();
    const key = JSON.stringify(Object.entries(revocations).sort());
    await this.push(await this.trust.workersAccountJwt(revocations));
    this.#pushed = key;
  }

  async #write(rec: NodeEnrollment): Promise<void> {
    await this.bucket.put(rec.id, encodeJson(rec));
    // Ours at once, not when the follower gets to it: the push after a
    // write must include it.
    this.#items.set(rec.id, rec);
  }

  /** A change seen from the bucket (maybe another controller's): push it too. */
  #pushSoon(): void {
    const key = JSON.stringify(Object.entries(this.revocations()).sort());
    if (key === this.#pushed || this.#retry) return;
    this.#retry = this.clock.after(0, async () => {
      this.#retry = undefined;
      try {
        await this.pushAccount();
      } catch (e) {
        log.warn("pushing the workers account failed; will retry", {
          error: String(e),
        });
        this.#retry = this.clock.after(1000, () => {
          this.#retry = undefined;
          this.#pushSoon();
        });
      }
    });
  }
}
