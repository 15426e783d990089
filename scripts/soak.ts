/**
 * Soak test (not in CI): three controllers whose nats-servers form one
 * JetStream cluster (replicas 3) and N workers take a steady stream of small
 * jobs while controllers, their nats-servers and workers are SIGKILLed at
 * random, JetStream loses its quorum (two of three servers down for a few
 * seconds) and workers run with clocks minutes off. At the end it stops the
 * faults, lets the queue drain, and counts
 *
 * - jobs lost: accepted with 202 but unknown (404) to a controller's API;
 * - jobs stuck: still pending or running, on any controller, after the drain;
 * - node results duplicated: one attempt of one step on one node started
 *   more than once, across every worker log (all incarnations);
 * - jobs failed while every node they targeted was up (an outage of the
 *   store or a skewed clock must not fail a job);
 *
 * each of which must be 0. It writes docs/SOAK.md and exits 1 if any is not.
 *
 *   deno task soak [--minutes=10] [--jobs-per-sec=5] [--workers=6] [--seed=S]
 *
 * Every process it starts, and its temp dir, is removed on exit and on Ctrl-C.
 * This file reads the flags and runs the phases; scripts/soak/ holds the
 * cluster and its bookkeeping (soak.ts), the job mix (jobs.ts), the faults,
 * the analysis of the end state and the logs, and the report.
 */
import { join } from "node:path";
import { ROOT, sleep } from "../testing/mod.ts";
import { analyse } from "./soak/analysis.ts";
import { codeVersion, loadavg, machine } from "./soak/env.ts";
import { faultLoop, heal } from "./soak/faults.ts";
import { submitLoop } from "./soak/jobs.ts";
import { tail } from "./soak/logs.ts";
import { report } from "./soak/report.ts";
import { Soak } from "./soak/soak.ts";
import type { Options } from "./soak/types.ts";
import { fmtSecs, say, t0, TERMINAL } from "./soak/util.ts";

const USAGE = `deno task soak [flags]

Three controllers (one JetStream cluster, replicas 3) and N workers run a
steady stream of small jobs while random SIGKILLs hit controllers, their
nats-servers and workers, JetStream loses its quorum for a few seconds, and
workers restart with clocks minutes off. Reports jobs lost, jobs stuck, node
results duplicated and jobs failed while all their nodes were up (each must
be 0) to docs/SOAK.md; exits 1 if any is not 0.

  --minutes=M          how long to submit jobs and inject faults (default 10)
  --jobs-per-sec=N     submission rate (default 5)
  --workers=N          workers (default 6)
  --seed=S             seed for the job mix and the faults (default: random)
  --fault-every=A-B    seconds between faults, uniform in [A, B] (default 20-40)
  --drain-seconds=S    how long the queue may take to drain at the end (default 600)
  --drain-idle-seconds=S  stop draining sooner once no job has finished for S (default 180)
  --no-faults          run the same load without faults (a baseline)
  --report=FILE        where to write the report (default docs/SOAK.md)
  --keep-logs          keep the temp dir with every process log (path printed)`;

