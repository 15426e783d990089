/**
 * docs/SOAK.md: what was run and on what, the three counts that must be 0,
 * the outcomes by job kind, the faults, where progress stalled, evidence
 * from the logs for each problem, and the warnings the processes logged.
 */
import type { Final } from "./analysis.ts";
import { KINDS } from "./jobs.ts";
import { grepLogs, logWarnings, ownership } from "./logs.ts";
import type { Soak } from "./soak.ts";
import { fmtSecs, percentile, since } from "./util.ts";
import { FAULT_KINDS, HOW_TO_RUN, RESULT_COLUMNS } from "./report_text.ts";

/** How the run went, besides what the soak counted. */
export interface RunInfo {
  command: string;
  started: Date;
  submitMs: number;
  totalMs: number;
  machine: Record<string, string>;
  loadStart: string;
  loadEnd: string;
  codeStart: string;
  codeEnd: string;
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => String(c).replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join(
    "\n",
  );
}

export function report(soak: Soak, f: Final, info: RunInfo): string {
  return [
    ...intro(soak, f, info),
    ...jobs(soak, f),
    ...faults(soak),
    ...progress(soak),
    ...problems(soak, f),
    ...warnings(soak),
  ].join("\n");
}

/** What the soak does, the three counts, and how this run was set up. */
function intro(soak: Soak, f: Final, info: RunInfo): string[] {
  const o = soak.o;
  const ok = f.lost.length + f.stuck.length + f.dups.length +
      f.failedAlive.length === 0;
  return [
    "# GRID soak report",
    "",
    "Written by `scripts/soak.ts` (`deno task soak`; not part of CI). Three",
    "controllers whose nats-servers form one JetStream cluster (replicas 3) and",
    `${o.workers} workers take a steady stream of small jobs (echo, barrier,`,
    "pipeline, planned failures under `continue` and `fail-fast`, retries, short",
    "sleeps), submitted round-robin to the controllers that are up, while one",
    "fault at a time hits the cluster, each kind once per round in a seeded",
    "order, each healed before the next:",
    "",
    ...FAULT_KINDS,
    "",
    "Then the faults stop, the queue drains, and:",
    "",
    "- **jobs lost**: answered 202, but a controller's API does not know them",
    "  (404);",
    "- **jobs stuck**: still `pending` or `running` on any controller after the",
    "  drain;",
    "- **node results duplicated**: one attempt of one step on one node started",
    "  more than once, counted from the workers' `task started` log lines",
    "  (job, step, attempt) across every incarnation of each worker. A task",
    "  cut short by a SIGKILL may legitimately end `failed` (`node lost`,",
    "  `interrupted`) or be retried as a new attempt; that is not a duplicate.",
    "- **jobs failed while all their nodes were up**: a job that would have",
    "  completed without faults ended `failed` although no worker it targeted",
    "  was down from its submission to its end (nor within 15 s of coming",
    "  back). A store outage, a lost quorum or a skewed clock must only pause",
    "  jobs.",
    "",
    "Each must be 0. Each run overwrites this file.",
    "",
    ...HOW_TO_RUN,
    "## Result",
    "",
    table(["", "count"], [
      ["jobs lost", f.lost.length],
      ["jobs stuck", f.stuck.length],
      ["node results duplicated", f.dups.length],
      ["jobs failed while all their nodes were up", f.failedAlive.length],
    ]),
    "",
    ok ? "**PASS**" : "**FAIL**",
    "",
    table(RESULT_COLUMNS, [[
      info.started.toISOString().slice(0, 16).replace("T", " "),
      `\`${info.command}\``,
      fmtSecs(info.submitMs),
      soak.subs.size,
      soak.faults.length,
      f.lost.length,
      f.stuck.length,
      f.dups.length,
      f.failedAlive.length,
      ok ? "PASS" : "FAIL",
    ]]),
    "",
    "## Run",
    "",
    `- Command: \`${info.command}\``,
    `- Started: ${info.started.toISOString()}; faults and submissions for ${
      fmtSecs(info.submitMs)
    }, drain ${fmtSecs(f.drainMs)}${f.drainNote ? ` (${f.drainNote})` : ""}, ${
      fmtSecs(info.totalMs)
    } in all`,
    `- Seed: ${o.seed} (job mix and fault plan; timing still varies)`,
    `- Load: ${o.jobsPerSec} jobs/s; faults ${
      o.faults ? `every ${o.faultEvery[0]}-${o.faultEvery[1]} s` : "off"
    }`,
    `- Machine: ${info.machine.cpu}; ${info.machine.memory}; ${info.machine.kernel}; load average ${info.loadStart} at start, ${info.loadEnd} at end (the machine is shared)`,
    `- Software: deno ${info.machine.deno}; ${info.machine["nats-server"]}`,
    `- Code: ${info.codeStart}, copied at start so every process (and every restart) runs the same code${
      info.codeEnd !== info.codeStart
        ? `; the tree moved to ${info.codeEnd} during the run`
        : ""
    }`,
    "- Controllers: c1, c2, c3; `replicas: 3`, `heartbeat_interval: 500ms`,",
    "  `stale_threshold: 5s`, `offline_after: 10s`, `max_concurrent: 20`,",
    "  `max_pending: 500`, `task_timeout: 60s`",
    `- Workers: ${o.workers}, groups g1/g2/g3 round-robin plus \`fleet\`, heartbeat 500ms, each listing all three NATS URLs`,
    "",
  ];
}

