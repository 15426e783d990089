/**
 * Simulated workers (bench/sim_workers.ts) in child processes, and the
 * identities they connect with. A simulated GRID worker is enrolled
 * through the API (`POST /nodes/enroll`) like any node; its raw baseline
 * twin (raw.ts) is a WORKERS user minted from the cluster's keys by the
 * code enrollment uses (NatsTrust.worker: the same permissions, for its
 * own id), but not enrolled: it is no node, and the controller keeps
 * nothing for it. Creds go to the processes as files in a directory of
 * the cluster's, removed when they stop.
 */
import { join } from "node:path";
import { enrollTo } from "../testing/mod.ts";
import type { Env } from "./env.ts";
import { CONTROLLER } from "./options.ts";
import { EventProc, log, onCleanup, pool, rawId, simId } from "./lib.ts";

/** Enrollment requests in flight at once. */
export const ENROLL_CONCURRENCY = 32;

/**
 * "agent": GRID workers; "raw": raw baseline workers; "both": one of each
 * per index, on separate connections, in the same processes.
 */
export type SimMode = "agent" | "raw" | "both";

export interface SimGroup {
  procs: EventProc[];
  spawnedAt: number;
  /** GRID workers' node ids (none in "raw" mode). */
  ids: string[];
  /** Raw baseline workers' ids (none in "agent" mode). */
  rawIds: string[];
  /** Setup, not benchmarked: enrolling `ids`, minting `rawIds`, ms. */
  enrollMs?: number;
  mintMs?: number;
  /** Removes the creds directory. */
  removeCreds: () => Promise<void>;
}

/**
 * Enrolls or mints the identities, then spawns the processes. Raw workers
 * are WORKERS users unless `rawAccount` is "grid": users of the GRID
 * account allowed everything, as every client was before NATS asked for
 * credentials (accounts.ts compares the two).
 */
export async function startSims(
  env: Env,
  mode: SimMode,
  n: number,
  prefix: string,
  procs: number,
  rawAccount: "workers" | "grid" = "workers",
  /** More flags for sim_workers.ts (`--stream`). */
  simArgs: string[] = [],
): Promise<SimGroup> {
  const all = Array.from({ length: n }, (_, i) => simId(prefix, i));
  const ids = mode === "raw" ? [] : all;
  const rawIds = mode === "agent" ? [] : all.map(rawId);
  const dir = join(env.cluster.dir, `creds-${prefix}`);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const removeCreds = onCleanup(() =>
    Deno.remove(dir, { recursive: true }).catch(() => {})
  );
  const file = (id: string) => join(dir, `${id}.creds`);
  let enrollMs: number | undefined;
  if (ids.length) {
    const t0 = performance.now();
    await pool(ids, ENROLL_CONCURRENCY, async (id) => {
      await enrollTo(
        env.cluster.api,
        env.cluster.token,
        id,
        [prefix],
        file(id),
      );
    });
    enrollMs = performance.now() - t0;
  }
  let mintMs: number | undefined;
  if (rawIds.length) {
    const t0 = performance.now();
    for (const id of rawIds) {
      const { creds } = rawAccount === "grid"
        ? await env.trust.controller(id)
        : await env.trust.worker(id);
      await Deno.writeFile(file(id), creds, { mode: 0o600 });
    }
    mintMs = performance.now() - t0;
  }
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
        `--creds=${dir}`,
        `--heartbeat=${CONTROLLER.heartbeat}`,
        `--raw-ack=${env.opts.rawAck}`,
        `--url=${env.cluster.natsUrl}`,
        ...simArgs,
      ], { GRID_LOG: "warn" }),
    );
  }
  return {
    procs: out,
    spawnedAt,
    ids,
    rawIds,
    enrollMs,
    mintMs,
    removeCreds,
  };
}

/**
 * Waits for `event` from every sim process: "connected" (GRID workers'
 * connections up), "ready" (their agents started) or "raw" (raw workers
 * connected and subscribed). Returns ms since spawn.
 */
export async function simsReady(
  g: SimGroup,
  timeoutMs: number,
  event: "connected" | "ready" | "raw" = "ready",
): Promise<number> {
  let last = 0;
  await Promise.all(g.procs.map(async (p) => {
    await p.waitEvent((e) => e.event === event, timeoutMs);
    last = Math.max(last, performance.now() - g.spawnedAt);
  }));
  return last;
}

/** Stops them; says so when one printed anything (a refusal, a failed publish). */
export async function stopSims(g: SimGroup): Promise<void> {
  await Promise.all(g.procs.map((p) => p.stop()));
  await g.removeCreds();
  for (const p of g.procs) {
    if (p.stderr.length) {
      log(
        `${p.name} printed ${p.stderr.length} lines; the last:\n${p.tail(5)}`,
      );
    }
  }
}
