/**
 * Keeps the stored history bounded (`history.max_age`, `history.max_jobs`):
 * one controller at a time removes finished jobs past either limit, their
 * claims with them, takes old deletion markers out of the jobs bucket and
 * writes checkpoints of the job index.
 *
 * Why a sweeper and not the bucket's own limits: a KV bucket's `max_age`
 * or `max_msgs` drops the oldest records whatever they are, and a job
 * waiting or running long without a write (a long task, a full queue)
 * would go with them. Only finished jobs may go, so the sweeper picks them
 * from the index; results expire by GRID_RES's age, a week after the
 * longest a record is kept (lib/topology.ts).
 *
 * A record is deleted with a marker (a DEL entry) so every controller's
 * follower hears of it; the marker is erased once it is old and a
 * checkpoint past it exists, so a controller starting from that checkpoint
 * cannot miss it.
 */
import type { Clock } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { ClaimStore } from "./claims.ts";
import type { Checkpoints } from "./job_checkpoint.ts";
import type { JobStore } from "./job_store.ts";
import type { PeerView } from "./ownership.ts";
import { holdsLease } from "./sweep.ts";

const log = logger("history");

export interface RetentionConfig {
  maxAgeMs: number;
  maxJobs: number;
  /** How often it looks. */
  everyMs?: number;
  /** Jobs removed per round at most (a first round after lowering a limit may have many). */
  batch?: number;
  /** How old a marker must be to be erased. */
  markerAgeMs?: number;
  /** A checkpoint is written after this many changes… */
  checkpointRevs?: number;
  /** …or this long after the last one, if anything changed. */
  checkpointMs?: number;
}

export interface RetentionDeps {
  store: JobStore;
  claims: Pick<ClaimStore, "forget">;
  checkpoints?: Checkpoints;
  /** When the jobs bucket was created (a checkpoint names it). */
  bucketCreated(): Promise<number>;
  clock: Clock;
  /** Whether this controller is the one that sweeps now. */
  onDuty(): boolean;
}

/** What one round did. */
export interface RoundReport {
  removed: number;
  erased: number;
  checkpoint: boolean;
}

const PARALLEL = 16;

export class Retention {
  #d: RetentionDeps;
  #c: Required<RetentionConfig>;
  #stop?: () => void;
  #busy = false;
  /** The newest checkpoint written here: its revision and time. */
  #last = { rev: 0, at: 0 };

  constructor(deps: RetentionDeps, config: RetentionConfig) {
    this.#d = deps;
    this.#c = {
      everyMs: 10_000,
      batch: 10_000,
      markerAgeMs: 600_000,
      checkpointRevs: 20_000,
      checkpointMs: 60_000,
      ...config,
    };
  }

  start(): void {
    this.#stop = this.#d.clock.every(this.#c.everyMs, () => {
      this.round().catch((e) =>
        log.warn("keeping the history bounded failed; will retry", {
          error: String(e),
        })
      );
    });
  }

  stop(): void {
    this.#stop?.();
  }

  /**
   * Stops, with a checkpoint of whatever changed since the last if this
   * controller is on duty, so the next start (ours or a peer's) reads the
   * index from it rather than every record written since. Bounded: a
   * shutdown waits for no outage.
   */
  async shutdown(limitMs = 5000): Promise<void> {
    this.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.checkpointNow().catch((e) =>
        log.warn("no checkpoint of the job index at shutdown", {
          error: String(e),
        })
      ),
      new Promise((r) => timer = setTimeout(r, limitMs)),
    ]);
    clearTimeout(timer);
  }

  /** A checkpoint now, if on duty and anything changed since the last. */
  async checkpointNow(): Promise<boolean> {
    if (this.#busy || !this.#d.onDuty()) return false;
    this.#busy = true;
    try {
      return await this.#checkpoint(true);
    } finally {
      this.#busy = false;
    }
  }

  /** One round, if this controller is on duty and none is under way. */
  async round(): Promise<RoundReport | undefined> {
    if (this.#busy) return undefined;
    if (!this.#d.onDuty()) {
      this.#forgetMarkers();
      return undefined;
    }
    this.#busy = true;
    try {
      const removed = await this.#expire();
      const checkpoint = await this.#checkpoint();
      const erased = await this.#eraseMarkers();
      return { removed, erased, checkpoint };
    } finally {
      this.#busy = false;
    }
  }

  async #expire(): Promise<number> {
    const { store, claims, clock } = this.#d;
    const { maxAgeMs, maxJobs, batch } = this.#c;
    const due = store.index.expired(clock.now() - maxAgeMs, maxJobs, batch);
    let removed = 0;
    await each(due, async ([id, e]) => {
      // Claims first: a record left without them is still removed next
      // round; claims left without their record would stay.
      await claims.forget(id, e.epoch);
      try {
        await store.remove(id, e.rev);
        removed++;
      } catch (err) {
        // Changed since the index saw it: looked at again next round.
        if (!String(err).includes("wrong last sequence")) throw err;
      }
    });
    if (removed > 0) {
      log.info("removed finished jobs past the history limits", {
        jobs: removed,
        max_jobs: maxJobs,
        max_age_h: Math.round(maxAgeMs / 3_600_000),
      });
    }
    return removed;
  }

  async #checkpoint(force = false): Promise<boolean> {
    const { store, checkpoints, clock } = this.#d;
    if (!checkpoints) return false;
    const now = clock.now();
    const changed = store.applied - this.#last.rev;
    if (
      changed <= 0 ||
      (!force && changed < this.#c.checkpointRevs &&
        now - this.#last.at < this.#c.checkpointMs)
    ) return false;
    const cp = store.checkpoint(await this.#d.bucketCreated());
    await checkpoints.write(cp);
    this.#last = { rev: cp.rev, at: now };
    return true;
  }

  /**
   * Off duty, markers are kept a while only, in case duty comes here: the
   * controller on duty erases them meanwhile. (One it could not, stopped
   * in the minutes it waits, stays in the bucket: a hundred bytes.)
   */
  #forgetMarkers(): void {
    const { store, clock } = this.#d;
    const before = clock.now() - 1.5 * this.#c.markerAgeMs;
    for (const [id, m] of store.index.markers) {
      if (m.at < before) store.index.markers.delete(id);
    }
  }

  /** Markers old enough and behind the last checkpoint written here. */
  async #eraseMarkers(): Promise<number> {
    const { store, clock } = this.#d;
    const before = clock.now() - this.#c.markerAgeMs;
    const old: string[] = [];
    for (const [id, m] of store.index.markers) {
      if (old.length >= this.#c.batch) break;
      if (m.at < before && m.rev <= this.#last.rev) old.push(id);
    }
    await each(old, (id) => store.erase(id));
    return old.length;
  }
}

/**
 * Whether this controller sweeps: the live one with the lowest id does,
 * while its own heartbeat gets through. Two that both think so for a
 * moment do no harm: a removal is conditional on the record's revision.
 */
export function onDuty(
  peers: Pick<PeerView, "id" | "alive" | "lastBeatOk" | "staleMs"> & {
    all: ReadonlyMap<string, unknown>;
  },
  now: number,
): boolean {
  if (!holdsLease(now, peers.lastBeatOk, peers.staleMs)) return false;
  for (const id of peers.all.keys()) {
    if (id < peers.id && peers.alive(id, now)) return false;
  }
  return true;
}

/** `fn` over `items`, PARALLEL at once; the first failure is thrown once all settled. */
async function each<T>(
  items: readonly T[],
  fn: (t: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      try {
        await fn(items[next++]!);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, items.length) }, worker),
  );
  if (failed !== undefined) throw failed;
}
