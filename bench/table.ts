/** The plain table the bench prints at the end of every run. */
import { ms } from "./lib.ts";
import {
  ACCOUNTS_HEAD,
  accountsRows,
  BARRIER_HEAD,
  barrierRows,
  mib,
  table,
  verdict,
} from "./format.ts";
import type { BenchResults } from "./results.ts";
import { streamingLine } from "./report_streaming.ts";
import { rolloutLine } from "./report_rollout.ts";

export function renderTable(R: BenchResults): string {
  const out: string[] = [""];
  if (R.targets?.length) {
    out.push(
      table(
        ["target", "limit", "measured", "verdict"],
        R.targets.map((t) => [t.what, t.target, t.measured, verdict(t.ok)]),
      ),
    );
    out.push("");
  }
  if (R.rawStep && R.gridStep) {
    out.push(table(["single-node step (ms)", "p50", "p99", "min", "max"], [
      [
        "raw step (a)",
        ms(R.rawStep.cycle.p50),
        ms(R.rawStep.cycle.p99),
        ms(R.rawStep.cycle.min),
        ms(R.rawStep.cycle.max),
      ],
      [
        "GRID step in one job",
        ms(R.gridStep.cycle.p50),
        ms(R.gridStep.cycle.p99),
        ms(R.gridStep.cycle.min),
        ms(R.gridStep.cycle.max),
      ],
      ...(R.overhead
        ? [[
          "GRID single-step job (POST → completed)",
          ms(R.overhead.total.p50),
          ms(R.overhead.total.p99),
          ms(R.overhead.total.min),
          ms(R.overhead.total.max),
        ]]
        : []),
    ]));
    out.push("");
  }
  if (R.barrier.length) {
    out.push(table(BARRIER_HEAD, barrierRows(R)));
    out.push("");
  }
  if (R.accounts?.length) {
    out.push(table(ACCOUNTS_HEAD, accountsRows(R)));
    out.push("");
  }
  out.push(...streamingLine(R));
  out.push(...rolloutLine(R));
  if (R.throughput) {
    const t = R.throughput;
    out.push(
      `throughput: ${t.jobs} jobs to ${t.workers} workers in ${
        t.seconds.toFixed(2)
      } s = ${t.jobsPerSec.toFixed(0)} jobs/s (submit ${
        t.submitPerSec.toFixed(0)
      }/s, ${t.failed} failed)`,
    );
  }
  if (R.history) {
    const h = R.history;
    out.push(
      `history (${h.stored} finished jobs): GET /jobs p50 ${
        ms(h.list.p50)
      } p99 ${ms(h.list.p99)} ms; GET /job/:id p50 ${ms(h.one.p50)} p99 ${
        ms(h.one.p99)
      } ms`,
    );
    const r = h.restart;
    if (r) {
      out.push(
        `history, restarted: up in ${ms(r.startupMs)} ms, RSS ${
          mib(r.rss)
        } MiB (${mib(r.rssAfter)} after reads); GET /jobs p99 ${
          ms(r.list.p99)
        } ms; GET /job/:id p99 ${ms(r.one.p99)} ms`,
      );
    }
  }
  if (R.final) {
    out.push(
      `final RSS: controller ${mib(R.final.ctlRss)} MiB (peak ${
        mib(R.final.ctlHwm)
      }), nats-server ${mib(R.final.natsRss)} MiB (peak ${
        mib(R.final.natsHwm)
      })`,
    );
  }
  return out.join("\n");
}
