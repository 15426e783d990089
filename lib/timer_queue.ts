/**
 * Many one-shot timers on one host timer.
 *
 * A worker arms two timers per task (its timeout and its progress beat) and
 * cancels both a moment later. With Deno's Node-compatible timers, each
 * set-and-clear cost ~10% of a simulated worker's CPU in a 1,000-worker
 * barrier (docs/PERF-CHANGES.md). Here a timer is an entry in a binary heap
 * ordered by deadline, and only the earliest is armed on the host. Since
 * most deadlines come in later than the earliest, adding one is a push and
 * cancelling one is a flag: no host call at all.
 *
 * Cancelled entries stay in the heap until they reach its top or outnumber
 * the live ones, when the heap is rebuilt. With no live entry the host
 * timer is cleared, so a cancelled timer never keeps a process (or a
 * test's leak check) waiting. The gain is where many timers overlap: the
 * bench's simulated workers, hundreds in one process on one clock.
 */

/** Timer functions (setTimeout's), injectable to test the queue. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(id: unknown): void;
}

/**
 * The longest delay one host timer holds. setTimeout takes a 32-bit signed
 * delay: anything longer fires at once (a 600h task timeout would time the
 * task out immediately), so a later deadline is re-armed on the way.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

interface Entry {
  at: number;
  /** Order of adding: equal deadlines fire in the order they were set. */
  n: number;
  /** Cleared when the entry fires or is cancelled. */
  fn?: () => void;
}

/** Rebuild the heap once it holds this many more dead entries than live. */
const SLACK = 1024;

export class TimerQueue {
  #heap: Entry[] = [];
  #live = 0;
  #n = 0;
  #host: unknown;
  #hostAt = Infinity;

  constructor(
    readonly timers: Timers,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** Calls `fn` once, `ms` from now, unless the returned cancel runs first. */
  add(ms: number, fn: () => void): () => void {
    const e: Entry = { at: this.now() + Math.max(0, ms), n: this.#n++, fn };
    this.#push(e);
    this.#live++;
    if (e.at < this.#hostAt) this.#arm();
    return () => {
      if (!e.fn) return;
      e.fn = undefined;
      this.#dead();
    };
  }

  /** Live timers (for tests). */
  get size(): number {
    return this.#live;
  }

  /** Entries in the heap, cancelled ones too (for tests). */
  get held(): number {
    return this.#heap.length;
  }

  #dead(): void {
    this.#live--;
    if (this.#live === 0) this.#idle();
    else if (this.#heap.length > 2 * this.#live + SLACK) {
      const live = this.#heap.filter((x) => x.fn);
      this.#heap = [];
      for (const x of live) this.#push(x);
    }
  }

  #fire = (): void => {
    this.#host = undefined;
    this.#hostAt = Infinity;
    const t = this.now();
    const due: Entry[] = [];
    for (;;) {
      const top = this.#heap[0];
      if (!top || (top.fn && top.at > t)) break;
      this.#pop();
      if (top.fn) due.push(top);
    }
    this.#arm();
    // Each still live when its turn comes (one may cancel another, as with
    // setTimeouts); should one throw, the rest still run, then the first
    // error goes on up.
    let failed: { error: unknown } | undefined;
    for (const e of due) {
      const fn = e.fn;
      if (!fn) continue;
      e.fn = undefined;
      this.#dead();
      try {
        fn();
      } catch (error) {
        failed ??= { error };
      }
    }
    if (failed) throw failed.error;
  };

  /** Arms the host timer for the earliest live deadline. */
  #arm(): void {
    while (this.#heap[0] && !this.#heap[0].fn) this.#pop();
    const top = this.#heap[0];
    this.#disarm();
    if (!top) return;
    const wait = Math.min(
      Math.max(0, Math.ceil(top.at - this.now())),
      MAX_TIMER_MS,
    );
    this.#hostAt = top.at;
    this.#host = this.timers.set(this.#fire, wait);
  }

  /** Nothing is waited for: nothing stays armed. */
  #idle(): void {
    this.#heap = [];
    this.#disarm();
  }

  #disarm(): void {
    if (this.#host !== undefined) this.timers.clear(this.#host);
    this.#host = undefined;
    this.#hostAt = Infinity;
  }

  #push(e: Entry): void {
    const h = this.#heap;
    let i = h.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    for (let i = 0;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.n < b.n);
}
