/**
 * What a streaming step runs on a simulated worker: the `bench stream`
 * action writes `rate` lines a second for `duration`, through the same
 * `ctx.output` a real backend's task output takes, so the real worker code
 * (worker/output_stream.ts) gathers them into chunks (at most five flushes
 * a second) and publishes them as a gridw would. With `rate` 0 it only
 * waits: the same step, quiet.
 *
 * Its result says how much it wrote rather than holding the lines, so a
 * streaming step and a quiet one report results of the same size: the
 * difference between them is the streaming alone.
 */
import { z } from "zod";
import { sleep } from "../backends/abort.ts";
import { duration, intText } from "../backends/params.ts";
import { type BackendDef, defineAction } from "../backends/types.ts";

/** How often the action writes: the worker's flush interval, so each write is about one chunk. */
export const WRITE_EVERY_MS = 200;
/** Bytes per line, newline included: an `apt-get` progress line's length. */
export const LINE_BYTES = 64;

/** The `bench` backend the streaming part's simulated workers add. */
export function streamBackend(): BackendDef {
  return {
    name: "bench",
    actions: {
      stream: defineAction({
        params: z.strictObject({
          rate: intText(0, 100_000).default(100),
          duration: duration().default(2000),
        }),
        run: async (p, ctx) => {
          const ticks = Math.max(1, Math.round(p.duration / WRITE_EVERY_MS));
          const perTick = (p.rate * WRITE_EVERY_MS) / 1000;
          const t0 = Date.now();
          let lines = 0;
          for (let i = 1; i <= ticks; i++) {
            // Against the start, so a late timer does not stretch the step.
            await sleep(
              Math.max(0, t0 + i * WRITE_EVERY_MS - Date.now()),
              ctx.signal,
            );
            if (perTick === 0 || !ctx.output) continue;
            const n = Math.round(perTick * i) - Math.round(perTick * (i - 1));
            let text = "";
            for (let k = 0; k < n; k++) text += line(ctx.hostname, ++lines);
            ctx.output(text);
          }
          return { output: `streamed ${lines} lines` };
        },
      }),
    },
  };
}

function line(node: string, n: number): string {
  const head = `${node} line ${n} `;
  return head.padEnd(LINE_BYTES - 1, ".").slice(0, LINE_BYTES - 1) + "\n";
}

/** A job of `steps` top-level `bench stream` steps on `target`. */
export function streamJob(
  target: unknown,
  steps: number,
  rate: number,
  durationMs: number,
) {
  return {
    target,
    tasks: Array.from({ length: steps }, () => ({
      backend: "bench",
      action: "stream",
      params: { rate: String(rate), duration: `${durationMs}ms` },
    })),
  };
}