/** Submissions, final statuses and times, and outcomes by kind. */
function jobs(soak: Soak, f: Final): string[] {
  const rejected = [...soak.rejected].sort((a, b) => b[1] - a[1]);
  const taskStarts = [...soak.starts.values()].reduce(
    (s, l) => s + l.length,
    0,
  );
  const out: string[] = [];
  out.push(
    "## Jobs",
    "",
    `- Submissions: ${soak.attempted} tried, ${soak.subs.size} accepted (202), ${
      rejected.reduce((s, [, n]) => s + n, 0)
    } refused, ${soak.submitErrors} without an answer (connection lost or timed out)${
      soak.skippedTicks
        ? `, ${soak.skippedTicks} skipped (32 already in flight)`
        : ""
    }`,
  );
  if (rejected.length > 0) {
    out.push(`- Refused: ${rejected.map(([r, n]) => `${n}× ${r}`).join("; ")}`);
  }
  out.push(
    `- Jobs a controller knows that no 202 answered (their submit lost its answer): ${f.orphans.length}`,
    `- Final status (${f.details} jobs read in full): ${
      [...f.statuses].map(([s, n]) => `${s} ${n}`).join(", ") || "-"
    }`,
    `- Submit to finish: p50 ${
      (percentile(f.latencies, 0.5) / 1000).toFixed(1)
    } s, p95 ${(percentile(f.latencies, 0.95) / 1000).toFixed(1)} s, max ${
      ((f.latencies.at(-1) ?? 0) / 1000).toFixed(1)
    } s`,
    `- Tasks started (worker log lines): ${taskStarts}, distinct attempts ${soak.starts.size}`,
    "",
  );
  const statusCols = ["completed", "failed", "cancelled", "running", "pending"];
  out.push(
    table(
      ["kind", "expected without faults", ...statusCols],
      KINDS.map((k) => [
        k.name,
        k.expect,
        ...statusCols.map((s) => f.byKind.get(k.name)?.get(s) ?? 0),
      ]),
    ),
    "",
  );
  if (f.unexpected.size > 0) {
    out.push(
      "Jobs that ended otherwise than they would without faults (a fault hit them):",
      "",
      table(
        ["count", "kind: status (error)"],
        [...f.unexpected].sort((a, b) => b[1] - a[1]).slice(0, 20).map((
          [k, n],
        ) => [n, k]),
      ),
      "",
    );
  }
  if (f.resultErrors.size > 0) {
    out.push(
      "Node result errors (numbers replaced by N):",
      "",
      table(
        ["count", "error"],
        [...f.resultErrors].sort((a, b) => b[1] - a[1]).slice(0, 20).map((
          [k, n],
        ) => [n, k]),
      ),
      "",
    );
  }
  return out;
}

function faults(soak: Soak): string[] {
  const out: string[] = [];
  out.push("## Faults", "");
  if (soak.faults.length === 0) out.push("None.", "");
  else {
    out.push(
      table(
        ["at", "fault", "target", "what", "healed after"],
        soak.faults.map((x) => [
          since(x.at),
          x.kind,
          x.target,
          x.detail + (x.error ? ` — **error**: ${x.error}` : ""),
          x.backAfterMs === undefined ? "-" : fmtSecs(x.backAfterMs),
        ]),
      ),
      "",
    );
  }
  return out;
}

