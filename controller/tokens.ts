/**
 * API tokens (KV `grid_tokens`, one key per token name). Only a token's
 * SHA-256 hash is stored; every controller follows the bucket, so a token
 * created or revoked through one is accepted or refused by all of them
 * as soon as the change reaches them.
 *
 * A token never appears in a log line or an error message: every message
 * names the token by its name only, and a malformed record is reported by
 * its name and what is wrong with it, never its value.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Bucket } from "../lib/bucket.ts";
import type { Clock } from "../lib/clock.ts";
import { iso } from "../lib/clock.ts";
import { encodeJson } from "../lib/nats.ts";
import {
  TokenRecord,
  type TokenRecord as TokenRecordT,
  type TokenScope,
  type TokenView,
} from "../models/auth.ts";
import { conflict, notFound } from "./errors.ts";
import { type BadRecords, badRecords, readRecord } from "./bad_records.ts";

/** 32 random bytes: 256 bits, beyond guessing. */
const TOKEN_BYTES = 32;
export const TOKEN_PREFIX = "grid_";

/** A new random token: `grid_` and 43 base64url characters. */
export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString("base64url");
}

function sha256(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

export function hashToken(token: string): string {
  return sha256(token).toString("hex");
}

export function viewOf(rec: TokenRecordT): TokenView {
  const { hash: _, ...view } = rec;
  return view;
}

/** Why `authenticate` refused a token, for the 401's message. */
export type TokenRefusal = "unknown" | "expired";

export class TokenStore {
  #kv: Bucket;
  #clock: Clock;
  #byName = new Map<string, TokenRecordT>();
  #byHash = new Map<string, TokenRecordT>();
  /** Newest revision applied per name: late or repeated entries are ignored. */
  #revs = new Map<string, number>();
  #stop?: () => void;
  #bad: BadRecords;

  constructor(kv: Bucket, clock: Clock, bad: BadRecords = badRecords) {
    this.#kv = kv;
    this.#clock = clock;
    this.#bad = bad;
  }

  /** Reads every token, then follows changes (revocations included). */
  async start(): Promise<void> {
    const f = await this.#kv.follow((e) => {
      if ((this.#revs.get(e.key) ?? 0) >= e.revision) return;
      this.#revs.set(e.key, e.revision);
      if (e.operation !== "PUT") {
        this.#forget(e.key);
        return;
      }
      const r = readRecord(() => e.json(), TokenRecord);
      if (!r.ok || r.value.name !== e.key) {
        // Not ours to trust: a record that does not parse grants nothing.
        const why = r.ok ? `its name is "${r.value.name}"` : r.why;
        this.#bad.report("tokens", e.key, e.revision, why);
        this.#forget(e.key);
        return;
      }
      this.#remember(r.value);
    });
    this.#stop = () => f.stop();
  }

  stop(): void {
    this.#stop?.();
  }

  /**
   * The token's record if it is valid now, else why not. The hash is
   * looked up, then compared in constant time, so how long this takes
   * says nothing about how close a guess came.
   */
  authenticate(token: string): TokenRecordT | TokenRefusal {
    const digest = sha256(token);
    const rec = this.#byHash.get(digest.toString("hex"));
    if (!rec) return "unknown";
    if (!timingSafeEqual(Buffer.from(rec.hash, "hex"), digest)) {
      return "unknown";
    }
    if (this.expired(rec)) return "expired";
    return rec;
  }

  expired(rec: TokenRecordT): boolean {
    return rec.expires_at !== undefined &&
      Date.parse(rec.expires_at) <= this.#clock.now();
  }

  get(name: string): TokenRecordT | undefined {
    return this.#byName.get(name);
  }

  /** By name. */
  list(): TokenView[] {
    return [...this.#byName.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(viewOf);
  }

  /** Whether some admin token that has not expired exists. */
  hasAdmin(except?: string): boolean {
    for (const rec of this.#byName.values()) {
      if (rec.scope === "admin" && rec.name !== except && !this.expired(rec)) {
        return true;
      }
    }
    return false;
  }

  /** Creates a new random token; the answer is the one place it appears. */
  async create(
    name: string,
    scope: TokenScope,
    by: string,
    ttlMs?: number,
  ): Promise<{ token: string; record: TokenRecordT }> {
    const token = newToken();
    const record = await this.register(name, token, scope, by, ttlMs);
    return { token, record };
  }

  /**
   * Stores `token` under `name` with a create-only write: of two
   * controllers (or requests) creating one name, one wins and the other
   * gets a conflict.
   */
  async register(
    name: string,
    token: string,
    scope: TokenScope,
    by: string,
    ttlMs?: number,
  ): Promise<TokenRecordT> {
    const now = this.#clock.now();
    const record: TokenRecordT = {
      name,
      scope,
      hash: hashToken(token),
      created_at: iso(now),
      created_by: by,
      ...(ttlMs === undefined ? {} : { expires_at: iso(now + ttlMs) }),
    };
    let rev: number;
    try {
      rev = await this.#kv.create(name, encodeJson(record));
    } catch (e) {
      if (!String(e).includes("wrong last sequence")) throw e;
      throw conflict(
        `a token named "${name}" exists: revoke it first, or pick another name`,
      );
    }
    this.#apply(name, rev, record);
    return record;
  }

  /** Revokes (deletes) the token called `name`; answers what it was. */
  async revoke(name: string): Promise<TokenRecordT> {
    const rec = this.#byName.get(name);
    if (!rec) throw notFound(`no token named "${name}"`);
    await this.#kv.delete(name);
    // Refused here at once; the other controllers follow the bucket.
    this.#forget(name);
    return rec;
  }

  #apply(name: string, rev: number, rec: TokenRecordT): void {
    if ((this.#revs.get(name) ?? 0) >= rev) return;
    this.#revs.set(name, rev);
    this.#remember(rec);
  }

  #remember(rec: TokenRecordT): void {
    this.#forget(rec.name);
    this.#byName.set(rec.name, rec);
    this.#byHash.set(rec.hash, rec);
  }

  #forget(name: string): void {
    const old = this.#byName.get(name);
    if (!old) return;
    this.#byName.delete(name);
    if (this.#byHash.get(old.hash) === old) this.#byHash.delete(old.hash);
  }
}
