/**
 * Who may run a job is decided by create-only claim keys (KV `grid_claims`,
 * key `<job>.<epoch>`), not by compare-and-set on the job record.
 *
 * Why: on a replicated bucket, nats-server before 2.9.21 checks an update's
 * expected revision before the write goes through Raft, so two controllers
 * updating the same record at once can both succeed (nats-server#4320; on
 * 2.9.10 with three replicas, 229 of 300 concurrent pairs did). A create
 * (expected revision 0) is checked again when the write is applied, so
 * exactly one of several concurrent creates wins on every version.
 *
 * Each change of owner takes the next epoch: starting a pending job takes
 * epoch 1, a takeover from a dead owner takes the record's epoch + 1. The
 * winner writes the job record with that epoch; a record carrying a lower
 * epoch is a late write from a former owner and does not count.
 */
import { z } from "zod";
import type { Bucket } from "../lib/bucket.ts";
import { encodeJson } from "../lib/nats.ts";
import { type BadRecords, badRecords, readRecord } from "./bad_records.ts";

export const Claim = z.object({
  controller: z.string(),
  /** Cancelling a pending job claims it too, so it cannot start meanwhile. */
  purpose: z.enum(["run", "cancel"]),
  at: z.string(),
});
export type Claim = z.infer<typeof Claim>;

export interface ClaimStore {
  /** Claims `epoch` of `job`; answers with whoever holds it (us if we won). */
  claim(job: string, epoch: number, claim: Claim): Promise<Claim>;
  /**
   * Removes a finished job's claims, epochs 1 to `epoch` (its record's),
   * leaving nothing behind: it is never claimed again.
   */
  forget(job: string, epoch: number): Promise<void>;
}

const claimKey = (job: string, epoch: number) => `${job}.${epoch}`;

/** What claims need of their bucket: a KV will do where nothing is forgotten. */
export type ClaimsBucket =
  & Pick<Bucket, "create" | "get">
  & Partial<Pick<Bucket, "erase">>;

export class KvClaims implements ClaimStore {
  constructor(
    readonly kv: ClaimsBucket,
    readonly bad: BadRecords = badRecords,
  ) {}

  async forget(job: string, epoch: number): Promise<void> {
    const erase = this.kv.erase;
    if (!erase) throw new Error("this claims bucket cannot erase keys");
    for (let e = 1; e <= epoch; e++) await erase(claimKey(job, e));
  }

  async claim(job: string, epoch: number, claim: Claim): Promise<Claim> {
    const key = claimKey(job, epoch);
    try {
      await this.kv.create(key, encodeJson(claim));
      return claim;
    } catch (e) {
      // Taken, or no answer (our create may still have landed): the stored
      // claim says who holds it.
      const cur = await this.kv.get(key);
      if (cur?.operation !== "PUT") throw e;
      const held = readRecord(() => cur.json(), Claim);
      if (held.ok) return held.value;
      // A claim nobody can read is still taken: report it as a stranger's.
      this.bad.report("claims", key, cur.revision, held.why);
      return { controller: "(unreadable)", purpose: "run", at: "" };
    }
  }
}

/** In memory, for unit tests. */
export class MemoryClaims implements ClaimStore {
  readonly held = new Map<string, Claim>();

  claim(job: string, epoch: number, claim: Claim): Promise<Claim> {
    const key = claimKey(job, epoch);
    if (!this.held.has(key)) this.held.set(key, claim);
    return Promise.resolve(this.held.get(key)!);
  }

  forget(job: string, epoch: number): Promise<void> {
    for (let e = 1; e <= epoch; e++) this.held.delete(claimKey(job, e));
    return Promise.resolve();
  }
}

/**
 * Claims the first free epoch after `after` for `claim.controller`. A held
 * epoch whose holder is dead (it claimed, then died before writing the
 * record) is skipped; one held by a live peer means the peer is acting on
 * the job: give way. Returns the epoch won, or undefined.
 */
export async function claimNext(
  claims: ClaimStore,
  job: string,
  after: number,
  claim: Claim,
  alive: (controller: string) => boolean,
  maxSkips = 8,
): Promise<number | undefined> {
  for (let epoch = after + 1; epoch <= after + 1 + maxSkips; epoch++) {
    const holder = await claims.claim(job, epoch, claim);
    if (holder.controller === claim.controller) {
      // Ours from an earlier try (one that got no answer, or before a
      // restart); a cancel claim is not a licence to run, nor the reverse.
      return holder.purpose === claim.purpose ? epoch : undefined;
    }
    if (alive(holder.controller)) return undefined;
  }
  return undefined;
}
