/**
 * Remembers which attempts this worker has taken, so a command delivered
 * twice (live and by catch-up, or re-sent by the controller) runs once.
 * Bounded: the oldest keys are forgotten first.
 */
export class Ledger {
  #keys = new Set<string>();
  constructor(readonly capacity = 50_000) {}

  static key(job: string, step: number, attempt: number): string {
    return `${job}/${step}/${attempt}`;
  }

  static keyOf(a: { job: string; step: number; attempt: number }): string {
    return Ledger.key(a.job, a.step, a.attempt);
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  add(key: string): void {
    this.#keys.add(key);
    if (this.#keys.size > this.capacity) {
      this.#keys.delete(this.#keys.values().next().value!);
    }
  }
}
