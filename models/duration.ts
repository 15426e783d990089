/**
 * Go-style duration strings ("500ms", "2s", "1m30s") to milliseconds and
 * back. Operators write durations the way Go, NATS and systemd tools do, so
 * GRID accepts the same grammar and prints the same shape.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** The range a duration setting may take, and how to say it. */
export interface DurationLimits {
  minMs: number;
  maxMs: number;
  /** e.g. "from 100ms to 24h". */
  text: string;
}

const HOUR_MS = 3_600_000;

/**
 * A task's timeout. Zero (or a few nanoseconds) would fail the task before
 * it starts; a day is more than any backend action should take, and well
 * inside what the worker's timers hold.
 */
export const TASK_TIMEOUT: DurationLimits = {
  minMs: 100,
  maxMs: 24 * HOUR_MS,
  text: "from 100ms to 24h",
};

/** A whole job's timeout: up to a week, well inside the 30 days results are kept. */
export const JOB_TIMEOUT: DurationLimits = {
  minMs: 1000,
  maxMs: 168 * HOUR_MS,
  text: "from 1s to 168h (7 days)",
};

/** Why `ms` is outside `limits`, or undefined when it is inside. */
export function outsideLimits(
  ms: number,
  limits: DurationLimits,
): string | undefined {
  return ms >= limits.minMs && ms <= limits.maxMs
    ? undefined
    : `must be ${limits.text}`;
}

/** Parses a Go duration string; returns undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  if (s === "" || s.startsWith("-") || s.startsWith("+")) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
  }
  return total;
}

/** Formats milliseconds the way Go prints a duration, e.g. "2.3s", "1m30s", "450ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "0s";
  // Round to the precision printed below first, so a round-up carries into
  // the next unit ("1m0s", not "60s" or "1m60s").
  if (ms < 1) ms = Math.round(ms * 1e6) / 1e6;
  if (ms >= 1 && ms < 1000) ms = Math.round(ms * 1000) / 1000;
  if (ms >= 1000) ms = Math.round(ms);
  if (ms < 1) return `${trim((ms * 1000).toFixed(3))}µs`;
  if (ms < 1000) return `${trim(ms.toFixed(3))}ms`;
  const totalSeconds = ms / 1000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds - h * 3600 - m * 60;
  const sec = `${trim(s.toFixed(3))}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}

function trim(fixed: string): string {
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}
