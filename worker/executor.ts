/**
 * Runs this node's tasks one at a time, in the order they were taken in,
 * and reports each outcome to the results log until it is held there.
 */
import {
  type AttemptOutcome,
  type ResultEvent,
  resultEvent,
  type RunCommand,
} from "../models/messages.ts";
import type { NodeRecord } from "../models/node.ts";
import { formatDuration } from "../models/duration.ts";
import { type Clock, iso, sleep } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import type { BackendDef, Exec } from "../backends/types.ts";
import { runAction } from "../backends/run.ts";
import { Ledger } from "./ledger.ts";
import { OutputStream } from "./output_stream.ts";
import { LogClosedError, type ResultLog } from "./logs.ts";
import type { WorkObserver } from "./metrics.ts";

const log = logger("gridw");

/** After this long a task shows in the node record; shorter ones cost no write. */
export const PROGRESS_AFTER_MS = 250;
/** How long a drain waits past its grace for an aborted task to wind down. */
export const ABANDON_AFTER_MS = 10_000;

export interface ExecutorOptions {
  node: string;
  hostname: string;
  backends: Map<string, BackendDef>;
  exec: Exec;
  results: ResultLog;
  clock: Clock;
  /** Called when a task has been running for PROGRESS_AFTER_MS. */
  onLongTask: () => void;
  /** Told of outcomes and reports (the worker's metrics). */
  observer?: Pick<WorkObserver, "finished" | "reported" | "retried">;
}

/** The task a node is running, as its record shows it. */
export type RunningTask = NonNullable<NodeRecord["running"]>;

interface Task {
  cmd: RunCommand;
  /** Its position in the command log. */
  seq: number;
}

interface Running extends Task {
  ctl: AbortController;
  startedAt: number;
}

/** What the node record shows of the executor. */
export interface ExecutorState {
  running?: RunningTask;
  queued: number;
  /** Log positions of the tasks taken in and not yet done. */
  open: number[];
}

export class Executor {
  #o: ExecutorOptions;
  #queue: Task[] = [];
  #running?: Running;
  #stopping = false;
  #idle: Promise<void> = Promise.resolve();
  #idleResolve?: () => void;

  constructor(o: ExecutorOptions) {
    this.#o = o;
  }

  enqueue(cmd: RunCommand, seq: number): void {
    this.#queue.push({ cmd, seq });
    this.#next();
  }

  /** Whether this attempt is queued or running now. */
  holds(key: string): boolean {
    const r = this.#running?.cmd;
    if (r && Ledger.keyOf(r) === key) return true;
    return this.#queue.some((t) => Ledger.keyOf(t.cmd) === key);
  }

  /** Drops the attempt if queued, aborts it if running. */
  abort(key: string, reason: string): void {
    this.#queue = this.#queue.filter((t) => Ledger.keyOf(t.cmd) !== key);
    const r = this.#running;
    if (r && Ledger.keyOf(r.cmd) === key) r.ctl.abort(reason);
  }

