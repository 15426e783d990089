/**
 * The sections of docs/BENCHMARKS.md with each benchmark's figures, each
 * empty when that benchmark did not run.
 */
import { ms, type Stats } from "./lib.ts";
import {
  ACCOUNTS_HEAD,
  accountsRows,
  BARRIER_HEAD,
  barrierRows,
  fx,
  mib,
  table,
  x,
} from "./format.ts";
import { barrierSvg } from "./chart.ts";
import type { BenchResults } from "./results.ts";
import { ENROLL_CONCURRENCY } from "./sims.ts";

/** Single-node step against raw step (a), and the job overhead. */
export function stepSection(R: BenchResults): string[] {
  const s: string[] = [];
  if (R.rawStep && R.gridStep) {
    s.push(`## Single-node step`);
    s.push("");
    const st = (
      name: string,
      v: Stats,
    ) => [name, ms(v.p50), ms(v.p99), ms(v.min), ms(v.max), ms(v.mean)];
    const rows = [
      st("raw step (a)", R.rawStep.cycle),
      st("GRID: one step of a multi-step job", R.gridStep.cycle),
      st(
        "· of which controller (last result stored → next command stored)",
        R.gridStep.react,
      ),
      st(
        "· of which worker (command stored → result stored)",
        R.gridStep.worker,
      ),
    ];
    if (R.overhead) {
      rows.push(
        st(
          "GRID: a whole single-step job, POST → record `completed` (bench clock)",
          R.overhead.total,
        ),
      );
      rows.push(st("· of which POST /job answered", R.overhead.post));
    }
    s.push(table(["ms", "p50", "p99", "min", "max", "mean"], rows));
    s.push("");
    s.push(
      `Ratios: step p50 ${
        fx(x(R.gridStep.cycle.p50, R.rawStep.cycle.p50))
      }, p99 ${
        fx(x(R.gridStep.cycle.p99, R.rawStep.cycle.p99))
      } of the raw step` +
        (R.overhead
          ? `; a whole single-step job p50 ${
            fx(x(R.overhead.total.p50, R.rawStep.cycle.p50))
          } of a raw step (no target: job overhead, labelled separately).`
          : "."),
    );
    const c = R.gridStep.cpuPerStep;
    s.push(
      `CPU per GRID step: controller ${c.ctl.toFixed(2)} ms, nats-server ${
        c.srv.toFixed(2)
      } ms, worker ${c.wrk.toFixed(2)} ms. ` +
        `Other people's processes used ${
          R.rawStep.foreignPct.toFixed(0)
        }% of the machine during the raw steps and ` +
        `${R.gridStep.foreignPct.toFixed(0)}% during the GRID job.`,
    );
    s.push(
      `The raw step timed at the publisher (publish → result in): p50 ${
        ms(R.rawStep.direct.p50)
      } ms, p99 ${ms(R.rawStep.direct.p99)} ms.`,
    );
    s.push("");
  }
  return s;
}

