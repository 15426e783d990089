/**
 * What the scheduler knows of a job (its state) and what it asks for (its
 * effects). Plain data: the runner holds a state per running job, views
 * fold one per request; only scheduler.ts changes them.
 */
import type { ResultStatus, Strategy } from "../models/job.ts";
import type { Rollout, RolloutStatus } from "../models/rollout.ts";
import type { Leaf, PlanPhase } from "./plan.ts";

export interface Outcome {
  status: ResultStatus;
  attempts: number;
  error?: string;
  output?: string;
  /** The action's data; kept and dropped with the output. */
  data?: unknown;
  startedAt?: string;
  finishedAt?: string;
  durationMs: number;
  /** Results-stream sequence of the event that decided this outcome. */
  seq?: number;
  /** The output was not kept (over the memory budget); read it by `seq`. */
  outputDropped?: boolean;
}

export interface NodeProgress {
  failed: boolean;
  /** Position in the current phase's leaves. */
  sub: number;
  attempt: number;
  /** An attempt is dispatched or waiting for its retry. */
  inflight: boolean;
  retryAt: number;
  done: boolean;
}

export interface JobState {
  id: string;
  strategy: Strategy;
  timeoutMs?: number;
  phases: PlanPhase[];
  nodes: string[];
  /** The nodes walking the job now: the current batch, or every node. */
  batchNodes: string[];
  /** Set for jobs with a `rollout` (controller/rollout_run.ts). */
  rollout?: RolloutState;
  /** Time of the last event applied (ms): where a pause between batches starts. */
  now: number;
  progress: Map<string, NodeProgress>;
  /** Nodes done with the current phase, so the barrier check is O(1). */
  doneCount: number;
  phase: number;
  anyFailed: boolean;
  firstFailure?: string;
  timedOut: boolean;
  status: "running" | "completed" | "failed" | "cancelled";
  error?: string;
  results: Map<number, Map<string, Outcome>>;
  /** Keep task output in outcomes (API views) or drop it (the runner). */
  keepOutput: boolean;
  /** Record outcomes at all: views do; the runner, which only needs progress, does not. */
  keepResults: boolean;
  /** Output bytes still allowed in memory; past it outputs are dropped and flagged. */
  outputBudget: number;
  /** Told of each outcome as it is recorded (live views stream them). */
  onOutcome?: OutcomeListener;
}

export interface RolloutState {
  batches: string[][];
  /** Index of the batch running, or last run. */
  batch: number;
  /** Pause for approval after the first batch. */
  canary: boolean;
  pauseMs: number;
  /** Nodes that may fail; more than this and no new batch starts. */
  budget: number;
  /** Nodes failed so far, across batches. */
  failed: number;
  /** Between batches: waiting for `job resume`, or until `dueAt`. */
  waiting?: "approval" | "timer";
  dueAt?: number;
  /** Why no further batch runs, once that is decided. */
  stopped?: string;
}

export type OutcomeListener = (step: number, node: string, o: Outcome) => void;

export type Effect =
  | {
    kind: "dispatch";
    node: string;
    leaf: Leaf;
    attempt: number;
    notBefore: number;
  }
  | {
    kind: "abort";
    node: string;
    step: number;
    attempt: number;
    reason: string;
  }
  | { kind: "step"; step: number }
  /** The rollout moved on (a batch started, a wait began, it stopped). */
  | { kind: "rollout"; status: RolloutStatus }
  | {
    kind: "finish";
    status: "completed" | "failed" | "cancelled";
    error?: string;
  };

export interface JobInit {
  id: string;
  strategy: Strategy;
  timeoutMs?: number;
  phases: PlanPhase[];
  nodes: readonly string[];
  rollout?: Rollout;
  /** When the job started (ms): the time until its first event. */
  startedAt?: number;
  keepOutput?: boolean;
  keepResults?: boolean;
  outputBudget?: number;
  onOutcome?: OutcomeListener;
}
