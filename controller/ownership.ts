/**
 * Who runs which job, from this controller's side: claiming the next epoch
 * of a job (claims.ts), writing its record under that epoch, the lease our
 * own heartbeat gives us, and finding the running jobs to adopt (our own
 * after a restart, and those of controllers that are gone).
 */
import type { JobRecord } from "../models/job.ts";
import type { Clock } from "../lib/clock.ts";
import { iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { type Claim, claimNext, type ClaimStore } from "./claims.ts";
import { type JobStore, StaleRecordError, type Stored } from "./job_store.ts";
import { holdsLease } from "./sweep.ts";

const log = logger("runner");

/** What ownership needs to know of the other controllers. */
export interface PeerView {
  readonly id: string;
  alive(id: string | undefined, now?: number): boolean;
  /** When our own heartbeat last reached the store. */
  readonly lastBeatOk: number;
  readonly staleMs: number;
  readonly heartbeatMs: number;
}

export interface OwnershipDeps {
  store: JobStore;
  claims: ClaimStore;
  peers: PeerView;
  clock: Clock;
}

export class Ownership {
  #d: OwnershipDeps;
  /** Pending jobs a live peer has claimed but not yet written as running. */
  readonly heldByPeer = new Set<string>();

  constructor(deps: OwnershipDeps) {
    this.#d = deps;
  }

  get id(): string {
    return this.#d.peers.id;
  }

  holdsLease(now = this.#d.clock.now()): boolean {
    const { peers } = this.#d;
    return holdsLease(now, peers.lastBeatOk, peers.staleMs);
  }

  /** Claims the next epoch of a job for us; undefined when a live peer holds it. */
  async claim(
    s: Stored,
    purpose: Claim["purpose"],
  ): Promise<number | undefined> {
    const { claims, clock, peers } = this.#d;
    const epoch = await claimNext(
      claims,
      s.rec.id,
      s.rec.epoch ?? 0,
      { controller: this.id, purpose, at: iso(clock.now()) },
      (c) => peers.alive(c),
    );
    // Until its record changes, leave the job to whoever holds it.
    if (epoch === undefined) this.heldByPeer.add(s.rec.id);
    return epoch;
  }

  /**
   * Writes the record of a job whose `epoch` we hold. `change` builds it
   * from the stored record, or answers undefined when that no longer allows
   * the change. Only late writes from earlier epochs can be in the way; a
   * record from a later epoch means the job has moved on without us.
   */
  async write(
    id: string,
    epoch: number,
    change: (rec: JobRecord) => JobRecord | undefined,
  ): Promise<Stored | undefined> {
    const { store } = this.#d;
    for (let tries = 0; tries < 5; tries++) {
      const cur = store.get(id);
      if (!cur || (cur.rec.epoch ?? 0) > epoch) return undefined;
      // Only this epoch's holder writes it: an earlier try of ours landed.
      if (cur.rec.epoch === epoch) return cur;
      const next = change(cur.rec);
      if (!next) return undefined;
      try {
        return await store.update(next, cur.rev);
      } catch (e) {
        if (!(e instanceof StaleRecordError)) throw e;
      }
    }
    return undefined;
  }

  /**
   * Running jobs this controller should run and does not: its own (a
   * restart, or an adoption that failed) and, claimed now, those of
   * controllers that are gone.
   */
  async toAdopt(runningHere: (id: string) => boolean): Promise<Stored[]> {
    const { store, peers, clock } = this.#d;
    const adopt: Stored[] = [];
    for (const s of [...store.active()]) {
      if (s.rec.status !== "running" || runningHere(s.rec.id)) continue;
      if (s.rec.owner === this.id) {
        adopt.push(s);
        continue;
      }
      if (peers.alive(s.rec.owner)) continue;
      const epoch = await this.claim(s, "run");
      if (epoch === undefined) continue;
      const won = await this.write(
        s.rec.id,
        epoch,
        (rec) =>
          rec.status === "running"
            ? { ...rec, owner: this.id, epoch, updated_at: iso(clock.now()) }
            : undefined,
      );
      if (!won) continue;
      adopt.push(won);
      log.info("taking over a job", {
        job: s.rec.id,
        from: s.rec.owner ?? "(released)",
        epoch,
      });
    }
    // A job may have started here while peers' jobs were being claimed.
    return adopt.filter((s) => !runningHere(s.rec.id));
  }
}
