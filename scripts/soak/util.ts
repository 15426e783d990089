/** The soak's seeded randomness, its clock and how it prints times. */

export const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/** A seeded PRNG (mulberry32): same seed, same job mix and fault plan. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

export function between(rand: () => number, lo: number, hi: number): number {
  return lo + rand() * (hi - lo);
}

/** When the soak started: every time it prints is counted from here. */
export const t0 = Date.now();

export function since(at = Date.now()): string {
  return `+${((at - t0) / 1000).toFixed(1)}s`;
}

export function say(msg: string): void {
  console.log(`[${since()}] ${msg}`);
}

export function fmtSecs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60
    ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
    : `${s}s`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
