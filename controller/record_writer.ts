/**
 * Writes the records of the jobs running here. Writes to one job are
 * chained, so each builds on the revision the last one made; step changes
 * are coalesced to one write a second.
 */
import { TERMINAL } from "../models/job.ts";
import type { Clock } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { Active } from "./active.ts";
import { type JobStore, StaleRecordError } from "./job_store.ts";

const log = logger("runner");

export interface RecordWriterDeps {
  store: JobStore;
  clock: Clock;
  /** Whether `a` is still the job running here. */
  isRunning(a: Active): boolean;
  /** Whether the stored record shows the job has moved on without us. */
  superseded(a: Active, stored: Active["record"]): boolean;
  /** Stops running a job another controller owns now. */
  fence(a: Active, owner: string | undefined): void;
}

export class RecordWriter {
  #d: RecordWriterDeps;
  #saves = new Map<string, Promise<unknown>>();

  constructor(deps: RecordWriterDeps) {
    this.#d = deps;
  }

  /** Writes the record within a second, once for any number of calls. */
  soon(a: Active): void {
    if (a.saveTimer !== undefined) return;
    a.saveTimer = this.#d.clock.after(1000, () => {
      a.saveTimer = undefined;
      if (this.#d.isRunning(a)) this.save(a);
    });
  }

  /** Whether a write of the job's record is under way. */
  writing(id: string): boolean {
    return this.#saves.has(id);
  }

  /** Waits for every write under way. */
  async flush(): Promise<void> {
    await Promise.allSettled(this.#saves.values());
  }

  save(a: Active): Promise<unknown> {
    const id = a.record.id;
    // Only top-level fields of a running job's record change (its lists are
    // replaced, never edited), so a shallow copy is a snapshot.
    const snapshot = { ...a.record };
    const prev = this.#saves.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.#write(a, snapshot));
    this.#saves.set(id, next);
    next.then(() => {
      if (this.#saves.get(id) === next) this.#saves.delete(id);
    });
    return next;
  }

  async #write(a: Active, snapshot: Active["record"]): Promise<void> {
    const { store } = this.#d;
    const id = snapshot.id;
    let rev = a.rev;
    for (let tries = 1;; tries++) {
      try {
        a.rev = (await store.update(snapshot, rev)).rev;
        return;
      } catch (e) {
        if (!(e instanceof StaleRecordError)) {
          log.error("saving a job record failed", {
            job: id,
            error: String(e),
          });
          return;
        }
        const cur = store.get(id);
        // A late write from an earlier epoch is overwritten; anything else
        // means the job has moved on without us. (A final record matters
        // most: dropped, the job would look running forever.)
        if (cur && tries < 5 && !this.#d.superseded(a, cur.rec)) {
          rev = cur.rev;
          continue;
        }
        if (this.#d.isRunning(a)) this.#d.fence(a, cur?.rec.owner);
        else if (
          TERMINAL.has(snapshot.status) &&
          !TERMINAL.has(cur?.rec.status ?? "pending")
        ) {
          log.warn("a finished job's record could not be written", {
            job: id,
            stored: cur?.rec.status ?? "(none)",
          });
        }
        return;
      }
    }
  }
}
