/**
 * The `test` backend: deterministic successes, failures, waits and output
 * for exercising the scheduler, retries, timeouts and the output cap without
 * touching the machine.
 */
import { z } from "zod";
import { formatDuration } from "../models/duration.ts";
import { NODE_ID_RE } from "../models/names.ts";
import { sleep } from "./abort.ts";
import {
  described,
  duration,
  intText,
  reshaped,
  text,
  withRules,
} from "./params.ts";
import { ActionError, type BackendDef, defineAction } from "./types.ts";

export interface TestBackendOptions {
  /** Source of randomness for `flaky`, in [0, 1). @default Math.random */
  random?: () => number;
}

/** Largest text the `output` action will build, to keep a typo from eating memory. */
export const MAX_TEST_OUTPUT_BYTES = 16 * 1024 * 1024;

const nodeList = reshaped(
  described<string[]>({
    kind: "list",
    split: ",",
    trim: true,
    empty: "must list at least one node id",
    checks: [{
      pattern: NODE_ID_RE.source,
      message: "%s is not a valid node id",
    }],
  }),
  (ids) => new Set(ids),
);

const rate = described<number>({
  kind: "number",
  min: 0,
  max: 100,
  message: "must be a percentage from 0 to 100, got %s",
});

async function delay(ms: number | undefined, signal: AbortSignal) {
  if (ms !== undefined) await sleep(ms, signal);
}

/** Makes the `test` backend (succeed, fail, sleep, flaky, output, stream). */
export function testBackend(opts: TestBackendOptions = {}): BackendDef {
  const random = opts.random ?? Math.random;
  return {
    name: "test",
    actions: {
      succeed: defineAction({
        params: z.strictObject({
          message: text().default("ok"),
          delay: duration().optional(),
        }),
        run: async (p, ctx) => {
          await delay(p.delay, ctx.signal);
          return { output: p.message };
        },
      }),
      fail: defineAction({
        params: z.strictObject({
          message: text().default("intentional failure"),
          delay: duration().optional(),
          nodes: nodeList.optional(),
        }),
        run: async (p, ctx) => {
          await delay(p.delay, ctx.signal);
          if (p.nodes && !p.nodes.has(ctx.nodeId)) return { output: "ok" };
          throw new ActionError(p.message);
        },
      }),
      sleep: defineAction({
        params: z.strictObject({ duration: duration() }),
        run: async (p, ctx) => {
          await sleep(p.duration, ctx.signal);
          return { output: `slept ${formatDuration(p.duration)}` };
        },
      }),
      flaky: defineAction({
        params: z.strictObject({ rate: rate.default(50) }),
        run: (p) => {
          // random() < 1, so rate 100 always fails and rate 0 never does.
          const failed = random() * 100 < p.rate;
          const what = `flaky ${
            failed ? "failure" : "success"
          } (rate=${p.rate}%)`;
          return failed
            ? Promise.reject(new ActionError(what))
            : Promise.resolve({ output: what });
        },
      }),
      output: defineAction({
        params: withRules(
          z.strictObject({
            lines: intText(0, 10_000_000).default(10),
            width: intText(0, 1_000_000).default(80),
          }),
          [{
            kind: "product",
            of: [{ param: "lines" }, { param: "width", plus: 1 }],
            max: MAX_TEST_OUTPUT_BYTES,
            path: "lines",
            message:
              `lines × (width + 1) must be at most ${MAX_TEST_OUTPUT_BYTES} bytes`,
          }],
        ),
        run: (p) => Promise.resolve({ output: makeLines(p.lines, p.width) }),
      }),
      // Live output for tests and demos: a client can show it saw line 1
      // before the task ended.
      stream: defineAction({
        params: z.strictObject({
          lines: intText(1, 10_000).default(10),
          interval: duration().default(1000),
        }),
        run: async (p, ctx) => {
          const out: string[] = [];
          for (let i = 1; i <= p.lines; i++) {
            if (i > 1) await sleep(p.interval, ctx.signal);
            const line = `line ${i} of ${p.lines}`;
            out.push(line);
            ctx.output?.(`${line}\n`);
          }
          return { output: out.join("\n") };
        },
      }),
    },
  };
}

/**
 * `lines` lines of exactly `width` `x` characters joined by "\n", as the
 * reference's `test output` makes them: jobs written for it expect that.
 */
export function makeLines(lines: number, width: number): string {
  return Array.from({ length: lines }, () => "x".repeat(width)).join("\n");
}
