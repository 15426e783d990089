/**
 * `deno task bench`: GRID against raw NATS baselines, in one invocation, on
 * one nats-server (the controller's own). Prints a table; a full run also
 * writes docs/BENCHMARKS.md.
 *
 *   deno task bench                       the full run (about 9 minutes on 2 cores)
 *   deno task bench --sizes=100,1000      other barrier sizes (simulated workers)
 *   deno task bench --only=step,barrier   some parts: step,overhead,throughput,barrier,streaming,rollout,history,accounts
 *   deno task bench:smoke                 50 workers, 50 jobs, 20 steps, history 200 (CI)
 *   deno task bench --profile=DIR         + CPU profiles of the controller (skews timings)
 *   deno task bench --hold                keep the cluster up at the end until Ctrl-C
 *
 * Also: --steps=N --overhead-jobs=N --jobs=N --barrier-steps=N --history=N
 *   --history-seed=api|direct (direct: finished jobs written straight into the store, fast)
 * --sim-procs=N --stream-workers=N --stream-steps=N --rollout-workers=N
 * --rollout-rounds=N --out=FILE, and
 * --raw-ack=inbox: the raw workers take their JetStream acks on one inbox
 * subscription instead of one request each.
 * Only a full run (no --smoke, no --only) writes docs/BENCHMARKS.md unless
 * --out names a file.
 *
 * NATS requires credentials: the bench and its raw publisher are users of
 * the GRID account (as a controller is); every simulated worker is
 * enrolled through the API first (setup, reported apart from the figures),
 * and the raw baseline's workers are WORKERS users of their own (raw.ts).
 *
 * A benchmark, not a test: it prints figures and ratios and asserts no
 * timing. It fails only when something does not work (a job fails, workers
 * do not register). Every process and temp dir it starts is removed on exit,
 * error, Ctrl-C or SIGTERM; simulated workers also exit if the bench dies.
 *
 * One file per benchmark (step, overhead, throughput, barrier, streaming,
 * rollout, history), on what env.ts starts; report.ts and table.ts print what they
 * measured.
 */
import { ROOT } from "../testing/mod.ts";
import { benchAccounts } from "./accounts.ts";
import { benchBarrier } from "./barrier.ts";
import { controllerConnection, startCluster } from "./env.ts";
import { benchHistory } from "./history.ts";
import {
  cleanupAll,
  cpuMs,
  exitOnSignals,
  log,
  memMiB,
  onCleanup,
} from "./lib.ts";
import { machine } from "./machine.ts";
import { CONTROLLER, parseOptions } from "./options.ts";
import { benchOverhead } from "./overhead.ts";
import { RawBench } from "./raw.ts";
import { renderMarkdown } from "./report.ts";
import { benchRollout } from "./rollout.ts";
import type { BenchResults } from "./results.ts";
import { benchStep } from "./step.ts";
import { benchStreaming } from "./streaming.ts";
import { renderTable } from "./table.ts";
import { checkTargets } from "./targets.ts";
import { benchThroughput } from "./throughput.ts";

async function main(): Promise<void> {
  const opts = await parseOptions(Deno.args);
  exitOnSignals();
  const command = `deno task bench${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }`;
  const R: BenchResults = {
    command,
    options: {
      sizes: opts.sizes,
      steps: opts.steps,
      stepWarmup: opts.stepWarmup,
      overheadJobs: opts.overheadJobs,
      jobs: opts.jobs,
      tputWorkers: opts.tputWorkers,
      barrierSteps: opts.barrierSteps,
      barrierWarmup: opts.barrierWarmup,
      history: opts.history,
      simProcs: opts.simProcs,
      rawAck: opts.rawAck,
      smoke: opts.smoke,
      profile: opts.profile !== undefined,
      controller: CONTROLLER,
    },
    machine: await machine(),
    barrier: [],
    profiles: [],
  } as unknown as BenchResults;
  const started = performance.now();
  try {
    log(`starting a controller (with its nats-server) and one real worker`);
    const env = await startCluster(opts);
    // The raw publisher gets its own connection, made like the controller's.
    const rawNc = await controllerConnection(env, "bench-raw");
    onCleanup(() => rawNc.close().catch(() => {}));
    const raw = await RawBench.open(rawNc);
    onCleanup(() => raw.close().catch(() => {}));
    if (opts.only.has("step")) await benchStep(env, raw, R);
    if (opts.only.has("overhead")) await benchOverhead(env, R);
    if (opts.only.has("throughput")) await benchThroughput(env, R);
    if (opts.only.has("barrier")) {
      for (const n of opts.sizes) await benchBarrier(env, raw, n, R);
    }
    if (opts.only.has("streaming")) await benchStreaming(env, R);
    if (opts.only.has("rollout")) await benchRollout(env, R);
    if (opts.only.has("history")) await benchHistory(env, R);
    if (opts.only.has("accounts")) await benchAccounts(env, raw, R);
    R.final = {
      ctlRss: memMiB(env.ctlPid).rss,
      ctlHwm: memMiB(env.ctlPid).hwm,
      natsRss: memMiB(env.natsPid).rss,
      natsHwm: memMiB(env.natsPid).hwm,
      ctlCpuMs: cpuMs(env.ctlPid),
    };
    R.elapsedSec = (performance.now() - started) / 1000;
    reportWarnings(env.cluster.controller?.log ?? []);
    if (opts.hold) {
      log(
        `holding (Ctrl-C to stop): API ${env.cluster.api}, NATS ${env.cluster.natsUrl}`,
      );
      // The signal handler cleans up and exits.
      await new Promise(() => setInterval(() => {}, 60_000));
    }
    R.targets = checkTargets(R);
    console.log(renderTable(R));
    if (opts.out) {
      const file = opts.out.startsWith("/") ? opts.out : `${ROOT}/${opts.out}`;
      await Deno.writeTextFile(file, renderMarkdown(R));
      // The repo's `deno fmt --check` covers docs/: write it formatted.
      await new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", file],
        cwd: ROOT,
      }).output();
      log(`wrote ${opts.out}`);
    } else {
      renderMarkdown(R); // keep the report code exercised in smoke runs
    }
  } finally {
    log("stopping every process the bench started");
    await cleanupAll();
  }
}

/** The controller's warnings and errors, which no figure shows, by kind. */
function reportWarnings(lines: string[]): void {
  const kinds = new Map<string, { n: number; first: string }>();
  for (const l of lines) {
    // `time LEVEL component: message key=value…`; nats-server's own lines
    // carry their text after the level too.
    const m = / (WARN|ERROR) ([^:]+: [^=]*?)( \S+=|$)/.exec(l);
    if (!m) continue;
    const kind = `${m[1]} ${m[2]!.replace(/\d+/g, "#")}`;
    const k = kinds.get(kind);
    if (k) k.n++;
    else kinds.set(kind, { n: 1, first: l });
  }
  if (kinds.size === 0) return;
  log(
    `the controller logged warnings or errors:\n${
      [...kinds.values()].map((k) => `${k.n} × ${k.first}`).join("\n")
    }`,
  );
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    await cleanupAll();
    Deno.exit(1);
  }
}
