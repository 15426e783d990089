/**
 * Formatting shared by the terminal table and docs/BENCHMARKS.md: ratios,
 * MiB, verdicts, Markdown tables, and the barrier table both print.
 */
import { ms } from "./lib.ts";
import type { BenchResults } from "./results.ts";

export const x = (a: number, b: number) => a / b;
export const fx = (v: number) => Number.isFinite(v) ? `${v.toFixed(2)}×` : "–";
export const mib = (v: number) => Number.isFinite(v) ? v.toFixed(0) : "–";

export const verdict = (ok: boolean | undefined) =>
  ok === undefined ? "–" : ok ? "holds" : "MISSED";

/** Markdown table rows (also readable as plain text). */
export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join(
    "\n",
  );
}

export function barrierRows(R: BenchResults): (string | number)[][] {
  return R.barrier.map((b) => [
    b.n,
    `${ms(b.raw.cycle.p50)} / ${ms(b.raw.cycle.p99)}`,
    `${ms(b.grid.cycle.p50)} / ${ms(b.grid.cycle.p99)}`,
    fx(x(b.grid.cycle.p50, b.raw.cycle.p50)),
    `${(b.grid.connectMs / 1000).toFixed(2)} s`,
    `${(b.grid.regMs / 1000).toFixed(2)} s`,
    `${b.raw.cpu.srv.toFixed(0)}/${b.raw.cpu.ctl.toFixed(0)}/${
      b.raw.cpu.wrk.toFixed(0)
    }`,
    `${b.grid.cpu.srv.toFixed(0)}/${b.grid.cpu.ctl.toFixed(0)}/${
      b.grid.cpu.wrk.toFixed(0)
    }`,
    mib(b.grid.ctlRssMax),
    mib(b.grid.natsRssMax),
    `${b.raw.foreignPct.toFixed(0)} / ${b.grid.foreignPct.toFixed(0)}`,
  ]);
}

export const BARRIER_HEAD = [
  "N",
  "raw (b) p50 / p99 ms",
  "GRID p50 / p99 ms",
  "GRID / raw p50",
  "connected",
  "registered",
  "raw CPU ms/step srv/ctl/wrk",
  "GRID CPU ms/step srv/ctl/wrk",
  "ctl RSS MiB (peak)",
  "nats RSS MiB (peak)",
  "other load % raw / GRID",
];

export const ACCOUNTS_HEAD = [
  "N",
  "WORKERS users p50 / p99 ms",
  "GRID users p50 / p99 ms",
  "WORKERS / GRID p50",
  "srv CPU ms/step WORKERS / GRID",
  "raw workers' CPU ms/step WORKERS / GRID",
  "other load % WORKERS / GRID",
];

export function accountsRows(R: BenchResults): (string | number)[][] {
  const c = (v: number) => v.toFixed(v < 10 ? 2 : 0);
  return (R.accounts ?? []).map(({ n, workers: w, grid: g }) => [
    n,
    `${ms(w.cycle.p50)} / ${ms(w.cycle.p99)}`,
    `${ms(g.cycle.p50)} / ${ms(g.cycle.p99)}`,
    fx(x(w.cycle.p50, g.cycle.p50)),
    `${c(w.cpu.srv)} / ${c(g.cpu.srv)}`,
    `${c(w.cpu.wrk)} / ${c(g.cpu.wrk)}`,
    `${w.foreignPct.toFixed(0)} / ${g.foreignPct.toFixed(0)}`,
  ]);
}