/** Where faults cost time: stalls, ownership changes, the timeline. */
function progress(soak: Soak): string[] {
  const out: string[] = [];
  const own = ownership(soak);
  out.push(
    "## Progress and ownership",
    "",
    "Not among the three numbers, but where faults cost time:",
    "",
    `- Spells of 20 s or more in which no job finished while jobs waited: ${
      soak.stalls.length === 0
        ? "none"
        : soak.stalls.map((x) =>
          `${since(x.from)}–${since(x.to)} (${
            fmtSecs(x.to - x.from)
          }, ${x.waiting} waiting)`
        ).join("; ")
    }`,
    `- Controller logs: ${own.takeovers} \`taking over a job\`, ${own.fenced} \`lost ownership of a job\`, ${own.adoptions} \`adopted running jobs\``,
    `- Jobs whose \`job finished\` was logged by more than one controller (run by two owners at once): ${own.finishedTwice.length}${
      own.finishedTwice.length
        ? ` (e.g. ${
          own.finishedTwice.slice(0, 5).map(([id, by]) =>
            `${id} by ${by.join("+")}`
          ).join(", ")
        })`
        : ""
    }`,
    "",
  );
  const every = Math.max(1, Math.round(soak.timeline.length / 40));
  const rows = soak.timeline.filter((_, i, all) =>
    i % every === 0 || i === all.length - 1
  );
  if (rows.length > 0) {
    out.push(
      "<details><summary>Timeline (as polled)</summary>",
      "",
      table(
        ["at", "accepted", "finished", "running", "pending or unseen"],
        rows.map((
          r,
        ) => [since(r.at), r.accepted, r.finished, r.running, r.waiting]),
      ),
      "",
      "</details>",
      "",
    );
  }
  return out;
}

/** Anomalies, and log lines for the first lost, stuck and duplicated. */
function problems(soak: Soak, f: Final): string[] {
  const out: string[] = [];
  const problems: string[] = [];
  const evidence = (
    title: string,
    id: string,
    extra: string,
    keep?: (proc: string, line: string) => boolean,
  ) => {
    problems.push(
      `### ${title} ${id}`,
      "",
      extra,
      "",
      "```",
      ...grepLogs(soak, id.split(" ")[0]!.replace(/^job=/, ""), 50, keep),
      "```",
      "",
    );
  };
  for (const x of f.lost.slice(0, 5)) {
    evidence(
      "Lost",
      x.id,
      `${x.sub.kind}, submitted via ${x.sub.via} at ${
        since(x.sub.at)
      }; ${x.where}`,
    );
  }
  for (const x of f.stuck.slice(0, 5)) {
    evidence(
      "Stuck",
      x.id,
      `${x.sub.kind}, submitted via ${x.sub.via} at ${
        since(x.sub.at)
      }; ${x.where}`,
    );
  }
  for (const [key, list] of f.dups.slice(0, 5)) {
    evidence(
      "Duplicated",
      key,
      `started ${list.length} times: ${
        list.map((s) => `${s.proc} at ${s.at}`).join("; ")
      }. Log lines of the controllers, and of that node for that step:`,
      (proc, line) => {
        const [, step, node] = /step=(\d+) node=(\S+)/.exec(key) ?? [];
        return proc.startsWith("c") ||
          (proc === node && line.includes(`step=${step} `));
      },
    );
  }
  if (soak.anomalies.length > 0 || problems.length > 0) {
    out.push("## Problems", "");
    if (soak.anomalies.length > 0) {
      out.push(...soak.anomalies.map((a) => `- ${a}`), "");
    }
    const more = f.lost.length + f.stuck.length + f.dups.length;
    if (more > 15) {
      out.push(`(evidence for the first 5 of each; ${more} in all)`, "");
    }
    out.push(...problems);
  }
  return out;
}

function warnings(soak: Soak): string[] {
  const out: string[] = [];
  const warnings = logWarnings(soak);
  out.push("## Warnings and errors in the logs", "");
  if (warnings.length === 0) out.push("None.", "");
  else {
    out.push(
      "Numbers replaced by N, job ids by `<job>`; the 25 most frequent.",
      "",
      table(
        ["count", "from", "line"],
        warnings.slice(0, 25).map((w) => [w.count, w.who, `\`${w.line}\``]),
      ),
      "",
    );
  }
  return out;
}
