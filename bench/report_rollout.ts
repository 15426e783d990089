/**
 * The rollout part's figures (rollout.ts): its target, a section of
 * docs/BENCHMARKS.md, a line of the terminal table, and how it runs.
 */
import { ms } from "./lib.ts";
import { fx, table, x } from "./format.ts";
import type { BenchResults, RolloutRun, Target } from "./results.ts";

/** The most a rollout may cost over the same barrier steps without one. */
export const ROLLOUT_LIMIT = 1.2;

type Part = NonNullable<BenchResults["rollout"]>;

/** "1,000-worker job in batches of 10%". */
const title = (P: Part) =>
  `${P.n.toLocaleString("en")}-worker job in batches of 10%`;

export function rolloutTarget(R: BenchResults): Target[] {
  const P = R.rollout;
  if (!P) return [];
  const r = x(P.rollout.wall.p50, P.steps.wall.p50);
  return [{
    what: `${
      title(P)
    } (${P.batches} batches) vs the same ${P.batches} barrier steps back to back, p50`,
    target: `≤ ${ROLLOUT_LIMIT}×`,
    measured: `${ms(P.rollout.wall.p50)} / ${ms(P.steps.wall.p50)} ms = ${
      fx(r)
    }`,
    // At smoke size the times are too short to judge.
    ok: P.n >= 1000 ? r <= ROLLOUT_LIMIT : undefined,
  }];
}

function row(name: string, r: RolloutRun): (string | number)[] {
  return [
    name,
    `${ms(r.wall.p50)} / ${ms(r.wall.min)} / ${ms(r.wall.max)}`,
    r.cpu.ctl.toFixed(0),
    r.cpu.srv.toFixed(0),
    r.cpu.wrk.toFixed(0),
  ];
}

export function rolloutSection(R: BenchResults): string[] {
  const P = R.rollout;
  if (!P) return [];
  const tenth = P.n / P.batches;
  return [
    `## Rollout: a ${title(P)}`,
    "",
    table([
      "",
      "wall p50 / min / max ms",
      "ctl CPU ms",
      "srv CPU ms",
      "sims CPU ms",
    ], [
      row(
        `rollout: 1 step on ${P.n}, batch 10% (${P.batches} batches)`,
        P.rollout,
      ),
      row(
        `${P.batches} barrier steps on ${tenth} nodes, one job (baseline)`,
        P.steps,
      ),
      row(
        `${P.batches} one-step jobs on ${tenth} nodes each, back to back`,
        P.jobs,
      ),
    ]),
    "",
    `The rollout took ${fx(x(P.rollout.wall.p50, P.steps.wall.p50))} the ` +
    `time of the same ${P.batches} barriers in one job without it, and ` +
    `${fx(x(P.rollout.wall.p50, P.jobs.wall.p50))} that of ${P.batches} ` +
    `jobs run by hand one after another; the controller used ${
      P.rollout.cpu.ctl.toFixed(0)
    } ms CPU for it against ${
      P.steps.cpu.ctl.toFixed(0)
    } ms (${P.rounds} rounds, other load ${P.foreignPct.toFixed(0)}%).`,
    "",
    `What differs: after each batch the scheduler judges it (failures ` +
    `against the budget, canary, pause), moves to the next batch's nodes ` +
    `and walks the job's phases again for them; between the baseline's ` +
    `steps it only moves the barrier on. Every run does the same ${P.n} ` +
    `\`ping echo\` tasks in ${P.batches} barriers of ${tenth}.`,
    "",
  ];
}

/** The terminal table's line. */
export function rolloutLine(R: BenchResults): string[] {
  const P = R.rollout;
  if (!P) return [];
  return [
    `rollout (${title(P)}): p50 ${
      ms(P.rollout.wall.p50)
    } ms, ${P.batches} steps in one job ${ms(P.steps.wall.p50)} ms = ${
      fx(x(P.rollout.wall.p50, P.steps.wall.p50))
    }; ${P.batches} jobs back to back ${ms(P.jobs.wall.p50)} ms; controller ${
      P.rollout.cpu.ctl.toFixed(0)
    } vs ${P.steps.cpu.ctl.toFixed(0)} ms CPU`,
  ];
}

/** The "How it runs" bullet. */
export function rolloutHow(R: BenchResults): string[] {
  const P = R.rollout;
  if (!P) return [];
  return [
    `- Rollout: ${P.n} simulated workers (as in the barrier) in a group. Each of ${P.rounds} rounds (after one unmeasured run`,
    `  of each) runs back to back, in alternating order: one job of one \`ping echo\` step on all ${P.n} with`,
    `  \`rollout: {batch: 10%}\` (${P.batches} batches, no canary, no pause); the baseline, one job of ${P.batches} \`ping echo\``,
    `  barrier steps on the first ${
      P.n / P.batches
    } nodes (the same tasks in the same barriers, no rollout); and ${P.batches} one-step jobs,`,
    `  each on the next tenth (\`target.selector: node:…\`), each submitted when the one before ended. Wall time is from`,
    `  the first POST to the last job's record written final (seen on the KV bucket); CPU over the same span.`,
  ];
}
