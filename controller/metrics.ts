/**
 * What `GET /metrics` reports, in the Prometheus text format (0.0.4):
 * counters and histograms observed as jobs run here, and gauges read at
 * scrape time. A job's duration and its steps' are counted by the
 * controller that ran them, so summing over controllers counts each once.
 */
import { type JobRecord, JobStatus, TERMINAL } from "../models/job.ts";
import type { Clock } from "../lib/clock.ts";
import { Exposition, Histogram, labelValue } from "../lib/prometheus.ts";

/** What the runner reports as it goes (see RunnerDeps.observer). */
export interface RunnerObserver {
  /** A barrier step of `job` began. */
  step(job: string): void;
  /** A command was sent again (no word from the node, or no outcome). */
  resent(): void;
}

export class Metrics implements RunnerObserver {
  readonly jobSeconds = new Histogram();
  readonly stepSeconds = new Histogram();
  resends = 0;
  /** When each running job's current step began. */
  #stepAt = new Map<string, number>();
  /** Jobs seen running here: their end is ours to count. */
  #running = new Set<string>();

  constructor(readonly clock: Clock, readonly self: string) {}

  step(job: string): void {
    const now = this.clock.now();
    const began = this.#stepAt.get(job);
    if (began !== undefined) this.stepSeconds.observe((now - began) / 1000);
    this.#stepAt.set(job, now);
  }

  resent(): void {
    this.resends++;
  }

  /** Every record change (JobStore.onChange): a job run here that ended is counted. */
  record(rec: JobRecord): void {
    if (rec.status === "running") {
      if (rec.owner === this.self) this.#running.add(rec.id);
      else this.#forget(rec.id); // taken over by a peer
      return;
    }
    if (!TERMINAL.has(rec.status) || !this.#running.has(rec.id)) return;
    const began = this.#stepAt.get(rec.id);
    if (began !== undefined) {
      this.stepSeconds.observe((this.clock.now() - began) / 1000);
    }
    const start = Date.parse(rec.started_at ?? "");
    const end = Date.parse(rec.finished_at ?? "");
    if (Number.isFinite(start) && Number.isFinite(end)) {
      this.jobSeconds.observe(Math.max(0, end - start) / 1000);
    }
    this.#forget(rec.id);
  }

  #forget(id: string): void {
    this.#running.delete(id);
    this.#stepAt.delete(id);
  }
}

/** Scrape-time readings. */
export interface Gauges {
  jobs: Record<string, number>;
  pending: number;
  running: number;
  nodes: { online: number; offline: number };
  natsConnected: boolean;
  jetstream: boolean;
  version: string;
  controller: string;
}

/** The exposition text. */
export function renderMetrics(m: Metrics, g: Gauges): string {
  const out = new Exposition();
  const family = out.family.bind(out);
  const label = labelValue;
  family("grid_info", "gauge", "This controller and its version.", [
    `grid_info{controller="${label(g.controller)}",version="${
      label(g.version)
    }"} 1`,
  ]);
  family(
    "grid_jobs",
    "gauge",
    "Jobs in the store by status.",
    JobStatus.options.map((s) => `grid_jobs{status="${s}"} ${g.jobs[s] ?? 0}`),
  );
  family("grid_queue_depth", "gauge", "Jobs waiting to start.", [
    `grid_queue_depth ${g.pending}`,
  ]);
  family("grid_jobs_running", "gauge", "Jobs running on any controller.", [
    `grid_jobs_running ${g.running}`,
  ]);
  family(
    "grid_job_duration_seconds",
    "histogram",
    "Time from start to end of the jobs this controller ran.",
    m.jobSeconds.lines("grid_job_duration_seconds"),
  );
  family(
    "grid_step_duration_seconds",
    "histogram",
    "Time each barrier step took across its nodes, on jobs this controller ran.",
    m.stepSeconds.lines("grid_step_duration_seconds"),
  );
  family("grid_nodes", "gauge", "Registered nodes by liveness.", [
    `grid_nodes{status="online"} ${g.nodes.online}`,
    `grid_nodes{status="offline"} ${g.nodes.offline}`,
  ]);
  family(
    "grid_dispatch_resends_total",
    "counter",
    "Commands sent again to nodes that had not taken them or reported no outcome.",
    [`grid_dispatch_resends_total ${m.resends}`],
  );
  family(
    "grid_nats_connected",
    "gauge",
    "1 while this controller is connected to NATS.",
    [`grid_nats_connected ${g.natsConnected ? 1 : 0}`],
  );
  family(
    "grid_jetstream_available",
    "gauge",
    "1 when JetStream answered this scrape.",
    [`grid_jetstream_available ${g.jetstream ? 1 : 0}`],
  );
  return out.text();
}