/** Barrier fan-out against raw fan-out (b), with the chart. */
export function barrierSection(R: BenchResults): string[] {
  const s: string[] = [];
  if (R.barrier.length) {
    s.push(`## Barrier fan-out`);
    s.push("");
    s.push(table(BARRIER_HEAD, barrierRows(R)));
    s.push("");
    s.push(barrierSvg(R));
    s.push("");
    s.push(`Where GRID's barrier step goes (p50, ms; store timestamps):`);
    s.push("");
    s.push(table(
      [
        "N",
        "step",
        "controller reaction (last result k−1 → first command k)",
        "dispatch spread (first → last command k)",
        "tail (last command → last result k)",
        "controller idle CPU %",
        "nats idle CPU %",
        "ctl RSS MiB: peak registering / peak in job / after / peak in raw phases",
        "sim procs RSS MiB",
        "sim stop",
      ],
      R.barrier.map((b) => [
        b.n,
        ms(b.grid.cycle.p50),
        ms(b.grid.react.p50),
        ms(b.grid.spread.p50),
        ms(b.grid.tail.p50),
        b.grid.idlePct.ctl.toFixed(1),
        b.grid.idlePct.srv.toFixed(1),
        `${mib(b.grid.ctlRssReg)} / ${mib(b.grid.ctlRssJob)} / ${
          mib(b.grid.ctlRssAfter)
        } / ${mib(b.grid.ctlRssRaw)}`,
        b.grid.wrkRss.map(mib).join(" + "),
        b.grid.stopMs !== undefined
          ? `${(b.grid.stopMs / 1000).toFixed(1)} s`
          : "–",
      ]),
    ));
    s.push("");
    s.push(
      `Raw fan-out timed at the publisher: ` +
        R.barrier.map((b) => `N=${b.n} p50 ${ms(b.raw.direct.p50)} ms`).join(
          ", ",
        ) + ". " +
        `While the raw steps ran, the controller (which reads every GRID_RES entry and drops the raw ones) used ` +
        R.barrier.map((b) =>
          `${b.raw.gridCtlCpu.toFixed(b.raw.gridCtlCpu < 10 ? 1 : 0)} ms`
        ).join(", ") +
        ` of CPU per step (N = ${R.barrier.map((b) => b.n).join(", ")}).`,
    );
    s.push("");
    s.push(
      `Setup, not benchmarked: enrolling the simulated workers through \`POST /nodes/enroll\` (${ENROLL_CONCURRENCY} in flight) took ` +
        R.barrier.map((b) =>
          `${(b.setup.enrollMs / 1000).toFixed(1)} s for ${
            b.n.toLocaleString("en")
          } (${(b.n / (b.setup.enrollMs / 1000)).toFixed(0)}/s)`
        ).join(", ") +
        `; minting the raw workers' users ` +
        R.barrier.map((b) => `${(b.setup.mintMs / 1000).toFixed(2)} s`).join(
          ", ",
        ) +
        `; connecting them (after the GRID workers registered) ` +
        R.barrier.map((b) => `${(b.setup.rawConnectMs / 1000).toFixed(2)} s`)
          .join(", ") +
        ".",
    );
    s.push("");
  }
  return s;
}

/** The raw floor in WORKERS against the same in GRID alone. */
export function accountsSection(R: BenchResults): string[] {
  const s: string[] = [];
  if (R.accounts?.length) {
    s.push(`## What the credentials and the two accounts cost`);
    s.push("");
    s.push(
      `The raw baselines alone, their workers as WORKERS users (own subjects; commands and results cross GRID's ` +
        `exports: every other figure here is taken so) and as GRID users allowed everything (one account, nothing ` +
        `crossed or checked: how every client connected before NATS asked for credentials). Same run, interleaved ` +
        `WORKERS, GRID, GRID, WORKERS. N = 1 is raw step (a); the other rows are raw fan-out (b), one command per worker a step.`,
    );
    s.push("");
    s.push(table(ACCOUNTS_HEAD, accountsRows(R)));
    s.push("");
  }
  return s;
}

export function throughputSection(R: BenchResults): string[] {
  const s: string[] = [];
  if (R.throughput) {
    const t = R.throughput;
    s.push(`## Throughput`);
    s.push("");
    s.push(
      table([
        "jobs",
        "workers",
        "seconds",
        "jobs/s",
        "POST /job accepted/s",
        "429 retries",
        "failed",
        "CPU ms/job ctl/srv/wrk",
        "ctl RSS MiB (peak)",
      ], [[
        t.jobs,
        t.workers,
        t.seconds.toFixed(2),
        t.jobsPerSec.toFixed(0),
        t.submitPerSec.toFixed(0),
        t.retries429,
        t.failed,
        `${t.cpuMsPerJob.ctl.toFixed(2)}/${t.cpuMsPerJob.srv.toFixed(2)}/${
          t.cpuMsPerJob.wrk.toFixed(2)
        }`,
        mib(t.ctlRssMax),
      ]]),
    );
    s.push("");
  }
  return s;
}

