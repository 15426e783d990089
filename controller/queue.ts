/**
 * The job queue: starts pending jobs, oldest first, while the cluster runs
 * fewer than `max_concurrent`. Starting one claims it (so it starts once in
 * a cluster), resolves its nodes and writes it as running here.
 */
import type { Clock } from "../lib/clock.ts";
import { iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { EventFeed } from "./event_feed.ts";
import type { JobStore, Stored } from "./job_store.ts";
import type { Ownership } from "./ownership.ts";
import { type Fleet, resolveTarget } from "./targets.ts";
import { fleetCurrent } from "./sweep.ts";

const log = logger("runner");

export interface QueueDeps {
  store: JobStore;
  ownership: Ownership;
  feed: EventFeed;
  fleet: Fleet;
  clock: Clock;
  maxConcurrent: number;
  offlineAfterMs: number;
  /** Starts running a job this controller has just won. */
  begin(s: Stored): void;
  stopping(): boolean;
}

export class Queue {
  #d: QueueDeps;
  #pumping = false;
  #again = false;

  constructor(deps: QueueDeps) {
    this.#d = deps;
  }

  /** Starts what can start; a call while one runs makes it go round again. */
  async pump(): Promise<void> {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    const { store, ownership, maxConcurrent } = this.#d;
    try {
      do {
        this.#again = false;
        for (const id of store.pendingIds()) {
          if (this.#d.stopping() || store.count("running") >= maxConcurrent) {
            break;
          }
          // Started against a stale registry, a job would find its healthy
          // nodes offline; it waits for the next round instead.
          const { fleet, clock, offlineAfterMs } = this.#d;
          if (!fleetCurrent(clock.now(), fleet.freshAt, offlineAfterMs)) break;
          const next = store.get(id);
          if (
            next?.rec.status !== "pending" || ownership.heldByPeer.has(id)
          ) continue;
          const claimed = await this.#claim(next);
          if (claimed) this.#d.begin(claimed);
        }
      } while (this.#again);
    } catch (e) {
      log.error("starting jobs failed", { error: String(e) });
    } finally {
      this.#pumping = false;
    }
  }

  async #claim(s: Stored): Promise<Stored | undefined> {
    const { ownership, feed, fleet, clock } = this.#d;
    const id = s.rec.id;
    // Events of this job (a cancel from a peer) may come in while it is
    // claimed; they are kept from here until it runs. Everything before
    // this point came before any claim, so before the job could start.
    const resSeq = feed.seen;
    feed.hold(id);
    let won: Stored | undefined;
    try {
      const epoch = await ownership.claim(s, "run");
      if (epoch === undefined) return undefined;
      const now = clock.now();
      const { online, offline } = resolveTarget(
        fleet.nodes.values(),
        s.rec.target,
        now,
        this.#d.offlineAfterMs,
      );
      won = await ownership.write(
        id,
        epoch,
        (rec) =>
          rec.status === "pending"
            ? {
              ...rec,
              status: "running",
              owner: ownership.id,
              epoch,
              expected: online,
              offline,
              started_at: iso(now),
              updated_at: iso(now),
              res_seq: resSeq,
            }
            : undefined,
      );
      return won;
    } finally {
      // When it was won, `begin` takes what was kept.
      if (!won) feed.release(id);
    }
  }
}
