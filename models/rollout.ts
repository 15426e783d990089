/**
 * A job's rollout: its nodes run the whole job batch by batch, an optional
 * canary batch first that waits for approval, an optional wait between
 * batches, and a failure budget past which no new batch starts.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";

const PERCENT_RE = /^(\d{1,3}(?:\.\d+)?)%$/;

/** The most nodes a count may name: far past any fleet, short of overflow. */
const MAX_COUNT = 1_000_000;

/** A count of nodes, or a share of them written "10%". */
export type Amount = number | string;

/**
 * A count (at least `min`) or a percentage (above 0 when `min` is 1, else
 * from 0) up to 100%. Kept as written: the record shows the spec as sent.
 */
function amount(min: 0 | 1) {
  const what = min === 1
    ? 'a whole number of nodes (at least 1) or a percentage such as "10%"'
    : 'a whole number of nodes (0 or more) or a percentage such as "5%"';
  return z.union([z.number(), z.string()], { error: `must be ${what}` })
    .superRefine((v, ctx) => {
      const bad = (message: string) =>
        ctx.addIssue({ code: "custom", message });
      if (typeof v === "number") {
        if (!Number.isInteger(v) || v < min || v > MAX_COUNT) {
          bad(`must be ${what}, got ${v}`);
        }
        return;
      }
      const pct = percentOf(v);
      if (pct === undefined) return bad(`must be ${what}, got "${v}"`);
      if (pct > 100 || (min === 1 && pct === 0)) {
        bad(
          `must be a percentage ${
            min === 1 ? "above 0" : "from 0"
          }% up to 100%, got "${v}"`,
        );
      }
    });
}

/** The number in "12.5%", or undefined when the text is not a percentage. */
export function percentOf(text: string): number | undefined {
  const m = PERCENT_RE.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}

/** The longest wait between batches: a day, like a task timeout. */
export const MAX_PAUSE_MS = 24 * 3_600_000;

export const Rollout = z.object({
  /** Nodes per batch, after the canary. */
  batch: amount(1),
  /** Nodes in a first batch that waits for `gridc job resume` once done. */
  canary: z.number({ error: "must be a whole number of nodes (at least 1)" })
    .int("must be a whole number of nodes (at least 1)")
    .min(1, "must be at least 1 node")
    .max(MAX_COUNT, `must be at most ${MAX_COUNT}`)
    .optional(),
  /** Wait between one batch's end and the next one's start. */
  pause: z.string({ error: 'must be a duration such as "30s"' }).superRefine(
    (s, ctx) => {
      const ms = parseDuration(s);
      if (ms === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `must be a duration such as "30s" or "5m", got "${s}"`,
        });
      } else if (ms > MAX_PAUSE_MS) {
        ctx.addIssue({
          code: "custom",
          message: `must be at most 24h, got "${s}"`,
        });
      }
    },
  ).optional(),
  /** Nodes that may fail across the job before no new batch starts. */
  max_failures: amount(0).optional(),
}).strict();
export type Rollout = z.infer<typeof Rollout>;

/**
 * Rules between a rollout and the rest of the job. Under fail-fast the
 * first failure ends the rollout, so a budget there would be a setting
 * that does nothing: it is refused rather than silently ignored.
 */
export function checkRollout(
  job: { strategy: string; rollout?: Rollout },
  ctx: z.RefinementCtx,
): void {
  if (job.rollout?.max_failures !== undefined && job.strategy !== "continue") {
    ctx.addIssue({
      code: "custom",
      path: ["rollout", "max_failures"],
      message:
        'needs strategy "continue": under fail-fast the first failure already stops the rollout',
    });
  }
}

/** Where a rollout stands: kept on the job record and shown by `GET /job/:id`. */
export const RolloutStatus = z.object({
  /** The batch running or last run, from 1. */
  batch: z.number().int(),
  batches: z.number().int(),
  /** Waiting for `job resume` before the next batch. */
  paused: z.boolean().optional(),
  /** Waiting out `pause`: the next batch starts then. */
  next_at: z.string().optional(),
  /** Why no further batch runs. */
  stopped: z.string().optional(),
  /** Nodes failed so far, and how many may fail (absent: any number). */
  failed: z.number().int().optional(),
  max_failures: z.number().int().optional(),
  /** Per batch, from the job's log (views only). */
  progress: z.array(z.object({
    nodes: z.number().int(),
    done: z.number().int(),
    failed: z.number().int(),
    pending: z.number().int(),
  })).optional(),
});
export type RolloutStatus = z.infer<typeof RolloutStatus>;