  state(): ExecutorState {
    const r = this.#running;
    return {
      ...(r
        ? {
          running: {
            job: r.cmd.job,
            step: r.cmd.step,
            attempt: r.cmd.attempt,
            since: iso(r.startedAt),
          },
        }
        : {}),
      queued: this.#queue.length,
      open: [...(r ? [r.seq] : []), ...this.#queue.map((t) => t.seq)],
    };
  }

  /**
   * Starts nothing more, reports queued tasks as not run, and lets the
   * running one finish for up to `graceMs` before aborting it.
   */
  async drain(graceMs: number, reason: string): Promise<void> {
    this.#stopping = true;
    const queued = this.#queue;
    this.#queue = [];
    await Promise.all(
      queued.map((t) =>
        this.#report(this.#attempt(t.cmd, {
          status: "failed",
          error: `not run: ${reason}`,
          retryable: true,
        }))
      ),
    );
    if (this.#running) {
      log.info("waiting for the running task to finish", {
        job: this.#running.cmd.job,
      });
    }
    const abort = this.#o.clock.after(
      graceMs,
      () => this.#running?.ctl.abort(reason),
    );
    // An action that ignores its abort is left behind, not waited for.
    const waited = new AbortController();
    await Promise.race([
      this.#idle,
      sleep(this.#o.clock, graceMs + ABANDON_AFTER_MS, waited.signal),
    ]);
    waited.abort();
    abort();
  }

  /** Reports a task that was running when this worker last stopped. */
  reportInterrupted(running: RunningTask): Promise<void> {
    return this.#report(this.#attempt(running, {
      status: "failed",
      error: "interrupted: the worker stopped while running this task",
    }, Date.parse(running.since)));
  }

  #attempt(
    a: { job: string; step: number; attempt: number },
    outcome: AttemptOutcome,
    startedAt?: number,
  ): ResultEvent {
    return resultEvent(a, this.#o.node, "worker", outcome, {
      startedAt,
      finishedAt: this.#o.clock.now(),
    });
  }

  #next(): void {
    if (this.#running || this.#stopping) return;
    const task = this.#queue.shift();
    if (!task) return;
    const running: Running = {
      ...task,
      ctl: new AbortController(),
      startedAt: this.#o.clock.now(),
    };
    this.#running = running;
    this.#idle = new Promise((r) => (this.#idleResolve = r));
    this.#execute(running).finally(() => {
      this.#running = undefined;
      this.#idleResolve?.();
      this.#next();
    });
  }

  async #execute(r: Running): Promise<void> {
    const { cmd, ctl } = r;
    const { clock } = this.#o;
    const timeout = clock.after(
      cmd.timeout_ms,
      () => ctl.abort(`timed out after ${formatDuration(cmd.timeout_ms)}`),
    );
    const progress = clock.after(PROGRESS_AFTER_MS, this.#o.onLongTask);
    log.info("task started", {
      job: cmd.job,
      step: cmd.step,
      attempt: cmd.attempt,
      task: `${cmd.backend} ${cmd.action}`,
    });
    const live = new OutputStream(
      cmd,
      this.#o.node,
      clock,
      (chunk) => this.#o.results.stream(chunk),
    );
    const output = (text: string) => live.write(text);
    let outcome;
    try {
      outcome = await runAction(this.#o.backends, cmd, {
        signal: ctl.signal,
        exec: (req, signal) =>
          this.#o.exec({ ...req, onOutput: output }, signal),
        nodeId: this.#o.node,
        hostname: this.#o.hostname,
        output,
      });
    } finally {
      timeout();
      progress();
      // The last of the output goes before the result that ends it.
      live.close();
    }
    if (outcome.dataIssue) {
      log.warn("action data dropped (a bug in the action)", {
        task: `${cmd.backend} ${cmd.action}`,
        job: cmd.job,
        error: outcome.dataIssue,
      });
    }
    const ev = this.#attempt(cmd, outcome, r.startedAt);
    this.#o.observer?.finished(cmd, ev.status, ev.duration_ms);
    log.info("task finished", {
      job: cmd.job,
      step: cmd.step,
      status: ev.status,
      duration: formatDuration(ev.duration_ms),
      ...(ev.error ? { error: ev.error } : {}),
    });
    await this.#report(ev);
  }

  /** Reports an outcome, retrying until the results log has it. */
  async #report(ev: ResultEvent): Promise<void> {
    for (let delay = 250;; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.#o.results.report(ev);
        this.#o.observer?.reported();
        return;
      } catch (e) {
        if (e instanceof LogClosedError) return;
        this.#o.observer?.retried();
        log.warn("reporting a result failed; retrying", {
          job: ev.job,
          error: String(e),
        });
        await sleep(this.#o.clock, delay);
      }
    }
  }
}