/** Reads of a stored history through the API. */
export function historySection(R: BenchResults): string[] {
  const s: string[] = [];
  if (R.history) {
    const h = R.history;
    s.push(`## History`);
    s.push("");
    s.push(
      `${h.stored.toLocaleString("en")} finished jobs stored (${
        h.seeded.toLocaleString("en")
      } seeded in ${h.seedSec.toFixed(1)} s, ${
        h.seedJobsPerSec.toFixed(0)
      } jobs/s ${
        h.seedMode === "direct"
          ? "written straight into the store, copies of one real job"
          : "with 64 concurrent clients and 4 workers"
      }). Controller RSS afterwards: ${mib(h.ctlRss)} MiB.`,
    );
    s.push("");
    s.push(
      table(["request", "p50 ms", "p99 ms", "min", "max", "answer bytes"], [
        [
          "GET /jobs (first page, 50)",
          ms(h.list.p50),
          ms(h.list.p99),
          ms(h.list.min),
          ms(h.list.max),
          h.list.bytes,
        ],
        [
          "GET /job/:id (a random single-step job)",
          ms(h.one.p50),
          ms(h.one.p99),
          ms(h.one.min),
          ms(h.one.max),
          h.one.bytes,
        ],
        ...(h.bigJob
          ? [[
            `GET /job/:id of the ${h.bigJob.n}-node barrier job (${
              h.bigJob.results.toLocaleString("en")
            } results; one request)`,
            ms(h.bigJob.ms),
            "",
            "",
            "",
            h.bigJob.bytes,
          ]]
          : []),
      ]),
    );
    s.push("");
    const r = h.restart;
    if (r) {
      s.push(
        `Restarted on that store (SIGTERM, then started again): its API answered ${
          ms(r.startupMs)
        } ms after the process was spawned; controller RSS then ${
          mib(r.rss)
        } MiB, ${mib(r.rssAfter)} MiB after the reads below.`,
      );
      s.push("");
      s.push(
        table(
          ["request, after the restart", "p50 ms", "p99 ms", "min", "max"],
          [
            [
              "GET /jobs (first page, 50)",
              ms(r.list.p50),
              ms(r.list.p99),
              ms(r.list.min),
              ms(r.list.max),
            ],
            [
              "GET /job/:id (a random single-step job)",
              ms(r.one.p50),
              ms(r.one.p99),
              ms(r.one.min),
              ms(r.one.max),
            ],
          ],
        ),
      );
      s.push("");
    }
  }
  return s;
}

export function finalSection(R: BenchResults): string[] {
  const s: string[] = [];
  if (R.final) {
    s.push(
      `At the end: controller RSS ${mib(R.final.ctlRss)} MiB (peak ${
        mib(R.final.ctlHwm)
      }), nats-server RSS ${mib(R.final.natsRss)} MiB (peak ${
        mib(R.final.natsHwm)
      }).`,
    );
    s.push("");
  }
  return s;
}

/** One section for each controller CPU profile taken (--profile). */
export function profileSections(R: BenchResults): string[] {
  const s: string[] = [];
  for (const p of R.profiles) {
    s.push(`## Controller CPU profile: ${p.name}`);
    s.push("");
    const h = p.heap;
    s.push(
      `V8 heap at the end: ${mib(h.before.used)} MiB used of ${
        mib(h.before.total)
      } MiB (RSS ${mib(h.before.rss)}); ` +
        `after a forced GC ${mib(h.afterGc.used)} of ${
          mib(h.afterGc.total)
        } MiB (RSS ${mib(h.afterGc.rss)}).`,
    );
    s.push("");
    s.push(
      `${(p.totalMs / 1000).toFixed(1)} s profiled, ${
        ((p.totalMs - p.idleMs) / 1000).toFixed(1)
      } s busy. Self time, top functions:`,
    );
    s.push("");
    s.push(
      table(
        ["function", "ms", "% of busy"],
        p.byFunction.map((l) => [l.what, l.ms.toFixed(0), l.pct.toFixed(1)]),
      ),
    );
    s.push("");
  }
  return s;
}
