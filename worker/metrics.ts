/**
 * The worker's own Prometheus metrics, served on `worker.metrics` when it
 * is set: what this node took in, ran, reported and streamed, and whether
 * it is connected. Counted as things happen (the agent's parts call the
 * observer), with the run queue read at scrape time.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { ResultEvent, RunCommand } from "../models/messages.ts";
import {
  CONTENT_TYPE,
  Exposition,
  Histogram,
  LabeledCounter,
  labelValue,
} from "../lib/prometheus.ts";
import type { WorkerLogs } from "./logs.ts";

/** What the intake and the executor report as they go. */
export interface WorkObserver {
  /** A command was read (live, late or from the stream) and understood. */
  received(): void;
  /** A copy of an attempt already taken, queued, running or done was dropped. */
  duplicate(): void;
  finished(cmd: RunCommand, status: ResultEvent["status"], ms: number): void;
  /** The results log holds an outcome. */
  reported(): void;
  /** Reporting an outcome failed and will be tried again. */
  retried(): void;
}

/** The run queue as the executor holds it. */
export interface QueueState {
  running?: unknown;
  queued: number;
}

export class WorkerMetrics implements WorkObserver {
  readonly tasks = new LabeledCounter();
  readonly taskSeconds = new Histogram();
  commands = 0;
  duplicates = 0;
  reports = 0;
  reportRetries = 0;
  outputBytes = 0;
  chunks = 0;
  chunksDropped = 0;
  truncated = 0;
  /** False until watchConnection is given the connection. */
  natsConnected = false;
  reconnects = 0;
  #queue: () => QueueState = () => ({ queued: 0 });
  #encoder = new TextEncoder();

  constructor(readonly node: string, readonly version: string) {}

  received(): void {
    this.commands++;
  }

  duplicate(): void {
    this.duplicates++;
  }

  finished(cmd: RunCommand, status: ResultEvent["status"], ms: number): void {
    this.tasks.inc({
      backend: cmd.backend,
      action: cmd.action,
      outcome: status,
    });
    this.taskSeconds.observe(ms / 1000);
  }

  reported(): void {
    this.reports++;
  }

  retried(): void {
    this.reportRetries++;
  }

  /** Where the run queue is read from at scrape time. */
  readQueue(fn: () => QueueState): void {
    this.#queue = fn;
  }

  /**
   * `logs`, with the output it streams counted. `dropping` says whether
   * the connection refuses publishes now (closed or draining): a chunk
   * sent then is lost, and the logs do not say so.
   */
  watchLogs(logs: WorkerLogs, dropping: () => boolean): WorkerLogs {
    const results = logs.results;
    return {
      ...logs,
      results: {
        report: (ev) => results.report(ev),
        lastAttempt: (job, step, node) => results.lastAttempt(job, step, node),
        stream: (chunk) => {
          if (dropping()) {
            this.chunksDropped++;
          } else {
            this.chunks++;
            this.outputBytes += this.#encoder.encode(chunk.text).length;
            if (chunk.truncated) this.truncated++;
          }
          results.stream(chunk);
        },
      },
    };
  }

  /** Follows the connection's state until it closes. */
  watchConnection(nc: NatsConnection): void {
    this.natsConnected = !nc.isClosed();
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") this.natsConnected = false;
        else if (s.type === "reconnect") {
          this.natsConnected = true;
          this.reconnects++;
        }
      }
    })().catch(() => {});
    nc.closed().then(() => (this.natsConnected = false), () => {});
  }

  /** The exposition text. */
  render(): string {
    const q = this.#queue();
    const out = new Exposition();
    const total = (name: string, help: string, v: number) =>
      out.single(name, "counter", help, v);
    out.family("grid_worker_info", "gauge", "This worker and its version.", [
      `grid_worker_info{node="${labelValue(this.node)}",version="${
        labelValue(this.version)
      }"} 1`,
    ]);
    out.family(
      "grid_worker_tasks_total",
      "counter",
      "Tasks run here, by backend, action and outcome.",
      this.tasks.lines("grid_worker_tasks_total"),
    );
    out.family(
      "grid_worker_task_duration_seconds",
      "histogram",
      "Time each task ran here, from start to outcome.",
      this.taskSeconds.lines("grid_worker_task_duration_seconds"),
    );
    out.single(
      "grid_worker_tasks_running",
      "gauge",
      "Tasks running now (0 or 1: one at a time).",
      q.running ? 1 : 0,
    );
    out.single(
      "grid_worker_tasks_queued",
      "gauge",
      "Tasks taken in and waiting their turn.",
      q.queued,
    );
    total(
      "grid_worker_commands_received_total",
      "Commands read, live or caught up from the stream.",
      this.commands,
    );
    total(
      "grid_worker_commands_duplicate_total",
      "Copies of attempts already taken or done, dropped unrun.",
      this.duplicates,
    );
    total(
      "grid_worker_results_reported_total",
      "Outcomes the results stream acknowledged.",
      this.reports,
    );
    total(
      "grid_worker_result_report_retries_total",
      "Outcome reports that failed and were tried again.",
      this.reportRetries,
    );
    total(
      "grid_worker_output_bytes_total",
      "Bytes of task output streamed for live views.",
      this.outputBytes,
    );
    total(
      "grid_worker_output_chunks_total",
      "Output chunks streamed.",
      this.chunks,
    );
    total(
      "grid_worker_output_chunks_dropped_total",
      "Output chunks lost because the connection was closed or draining.",
      this.chunksDropped,
    );
    total(
      "grid_worker_output_truncated_total",
      "Attempts whose streaming stopped at the per-attempt limit.",
      this.truncated,
    );
    out.single(
      "grid_worker_nats_connected",
      "gauge",
      "1 while this worker is connected to NATS.",
      this.natsConnected ? 1 : 0,
    );
    total(
      "grid_worker_nats_reconnects_total",
      "Times the connection to NATS came back.",
      this.reconnects,
    );
    return out.text();
  }
}

/** A metrics endpoint being served. */
export interface MetricsServer {
  /** The port it listens on (the one asked for, or the one given for 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` on `addr`, without authentication, as node
 * exporters do: the address is loopback unless the config says otherwise.
 */
export function serveMetrics(
  addr: { hostname: string; port: number },
  render: () => string,
): MetricsServer {
  const server = Deno.serve({
    hostname: addr.hostname,
    port: addr.port,
    onListen: () => {},
  }, (req) => {
    const path = new URL(req.url).pathname;
    if (path !== "/metrics") {
      return new Response("not found\n", { status: 404 });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    return new Response(render(), {
      headers: { "content-type": CONTENT_TYPE },
    });
  });
  return {
    port: (server.addr as Deno.NetAddr).port,
    close: () => server.shutdown(),
  };
}