function usageError(msg: string): never {
  console.error(`soak: ${msg}\n\n${USAGE}`);
  Deno.exit(3);
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    minutes: 10,
    jobsPerSec: 5,
    workers: 6,
    seed: (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0,
    faultEvery: [20, 40],
    drainSeconds: 600,
    drainIdleSeconds: 180,
    faults: true,
    report: join(ROOT, "docs", "SOAK.md"),
    keepLogs: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let value: string | undefined;
    const eq = flag.indexOf("=");
    if (eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const need = (): string => {
      if (value === undefined) value = argv[++i];
      if (value === undefined) usageError(`${flag} needs a value`);
      return value;
    };
    const num = (min: number, max: number, int = false): number => {
      const text = need();
      const n = Number(text);
      if (
        text.trim() === "" || !Number.isFinite(n) || n < min || n > max ||
        (int && !Number.isInteger(n))
      ) {
        usageError(
          `${flag}: want ${
            int ? "a whole number" : "a number"
          } from ${min} to ${max}, got "${text}"`,
        );
      }
      return n;
    };
    switch (flag) {
      case "-h":
      case "--help":
        console.log(USAGE);
        Deno.exit(0);
        break;
      case "--minutes":
        o.minutes = num(0.1, 24 * 60);
        break;
      case "--jobs-per-sec":
        o.jobsPerSec = num(0.05, 200);
        break;
      case "--workers":
        o.workers = num(1, 60, true);
        break;
      case "--seed":
        o.seed = num(0, 2 ** 32 - 1, true);
        break;
      case "--drain-seconds":
        o.drainSeconds = num(10, 3600);
        break;
      case "--drain-idle-seconds":
        o.drainIdleSeconds = num(10, 3600);
        break;
      case "--fault-every": {
        const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(need());
        if (!m || Number(m[1]) < 5 || Number(m[2]) < Number(m[1])) {
          usageError(`--fault-every: want A-B seconds with 5 <= A <= B`);
        }
        o.faultEvery = [Number(m[1]), Number(m[2])];
        break;
      }
      case "--no-faults":
        o.faults = false;
        break;
      case "--keep-logs":
        o.keepLogs = true;
        break;
      case "--report":
        o.report = need();
        break;
      default:
        usageError(`unknown flag "${flag}"`);
    }
  }
  return o;
}

// ---- main ----

async function main(): Promise<number> {
  const o = parseArgs(Deno.args);
  const command = `deno task soak${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }`;
  const started = new Date();
  const loadStart = loadavg();
  const codeStart = codeVersion();
  const soak = new Soak(o);
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say("interrupted: stopping everything");
    soak.cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    say(
      `soak: code ${codeStart}; ${o.minutes} min, ${o.jobsPerSec} jobs/s, ${o.workers} workers, seed ${o.seed}, faults ${
        o.faults ? `every ${o.faultEvery.join("-")} s` : "off"
      }`,
    );
    try {
      await soak.start();
    } catch (e) {
      console.error(`soak: start-up failed: ${e}`);
      for (const m of soak.controllers) console.error(tail(soak, m.name, 30));
      return 2;
    }
    const signal = soak.stopAll.signal;
    const submitStart = Date.now();
    const until = submitStart + o.minutes * 60_000;
    const faultStop = new AbortController();
    const faults = o.faults
      ? faultLoop(soak, faultStop.signal)
      : Promise.resolve();
    const submitting = submitLoop(soak, until, signal);
    const ticker = (async () => {
      let lastLine = 0;
      while (Date.now() < until && !signal.aborted) {
        await sleep(5000, signal);
        await soak.poll();
        if (Date.now() - lastLine >= 15_000) {
          lastLine = Date.now();
          say(soak.progress());
        }
      }
    })();
    await submitting;
    faultStop.abort();
    await faults;
    await ticker;
    const submitMs = Date.now() - submitStart;
    if (interrupted) return 130;
    say(`submissions and faults stopped; ${soak.progress()}`);

    // Bring back anything still down, then let the queue drain.
    await heal(soak);
    await soak.waitWorkersOnline(soak.workers.map((w) => w.id)).catch((e) =>
      soak.anomaly(`workers not all back before the drain: ${e}`)
    );
    const drainStart = Date.now();
    let drainNote = "deadline reached";
    let finished = -1;
    let progressAt = Date.now();
    let lastLine = 0;
    while (Date.now() - drainStart < o.drainSeconds * 1000 && !interrupted) {
      const seen = await soak.poll();
      if (
        seen &&
        [...soak.subs.keys()].every((id) => TERMINAL.has(seen.get(id) ?? ""))
      ) {
        drainNote = "";
        break;
      }
      const now = soak.counts().finished;
      if (now !== finished) {
        finished = now;
        progressAt = Date.now();
      } else if (Date.now() - progressAt >= o.drainIdleSeconds * 1000) {
        drainNote = `gave up: no job finished for ${
          fmtSecs(Date.now() - progressAt)
        }`;
        break;
      }
      if (Date.now() - lastLine >= 15_000) {
        lastLine = Date.now();
        say(`draining: ${soak.progress()}`);
      }
      await sleep(2000);
    }
    const drainMs = Date.now() - drainStart;
    soak.closeStall();
    say(
      drainNote === ""
        ? `drained in ${fmtSecs(drainMs)}`
        : `stopped draining after ${fmtSecs(drainMs)}: ${drainNote}`,
    );
    // Late duplicates (a stale command run after its job finished) show up here.
    await sleep(5000);
    const final = await analyse(soak, drainMs, drainNote);
    const totalMs = Date.now() - t0;
    const loadEnd = loadavg();
    await soak.stopProcesses();
    const text = report(soak, final, {
      command,
      started,
      submitMs,
      totalMs,
      machine: await machine(),
      loadStart,
      loadEnd,
      codeStart,
      codeEnd: codeVersion(),
    });
    await Deno.writeTextFile(o.report, text + "\n");
    // The report lives in the repo, whose CI checks formatting: format it.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", o.report],
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
    const bad = final.lost.length + final.stuck.length + final.dups.length +
      final.failedAlive.length;
    console.log(
      [
        "",
        `soak ${bad === 0 ? "PASSED" : "FAILED"} (seed ${o.seed}, ${
          fmtSecs(totalMs)
        })`,
        `  accepted jobs           ${soak.subs.size}`,
        `  final statuses          ${
          [...final.statuses].map(([s, n]) => `${s} ${n}`).join(", ")
        }`,
        `  faults injected         ${soak.faults.length}`,
        `  jobs lost               ${final.lost.length}`,
        `  jobs stuck              ${final.stuck.length}`,
        `  node results duplicated ${final.dups.length}`,
        `  failed, all nodes up    ${final.failedAlive.length}`,
        `  anomalies               ${soak.anomalies.length}`,
        `  report                  ${o.report}`,
      ].join("\n"),
    );
    return bad === 0 ? 0 : 1;
  } finally {
    await soak.cleanup();
  }
}

if (import.meta.main) Deno.exit(await main());
