/**
 * The targets GRID is judged by: ratios against the raw baselines of the
 * same run, throughput, memory and read latency.
 */
import { ms } from "./lib.ts";
import { fx, mib, x } from "./format.ts";
import type { BenchResults, Target } from "./results.ts";
import { rolloutTarget } from "./report_rollout.ts";

export function checkTargets(R: BenchResults): Target[] {
  const out: Target[] = [];
  if (R.rawStep && R.gridStep) {
    const p50 = x(R.gridStep.cycle.p50, R.rawStep.cycle.p50);
    const p99 = x(R.gridStep.cycle.p99, R.rawStep.cycle.p99);
    out.push({
      what: "single-node step p50 vs raw step (a)",
      target: "≤ 2×",
      measured: `${ms(R.gridStep.cycle.p50)} / ${
        ms(R.rawStep.cycle.p50)
      } ms = ${fx(p50)}`,
      ok: p50 <= 2,
    });
    out.push({
      what: "single-node step p99 vs raw step (a)",
      target: "≤ 3×",
      measured: `${ms(R.gridStep.cycle.p99)} / ${
        ms(R.rawStep.cycle.p99)
      } ms = ${fx(p99)}`,
      ok: p99 <= 3,
    });
  }
  for (const [n, limit] of [[1000, 1.5], [5000, 2]] as const) {
    const b = R.barrier.find((b) => b.n === n);
    if (!b) continue;
    const r = x(b.grid.cycle.p50, b.raw.cycle.p50);
    out.push({
      what: `${n}-worker barrier step p50 vs raw fan-out (b)`,
      target: `≤ ${limit}×`,
      measured: `${ms(b.grid.cycle.p50)} / ${ms(b.raw.cycle.p50)} ms = ${
        fx(r)
      }`,
      ok: r <= limit,
    });
  }
  const st = R.streaming;
  if (st && st.n >= 1000) {
    const r = x(st.streaming.cycle.p50, st.quiet.cycle.p50);
    out.push({
      what:
        `${st.n}-worker step with each streaming ${st.rate} lines/s, p50 vs the same step quiet`,
      target: "≤ 1.25×",
      measured: `${ms(st.streaming.cycle.p50)} / ${
        ms(st.quiet.cycle.p50)
      } ms = ${fx(r)}`,
      ok: r <= 1.25,
    });
  }
  out.push(...rolloutTarget(R));
  if (R.throughput) {
    out.push({
      what: `throughput, ${R.throughput.jobs} single-step jobs via the API`,
      target: "≥ 300 jobs/s",
      measured: `${R.throughput.jobsPerSec.toFixed(0)} jobs/s`,
      ok: R.throughput.jobsPerSec >= 300 && R.throughput.failed === 0,
    });
  }
  const b5 = R.barrier.find((b) => b.n === 5000);
  if (b5) {
    out.push({
      what:
        "controller RSS at 5,000 workers (peak while registering + barrier job)",
      target: "≤ 200 MiB",
      measured: `${mib(b5.grid.ctlRssMax)} MiB`,
      ok: b5.grid.ctlRssMax <= 200,
    });
  }
  if (R.history) {
    const h = R.history;
    out.push({
      what: `GET /jobs first page, ${h.stored} finished jobs stored (p99)`,
      target: "≤ 50 ms",
      measured: `p50 ${ms(h.list.p50)} ms, p99 ${ms(h.list.p99)} ms`,
      ok: h.list.p99 <= 50,
    });
    out.push({
      what: `GET /job/:id, ${h.stored} finished jobs stored (p99)`,
      target: "≤ 20 ms",
      measured: `p50 ${ms(h.one.p50)} ms, p99 ${ms(h.one.p99)} ms`,
      ok: h.one.p99 <= 20,
    });
    out.push({
      what: `controller RSS, ${h.stored} finished jobs stored`,
      target: "≤ 250 MiB",
      measured: `${mib(h.ctlRss)} MiB${
        h.restart ? `; ${mib(h.restart.rssAfter)} MiB restarted` : ""
      }`,
      ok: Math.max(h.ctlRss, h.restart?.rssAfter ?? 0) <= 250,
    });
    if (h.restart) {
      out.push({
        what: `controller start-up, ${h.stored} finished jobs stored`,
        target: "≤ 5 s",
        measured: `${(h.restart.startupMs / 1000).toFixed(2)} s`,
        ok: h.restart.startupMs <= 5000,
      });
    }
  }
  return out;
}
