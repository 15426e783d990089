/**
 * Human output for jobs, nodes and the controller status. Pure: the caller
 * passes the line width, whether to colour, and the current time.
 */
import {
  JobStatus,
  type JobSummary,
  type JobView,
  leavesOf,
  type NodeResult,
  type Phase,
  type Target,
} from "../models/job.ts";
import type { NodeView, StatusView } from "../models/node.ts";
import type { ControllerView } from "../models/controller.ts";
import { summarizeData } from "./data_summary.ts";
import type { RolloutStatus } from "../models/rollout.ts";
import { formatLabels } from "../models/selector.ts";
import {
  type Cell,
  firstLine,
  paint,
  renderFields,
  renderTable,
  sanitize,
  type Style,
  textWidth,
  truncate,
} from "./table.ts";

export interface ViewOptions {
  width: number;
  color: boolean;
  /** Milliseconds since the epoch, for "3s ago". */
  now: number;
}

const STATUS_STYLE: Record<string, Style> = {
  success: "green",
  completed: "green",
  online: "green",
  active: "green",
  failed: "red",
  offline: "red",
  cancelled: "yellow",
  skipped: "yellow",
  running: "cyan",
  pending: "dim",
};

/** A status word, coloured by what it means. */
export function status(word: string): Cell {
  const style = STATUS_STYLE[word];
  return style ? { text: word, style } : { text: word };
}

