/**
 * A finished job's results and commands read back from GRID_RES and
 * GRID_CMD, and the step times their store timestamps give: nothing
 * observes the run while it is timed.
 */
import {
  DeliverPolicy,
  type JetStreamClient,
  jetstreamManager,
} from "@nats-io/jetstream";
import { STREAM_COMMANDS, STREAM_RESULTS } from "../lib/topology.ts";
import type { Env } from "./env.ts";

const dec = new TextDecoder();

/**
 * Calls `fn` for each message of `stream` matching `filter` from `fromSeq`
 * on, up to `toSeq` (the end of the stream unless given).
 */
export async function readStream(
  js: JetStreamClient,
  stream: string,
  filter: string,
  fromSeq: number,
  fn: (subject: string, tsNs: bigint, data: Uint8Array) => void,
  toSeq = Infinity,
): Promise<number> {
  const c = await js.consumers.get(stream, {
    filter_subjects: filter,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSeq,
  });
  let pending = (await c.info(true)).num_pending;
  let n = 0;
  while (pending > 0) {
    const batch = await c.fetch({
      max_messages: Math.min(pending, 2000),
      expires: 5000,
    });
    let got = 0;
    for await (const m of batch) {
      got++;
      pending = m.info.pending;
      if (m.seq > toSeq) {
        pending = 0;
        continue;
      }
      n++;
      fn(m.subject, m.timestampNanos, m.data);
    }
    if (got === 0) break;
  }
  return n;
}

export async function lastSeq(env: Env, stream: string): Promise<number> {
  const jsm = await jetstreamManager(env.nc);
  return (await jsm.streams.info(stream)).state.last_seq;
}

interface StepTimes {
  /** Per step index: store time (ns) of its last result, first and last command. */
  lastRes: Map<number, bigint>;
  firstCmd: Map<number, bigint>;
  lastCmd: Map<number, bigint>;
  results: number;
  commands: number;
}

/**
 * Store timestamps of a job's results and commands, per step; its commands
 * are looked for in GRID_CMD from `cmdFrom` to `cmdTo`.
 */
export async function jobTimes(
  env: Env,
  job: string,
  cmdFrom: number,
  cmdFilter: string,
  cmdTo = Infinity,
): Promise<StepTimes> {
  const t: StepTimes = {
    lastRes: new Map(),
    firstCmd: new Map(),
    lastCmd: new Map(),
    results: 0,
    commands: 0,
  };
  t.results = await readStream(
    env.js,
    STREAM_RESULTS,
    `grid.res.${job}.>`,
    1,
    (subject, ts) => {
      const step = Number(subject.split(".")[3]);
      if (!((t.lastRes.get(step) ?? 0n) >= ts)) t.lastRes.set(step, ts);
    },
  );
  t.commands = await readStream(
    env.js,
    STREAM_COMMANDS,
    cmdFilter,
    cmdFrom,
    (_s, ts, data) => {
      const c = JSON.parse(dec.decode(data)) as {
        job: string;
        step: number;
        type: string;
      };
      if (c.job !== job || c.type !== "run") return;
      if (
        !((t.firstCmd.get(c.step) ?? BigInt(Number.MAX_SAFE_INTEGER) * 1000n) <=
          ts)
      ) {
        t.firstCmd.set(c.step, ts);
      }
      if (!((t.lastCmd.get(c.step) ?? 0n) >= ts)) t.lastCmd.set(c.step, ts);
    },
    cmdTo,
  );
  return t;
}

const nsMs = (a: bigint | undefined, b: bigint | undefined) =>
  a === undefined || b === undefined ? NaN : Number(a - b) / 1e6;

/** Cycle, controller-reaction, dispatch-spread and tail times of steps [from, to). */
export function stepSeries(t: StepTimes, from: number, to: number) {
  const cycle: number[] = [];
  const react: number[] = [];
  const spread: number[] = [];
  const tail: number[] = [];
  for (let k = Math.max(1, from); k < to; k++) {
    cycle.push(nsMs(t.lastRes.get(k), t.lastRes.get(k - 1)));
    react.push(nsMs(t.firstCmd.get(k), t.lastRes.get(k - 1)));
    spread.push(nsMs(t.lastCmd.get(k), t.firstCmd.get(k)));
    tail.push(nsMs(t.lastRes.get(k), t.lastCmd.get(k)));
  }
  return { cycle, react, spread, tail };
}
