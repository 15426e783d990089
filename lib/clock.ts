/**
 * Time as an input: production uses the wall clock, tests a manual one.
 * Timers go through the clock too, so code that waits (re-sends, retries,
 * heartbeats) can be driven step by step in a unit test without sleeping.
 */

import { MAX_TIMER_MS, TimerQueue, type Timers } from "./timer_queue.ts";

/** Stops a timer; calling it again, or after the timer fired, does nothing. */
export type Cancel = () => void;

export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  after(ms: number, fn: () => void): Cancel;
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Cancel;
}

export { MAX_TIMER_MS, type Timers } from "./timer_queue.ts";

type HostTimer = ReturnType<typeof setTimeout>;

const hostTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (id) => clearTimeout(id as HostTimer),
};

/**
 * A wall clock on `timers`, for any delay, however long. Its one-shot
 * timers share one host timer (timer_queue.ts); `now` times them.
 */
export function wallClock(
  timers: Timers = hostTimers,
  monotonic?: () => number,
): Clock {
  const queue = new TimerQueue(timers, monotonic);
  const after = (ms: number, fn: () => void): Cancel => queue.add(ms, fn);
  return {
    now: () => Date.now(),
    after,
    every: (ms, fn) => {
      if (ms <= MAX_TIMER_MS) {
        const t = setInterval(fn, ms);
        return () => clearInterval(t);
      }
      let cancel: Cancel = () => {};
      let stopped = false;
      const tick = () => {
        cancel = after(ms, () => {
          if (stopped) return;
          tick();
          fn();
        });
      };
      tick();
      return () => {
        stopped = true;
        cancel();
      };
    },
  };
}

export const systemClock: Clock = wallClock();

/** Resolves after `ms` on `clock`, or at once when `signal` is aborted. */
export function sleep(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      cancel();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const cancel = clock.after(ms, done);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

interface Timer {
  at: number;
  id: number;
  fn: () => void;
  everyMs?: number;
}

/**
 * A clock that moves only when told. `advance` fires due timers in time
 * order (ties in the order they were set) and lets the promises they start
 * settle between firings, so an async chain a timer kicks off has run by the
 * time `advance` returns.
 */
export class ManualClock implements Clock {
  #now: number;
  #timers = new Map<number, Timer>();
  #nextId = 0;

  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): Cancel {
    return this.#add({ at: this.#now + Math.max(0, ms), fn });
  }

  every(ms: number, fn: () => void): Cancel {
    const everyMs = Math.max(1, ms);
    return this.#add({ at: this.#now + everyMs, fn, everyMs });
  }

  /** Timers set and not yet fired or cancelled. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#due(until);
      if (!next) break;
      this.#now = next.at;
      if (next.everyMs) next.at += next.everyMs;
      else this.#timers.delete(next.id);
      next.fn();
      await settle();
    }
    this.#now = until;
  }

  #add(t: Omit<Timer, "id">): Cancel {
    const id = this.#nextId++;
    this.#timers.set(id, { ...t, id });
    return () => this.#timers.delete(id);
  }

  #due(until: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.#timers.values()) {
      if (t.at > until) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) {
        best = t;
      }
    }
    return best;
  }
}

/**
 * Lets pending promise callbacks run. A real zero-delay timer, not a
 * microtask loop: a chain of awaits of any length finishes before it fires.
 */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
