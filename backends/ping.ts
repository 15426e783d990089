/**
 * The `ping` backend: proves a worker is alive and taking tasks, without
 * starting any process, so it works under the tightest permissions.
 */
import { z } from "zod";
import { formatDuration } from "../models/duration.ts";
import { sleep } from "./abort.ts";
import { duration, text } from "./params.ts";
import { type BackendDef, defineAction } from "./types.ts";

/** Makes the `ping` backend (echo, hostname, sleep). */
export function pingBackend(): BackendDef {
  return {
    name: "ping",
    actions: {
      echo: defineAction({
        params: z.strictObject({ message: text().default("pong") }),
        run: (p) => Promise.resolve({ output: p.message }),
      }),
      hostname: defineAction({
        params: z.strictObject({}),
        run: (_p, ctx) => Promise.resolve({ output: ctx.hostname }),
      }),
      sleep: defineAction({
        params: z.strictObject({ duration: duration() }),
        run: async (p, ctx) => {
          await sleep(p.duration, ctx.signal);
          return { output: `slept ${formatDuration(p.duration)}` };
        },
      }),
    },
  };
}