/** "3s ago", "5m ago", "2h ago", "3d ago"; "-" when unknown. */
export function formatAgo(iso: string | undefined, now: number): string {
  if (!iso) return "-";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.floor(h / 24)}d ago`;
}

export function formatTarget(t: Target): string {
  if (t.selector !== undefined) return t.selector;
  return t.scope === "all" ? "all" : `${t.scope}:${t.value ?? ""}`;
}

/** "backend action" for every leaf, indexed by flat step number (depth-first). */
export function leafLabels(tasks: readonly Phase[]): string[] {
  return leavesOf(tasks).map((l) =>
    [l.task.backend, l.task.action].filter((x) => x !== undefined).join(" ")
  );
}

/** Every node result as [step, node, result], steps in numeric order ("10" after "2"). */
export function resultEntries(
  job: Pick<JobView, "results">,
): [string, string, NodeResult][] {
  const out: [string, string, NodeResult][] = [];
  const steps = Object.keys(job.results).sort((a, b) => Number(a) - Number(b));
  for (const step of steps) {
    const byNode = job.results[step]!;
    for (const node of Object.keys(byNode).sort()) {
      out.push([step, node, byNode[node]!]);
    }
  }
  return out;
}

/**
 * What a result row shows: the error when there is one, else a summary
 * of the action's data, else the output.
 */
function detail(r: NodeResult): string {
  return firstLine(r.error) ||
    (r.data !== undefined ? summarizeData(r.data) : firstLine(r.output));
}

/** One row per step × node. */
export function renderResults(job: JobView, opts: ViewOptions): string {
  const labels = leafLabels(job.tasks);
  const rows = resultEntries(job).map(([step, node, r]) => [
    step,
    labels[Number(step)] ?? "",
    node,
    status(r.status),
    String(r.attempts),
    r.duration,
    detail(r),
  ]);
  if (rows.length === 0) return "No results yet.\n";
  return renderTable(
    [
      { header: "STEP", align: "right" },
      { header: "TASK", max: 24 },
      { header: "NODE", max: 32 },
      { header: "STATUS" },
      { header: "ATTEMPTS", align: "right" },
      { header: "DURATION", align: "right" },
      { header: "OUTPUT", flex: true },
    ],
    rows,
    opts,
  );
}

function nodeList(ids: readonly string[]): string {
  return ids.length === 0 ? "none yet" : `${ids.length} (${ids.join(", ")})`;
}

function timeField(iso: string, now: number): string {
  return `${iso} (${formatAgo(iso, now)})`;
}

/** The job's fields, then its result table. */
export function renderJob(job: JobView, opts: ViewOptions): string {
  const fields: [string, string | Cell][] = [
    ["Job", job.id],
    ["Status", status(job.status)],
    ["Target", formatTarget(job.target)],
    ["Strategy", job.strategy],
  ];
  if (job.timeout) fields.push(["Timeout", job.timeout]);
  fields.push(["Steps", String(leafLabels(job.tasks).length)]);
  fields.push(["Nodes", nodeList(job.expected)]);
  if (job.offline.length > 0) {
    fields.push(["Offline", { text: job.offline.join(", "), style: "red" }]);
  }
  fields.push(["Created", timeField(job.created_at, opts.now)]);
  if (job.finished_at) {
    fields.push(["Finished", timeField(job.finished_at, opts.now)]);
  }
  if (job.rollout_status) fields.push(...rolloutFields(job.rollout_status));
  if (job.error) {
    fields.push(["Error", { text: firstLine(job.error), style: "red" }]);
  }
  return renderFields(fields, opts) + "\n" + renderResults(job, opts);
}

/** Where a rollout stands: its batch, any wait, per-batch counts, the budget. */
function rolloutFields(r: RolloutStatus): [string, string | Cell][] {
  const wait = r.paused
    ? " (paused for approval: gridc job resume)"
    : r.next_at
    ? ` (next batch at ${r.next_at})`
    : "";
  const out: [string, string | Cell][] = [
    [
      "Rollout",
      r.paused
        ? { text: `batch ${r.batch} of ${r.batches}${wait}`, style: "yellow" }
        : `batch ${r.batch} of ${r.batches}${wait}`,
    ],
  ];
  (r.progress ?? []).forEach((b, i) =>
    out.push([
      `  batch ${i + 1}`,
      `${b.nodes} nodes: ${b.done} done, ${b.failed} failed, ${b.pending} pending`,
    ])
  );
  if (r.failed !== undefined) {
    const allowed = r.max_failures === undefined
      ? "no limit"
      : `at most ${r.max_failures}`;
    out.push(["Failures", `${r.failed} (${allowed})`]);
  }
  if (r.stopped) out.push(["Stopped", { text: r.stopped, style: "red" }]);
  return out;
}

/**
 * A running rollout says where it is: waiting for `job resume` stands out,
 * so a list shows which jobs wait on an operator.
 */
function listStatus(j: JobSummary): Cell {
  const r = j.rollout_status;
  if (j.status !== "running" || !r) return status(j.status);
  if (r.paused) return { text: "running (paused)", style: "yellow" };
  return {
    ...status("running"),
    text: `running (batch ${r.batch}/${r.batches})`,
  };
}

/** `job list`: one row per job, newest first as the API sends them. */
export function renderJobList(
  jobs: readonly JobSummary[],
  opts: ViewOptions,
): string {
  if (jobs.length === 0) return "No jobs.\n";
  return renderTable(
    [
      { header: "ID", max: 32 },
      { header: "STATUS" },
      { header: "TARGET", max: 32 },
      { header: "STEPS", align: "right" },
      { header: "NODES", align: "right" },
      { header: "CREATED" },
      { header: "ERROR", flex: true },
    ],
    jobs.map((j) => [
      j.id,
      listStatus(j),
      formatTarget(j.target),
      String(j.steps),
      String(j.expected.length),
      formatAgo(j.created_at, opts.now),
      firstLine(j.error),
    ]),
    opts,
  );
}

/** `node list`. */
export function renderNodes(
  nodes: readonly NodeView[],
  opts: ViewOptions,
): string {
  if (nodes.length === 0) return "No nodes registered.\n";
  // A fleet without labels keeps the narrower table.
  const labelled = nodes.some((n) => Object.keys(n.labels ?? {}).length > 0);
  return renderTable(
    [
      { header: "ID", max: 40 },
      { header: "HOSTNAME", max: 40 },
      { header: "GROUPS", flex: true },
      ...(labelled ? [{ header: "LABELS", flex: true }] : []),
      { header: "STATUS" },
      { header: "LAST SEEN" },
    ],
    nodes.map((n) => [
      n.id,
      n.hostname,
      n.groups.join(",") || "-",
      ...(labelled ? [formatLabels(n.labels ?? {}) || "-"] : []),
      status(n.status),
      formatAgo(n.last_seen, opts.now),
    ]),
    opts,
  );
}

/** `controllers`: each controller, its liveness and the running jobs it owns. */
export function renderControllers(
  list: readonly ControllerView[],
  opts: ViewOptions,
): string {
  if (list.length === 0) return "No controllers.\n";
  return renderTable(
    [
      { header: "ID", max: 40 },
      { header: "HOSTNAME", max: 40, flex: true },
      { header: "STATUS" },
      { header: "JOBS", align: "right" },
      { header: "VERSION" },
      { header: "STARTED" },
      { header: "LAST SEEN" },
    ],
    list.map((c) => [
      c.id,
      c.hostname,
      status(c.status),
      String(c.jobs),
      c.version,
      formatAgo(c.started_at, opts.now),
      formatAgo(c.last_seen, opts.now),
    ]),
    opts,
  );
}

/** `node info`. */
export function renderNode(n: NodeView, opts: ViewOptions): string {
  const fields: [string, string | Cell][] = [
    ["Node", n.id],
    ["Hostname", n.hostname],
    ["Status", status(n.status)],
    ["Groups", n.groups.join(", ") || "-"],
    ...(Object.keys(n.labels ?? {}).length > 0
      ? [["Labels", formatLabels(n.labels!)] as [string, string]]
      : []),
    ["Last seen", timeField(n.last_seen, opts.now)],
    ["Started", timeField(n.started_at, opts.now)],
    ["Version", n.version],
    [
      "Running",
      n.running
        ? `job ${n.running.job} step ${n.running.step} attempt ${n.running.attempt} (since ${
          formatAgo(n.running.since, opts.now)
        })`
        : "-",
    ],
    ["Queued", String(n.queued)],
  ];
  const backends = [...n.backends].sort();
  if (backends.length === 0) fields.push(["Backends", "-"]);
  backends.forEach((b, i) =>
    fields.push([
      i === 0 ? "Backends" : "",
      `${b}: ${(n.actions[b] ?? []).join(", ") || "-"}`,
    ])
  );
  return renderFields(fields, opts);
}

/** `status`. */
export function renderStatus(s: StatusView, opts: ViewOptions): string {
  const known = JobStatus.options.filter((k) => k in s.jobs);
  const extra = Object.keys(s.jobs).filter((k) =>
    !known.includes(k as JobStatus)
  ).sort();
  const jobs =
    [...known, ...extra].map((k) => `${s.jobs[k]} ${k}`).join(", ") || "none";
  return renderFields([
    ["Controller", `${s.controller} (version ${s.version})`],
    ["Status", status(s.status)],
    ["Nodes", `${s.nodes.online} online of ${s.nodes.total}`],
    ["Jobs", jobs],
    [
      "Queue",
      `${s.queue.running}/${s.queue.max_concurrent} running, ${s.queue.pending}/${s.queue.max_pending} pending`,
    ],
  ], opts);
}

/** The line `--wait` prints when a node result lands. */
export function renderResultLine(
  step: string,
  label: string,
  node: string,
  r: NodeResult,
  opts: ViewOptions,
): string {
  const head = sanitize(`[${step}${label ? ` ${label}` : ""}] ${node}: `);
  const why = detail(r);
  const rest = sanitize(
    ` (${r.duration})${r.status === "failed" && why ? `: ${why}` : ""}`,
  );
  const room = opts.width - textWidth(head) - r.status.length;
  if (room < 0) return truncate(head + r.status + rest, opts.width) + "\n";
  return head + paint(r.status, STATUS_STYLE[r.status], opts.color) +
    truncate(rest, room) +
    "\n";
}

/** How many node results a job has, and how many it will have at most. */
export function progress(job: JobView): { done: number; total: number } {
  const steps = leafLabels(job.tasks).length;
  const done = resultEntries(job).length;
  const total = Math.max(done, steps * job.expected.length);
  return { done, total };
}

/** "[#####-----]  5/10 running" for a TTY status line. */
export function renderProgress(
  job: JobView,
  opts: Pick<ViewOptions, "width" | "color">,
): string {
  const { done, total } = progress(job);
  const counts = `${done}/${total || "?"}`;
  const barWidth = Math.max(10, Math.min(40, opts.width - counts.length - 16));
  const filled = total === 0 ? 0 : Math.round((done / total) * barWidth);
  const bar = "#".repeat(filled) + "-".repeat(barWidth - filled);
  return `[${bar}] ${counts} ${
    paint(job.status, STATUS_STYLE[job.status], opts.color)
  }`;
}
