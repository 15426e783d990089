/**
 * The bench's flags (see bench/main.ts, whose header `--help` prints) and
 * the controller settings every benchmark runs with.
 */
import { parseArgs } from "node:util";
import { openFileLimit } from "./machine.ts";

/** Open files nats-server needs beside its client connections (streams, listeners, logs). */
const FD_SLACK = 512;

export const CONTROLLER = {
  maxConcurrent: 50,
  maxPending: 20_000,
  offlineAfter: "120s",
  taskTimeout: "60s",
  heartbeat: "30000", // simulated workers, ms
};

export type Options = Awaited<ReturnType<typeof parseOptions>>;

/** The options `args` ask for; prints the help or a flag's error and exits. */
export async function parseOptions(args: string[]) {
  const { values: flags } = parseArgs({
    args,
    options: {
      smoke: { type: "boolean", default: false },
      sizes: { type: "string" },
      steps: { type: "string" },
      jobs: { type: "string" },
      "overhead-jobs": { type: "string" },
      "barrier-steps": { type: "string" },
      history: { type: "string" },
      "history-seed": { type: "string", default: "api" },
      "stream-workers": { type: "string" },
      "stream-steps": { type: "string" },
      "rollout-workers": { type: "string" },
      "rollout-rounds": { type: "string" },
      "sim-procs": { type: "string", default: "2" },
      out: { type: "string" },
      profile: { type: "string" },
      hold: { type: "boolean", default: false },
      "raw-ack": { type: "string", default: "request" },
      only: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (flags.help) {
    const main = new URL("./main.ts", import.meta.url);
    console.log((await Deno.readTextFile(main)).split("*/")[0]);
    Deno.exit(0);
  }
  const smoke = flags.smoke!;
  const num = (v: string | undefined, full: number, small: number) =>
    v === undefined ? (smoke ? small : full) : Number(v);
  const opts = {
    smoke,
    sizes: (flags.sizes ?? (smoke ? "50" : "100,1000,5000")).split(",").map(
      Number,
    ),
    steps: num(flags.steps, 500, 20),
    stepWarmup: smoke ? 5 : 50,
    overheadJobs: num(flags["overhead-jobs"], 500, 20),
    jobs: num(flags.jobs, 1000, 50),
    tputWorkers: 10,
    barrierSteps: num(flags["barrier-steps"], 30, 20),
    barrierWarmup: 3,
    history: num(flags.history, 10_000, 200),
    streamWorkers: num(flags["stream-workers"], 1000, 50),
    streamSteps: num(flags["stream-steps"], 3, 2),
    rolloutWorkers: num(flags["rollout-workers"], 1000, 50),
    rolloutRounds: num(flags["rollout-rounds"], 5, 2),
    httpSamples: smoke ? 20 : 200,
    simProcs: Number(flags["sim-procs"]),
    // Only a full run rewrites docs/BENCHMARKS.md unless --out says otherwise.
    out: flags.out ?? (smoke || flags.only ? undefined : "docs/BENCHMARKS.md"),
    profile: flags.profile,
    only: new Set(
      (flags.only ??
        "step,overhead,throughput,barrier,streaming,rollout,history,accounts")
        .split(","),
    ),
  };
  for (const [k, v] of Object.entries(opts)) {
    if (typeof v === "number" && !(v >= 0)) {
      console.error(`bad value for ${k}: ${v}`);
      Deno.exit(2);
    }
  }
  if (!["api", "direct"].includes(flags["history-seed"]!)) {
    console.error("--history-seed is api or direct");
    Deno.exit(2);
  }
  if (!["request", "inbox"].includes(flags["raw-ack"]!)) {
    console.error("--raw-ack is request or inbox");
    Deno.exit(2);
  }
  if (
    !(opts.rolloutWorkers >= 10) || opts.rolloutWorkers % 10 !== 0 ||
    !(opts.rolloutRounds >= 1)
  ) {
    // Ten batches of 10% split N evenly only when 10 divides it.
    console.error(
      "--rollout-workers takes a multiple of 10, --rollout-rounds at least 1",
    );
    Deno.exit(2);
  }
  if (opts.sizes.some((n) => !(n >= 1)) || !(opts.simProcs >= 1)) {
    console.error("--sizes and --sim-procs take whole numbers ≥ 1");
    Deno.exit(2);
  }
  // A barrier of N holds 2N connections at the one nats-server (each GRID
  // worker and its raw twin); past its open-file limit the last few never
  // connect, and the run waits for them for good (seen at 10,000 here).
  const files = openFileLimit();
  const tooBig = opts.sizes.filter((n) => 2 * n + FD_SLACK > files);
  if (tooBig.length > 0) {
    console.error(
      `--sizes=${tooBig.join(",")}: a barrier of N workers holds 2N ` +
        `connections at one nats-server (each GRID worker and its raw ` +
        `twin), more than the ${files} open files this machine allows ` +
        `(ulimit -n) with the server's own; the largest size here is ` +
        `${Math.floor((files - FD_SLACK) / 2)}`,
    );
    Deno.exit(2);
  }
  return {
    ...opts,
    rawAck: flags["raw-ack"]!,
    hold: flags.hold!,
    historySeed: flags["history-seed"] as "api" | "direct",
  };
}
