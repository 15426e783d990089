/**
 * Simulated workers (bench/sim_workers.ts) in child processes: each one a
 * NATS connection carrying the raw baseline worker and a real `Agent`.
 */
import { EventProc, simId } from "./lib.ts";
import type { Env } from "./env.ts";
import { CONTROLLER } from "./options.ts";

export interface SimGroup {
  procs: EventProc[];
  spawnedAt: number;
  ids: string[];
}

export function spawnSims(
  env: Env,
  mode: "agent" | "raw",
  n: number,
  prefix: string,
  procs: number,
): SimGroup {
  const per = Math.ceil(n / procs);
  const out: EventProc[] = [];
  const spawnedAt = performance.now();
  for (let i = 0, offset = 0; offset < n; i++, offset += per) {
    out.push(
      new EventProc(`sim ${prefix}#${i}`, [
        "run",
        "-A",
        "bench/sim_workers.ts",
        `--mode=${mode}`,
        `--n=${Math.min(per, n - offset)}`,
        `--offset=${offset}`,
        `--prefix=${prefix}`,
        `--group=${prefix}`,
        `--heartbeat=${CONTROLLER.heartbeat}`,
        `--raw-ack=${env.opts.rawAck}`,
        `--url=${env.cluster.natsUrl}`,
      ], { GRID_LOG: "warn" }),
    );
  }
  return {
    procs: out,
    spawnedAt,
    ids: Array.from({ length: n }, (_, i) => simId(prefix, i)),
  };
}

/** Waits for `event` ("connected" or "ready") from every sim process; ms since spawn. */
export async function simsReady(
  g: SimGroup,
  timeoutMs: number,
  event = "ready",
): Promise<number> {
  let last = 0;
  await Promise.all(g.procs.map(async (p) => {
    await p.waitEvent((e) => e.event === event, timeoutMs);
    last = Math.max(last, performance.now() - g.spawnedAt);
  }));
  return last;
}

export async function stopSims(g: SimGroup): Promise<void> {
  await Promise.all(g.procs.map((p) => p.stop()));
}
