/**
 * The streaming part's figures (streaming.ts): a section of
 * docs/BENCHMARKS.md, a line of the terminal table, and how it runs.
 */
import { ms } from "./lib.ts";
import { fx, mib, table, x } from "./format.ts";
import type { BenchResults, StreamRun } from "./results.ts";

function row(name: string, r: StreamRun): (string | number)[] {
  return [
    name,
    `${ms(r.cycle.p50)} / ${ms(r.cycle.p99)}`,
    r.cpu.ctl.toFixed(0),
    r.ctlCpuPct.toFixed(0),
    r.cpu.srv.toFixed(0),
    r.cpu.wrk.toFixed(0),
    mib(r.ctlRssMax),
    mib(r.natsRssMax),
    r.foreignPct.toFixed(0),
  ];
}

/** "1,000 workers each streaming 100 lines/s during a 2 s step". */
function title(S: NonNullable<BenchResults["streaming"]>): string {
  return `${
    S.n.toLocaleString("en")
  } workers each streaming ${S.rate} lines/s during a ${
    S.stepMs / 1000
  } s step`;
}

export function streamingSection(R: BenchResults): string[] {
  const S = R.streaming;
  if (!S) return [];
  const q = S.quiet;
  const l = S.streaming;
  const rd = S.reader;
  return [
    `## Output streaming: ${title(S)}`,
    "",
    table([
      "",
      "step p50 / p99 ms",
      "ctl CPU ms/step",
      "ctl CPU % of a core",
      "srv CPU ms/step",
      "sims CPU ms/step",
      "ctl RSS MiB (peak)",
      "nats RSS MiB (peak)",
      "other load %",
    ], [
      row("the same step, quiet (before and after)", q),
      row(`streaming ${S.rate} lines/s, one client following`, l),
    ]),
    "",
    `Streaming step p50 ${fx(x(l.cycle.p50, q.cycle.p50))} of the quiet one; ` +
    `the controller used ${
      (l.cpu.ctl - q.cpu.ctl).toFixed(0)
    } ms more CPU a step and peaked at ${mib(l.ctlRssMax)} MiB RSS (${
      mib(q.ctlRssMax)
    } quiet). ` +
    `The workers wrote ${rd.sent.toLocaleString("en")} lines (${
      ((rd.sent * S.lineBytes) / 2 ** 20).toFixed(1)
    } MiB); the client following \`GET /job/:id/output\` got ${
      rd.lines.toLocaleString("en")
    } in ${rd.events.toLocaleString("en")} events, and was told of ${
      rd.skipped.toLocaleString("en")
    } skipped${
      rd.ended ? "" : " (its stream had not ended 30 s after the job)"
    }.`,
    "",
  ];
}

/** The terminal table's line. */
export function streamingLine(R: BenchResults): string[] {
  const S = R.streaming;
  if (!S) return [];
  const q = S.quiet;
  const l = S.streaming;
  return [
    `streaming (${title(S)}): step p50 ${ms(q.cycle.p50)} quiet, ${
      ms(l.cycle.p50)
    } streaming = ${fx(x(l.cycle.p50, q.cycle.p50))}; controller ${
      q.cpu.ctl.toFixed(0)
    } → ${l.cpu.ctl.toFixed(0)} ms CPU/step, RSS ${mib(q.ctlRssMax)} → ${
      mib(l.ctlRssMax)
    } MiB; reader ${S.reader.lines}/${S.reader.sent} lines, ${S.reader.skipped} skipped`,
  ];
}

/** The "How it runs" bullet. */
export function streamingHow(R: BenchResults): string[] {
  const S = R.streaming;
  if (!S) return [];
  return [
    `- Output streaming: ${S.n} simulated workers (as in the barrier, plus a bench-only \`bench stream\` action, bench/sim_stream.ts)`,
    `  run jobs of 1 + ${S.steps} top-level steps of ${
      S.stepMs / 1000
    } s each on all of them. Streaming, each writes ${S.rate} lines/s of ${S.lineBytes} bytes through the`,
    `  action's \`ctx.output\`, so the real worker code gathers them into chunks (at most 5 flushes/s) and publishes them`,
    `  to \`grid.out.<job>.<step>.<node>\` (GRID_OUT) as gridw does, while one client follows the whole job's output`,
    `  (\`GET /job/:id/output\`, SSE) from the bench process. Quiet, the same action only waits. Results are the same`,
    `  small size both ways, so the difference is the streaming. Quiet, streaming, quiet again; step times from store`,
    `  timestamps as for the barrier; CPU is per step, warm-up included; RSS sampled every 250 ms.`,
  ];
}
