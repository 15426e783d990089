/**
 * `gridc job plan` and the summary `job run --confirm` shows: what a job
 * would do if submitted now. Pure, like render.ts.
 */
import type { PlanView } from "../models/job_plan.ts";
import { formatTarget, type ViewOptions } from "./render.ts";
import { paint, renderFields, renderTable } from "./table.ts";

/** Names in a batch line: past this many, "and N more". */
const SHOWN = 8;

function names(ids: readonly string[]): string {
  const shown = ids.slice(0, SHOWN).join(", ");
  return ids.length > SHOWN ? `${shown} and ${ids.length - SHOWN} more` : shown;
}

export function renderPlan(p: PlanView, opts: ViewOptions): string {
  const out: string[] = [];
  const head: [string, string][] = [
    ["Target", formatTarget(p.target)],
    [
      "Nodes",
      `${p.nodes.length} online would run it` +
      (p.offline.length > 0
        ? `; ${p.offline.length} offline would be skipped`
        : ""),
    ],
    ["Strategy", p.strategy + (p.timeout ? `, timeout ${p.timeout}` : "")],
    ["Failure budget", p.budget.says],
  ];
  if (p.offline.length > 0) head.push(["Skipped", names(p.offline)]);
  out.push(renderFields(head, opts));
  if (!p.valid) {
    out.push(
      paint(`Would be refused: ${p.problem ?? "?"}`, "red", opts.color) + "\n",
    );
  }
  out.push(
    `\nSteps (${
      p.batches.length > 1
        ? "each batch runs all of them, in order"
        : "in order"
    }):\n`,
  );
  out.push(renderTable(
    [
      { header: "STEP", align: "right" },
      { header: "TASK" },
      { header: "RUNS", flex: true },
      { header: "WHEN" },
    ],
    p.steps.map((s) => [
      String(s.step),
      s.path,
      `${s.backend} ${s.action}`,
      [s.pipeline ? "pipeline" : "", s.condition ?? ""].filter((x) => x)
        .join(", ") || "-",
    ]),
    opts,
  ));
  if (p.batches.length === 0) {
    out.push("\nNo node would run it.\n");
    return out.join("");
  }
  const n = p.batches.length;
  out.push(`\n${n} batch${n === 1 ? "" : "es"}:\n`);
  out.push(renderTable(
    [
      { header: "BATCH", align: "right" },
      { header: "SIZE", align: "right" },
      { header: "NODES", flex: true },
    ],
    p.batches.map((b) => [
      String(b.batch),
      String(b.nodes.length),
      names(b.nodes) + (b.canary ? " (canary: waits for job resume)" : ""),
    ]),
    opts,
  ));
  if (p.rollout?.pause) out.push(`Between batches: wait ${p.rollout.pause}\n`);
  return out.join("");
}
