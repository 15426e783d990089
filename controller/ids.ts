/**
 * Job ids sort by creation time: 11 hex digits of milliseconds, then 5 of
 * a sequence that starts at a random point each millisecond, so ids made by
 * several controllers in the same millisecond rarely meet.
 */
export class JobIds {
  #last = { ms: 0, n: 0 };

  constructor(readonly random: () => number = Math.random) {}

  /** A new id at `now`, skipping any that `taken` says exist. */
  next(now: number, taken: (id: string) => boolean): string {
    if (now <= this.#last.ms) this.#last.n++;
    else this.#last = { ms: now, n: Math.floor(this.random() * 0x4000) };
    const id = this.#last.ms.toString(16).padStart(11, "0") +
      this.#last.n.toString(16).padStart(5, "0");
    return taken(id) ? this.next(now + 1, taken) : id;
  }
}
