/**
 * The job model: what an operator submits, and what the API returns.
 * Every type here is inferred from its zod schema.
 */
import { z } from "zod";
import {
  type DurationLimits,
  JOB_TIMEOUT,
  outsideLimits,
  parseDuration,
  TASK_TIMEOUT,
} from "./duration.ts";
import { NodeId, Token } from "./names.ts";
import { checkRollout, Rollout, RolloutStatus } from "./rollout.ts";
import { SelectorText } from "./selector.ts";

export const Scope = z.enum(["all", "group", "node"]);
export const Strategy = z.enum(["fail-fast", "continue"]);
export const Condition = z.enum(["always", "on_success", "on_failure"]);
export const JobStatus = z.enum([
  "pending",
  "running",
  "completed",
  "failed",
  "cancelled",
]);
export const ResultStatus = z.enum([
  "success",
  "failed",
  "skipped",
  "cancelled",
]);

export type Scope = z.infer<typeof Scope>;
export type Strategy = z.infer<typeof Strategy>;
export type Condition = z.infer<typeof Condition>;
export type JobStatus = z.infer<typeof JobStatus>;
export type ResultStatus = z.infer<typeof ResultStatus>;

export const TERMINAL: ReadonlySet<JobStatus> = new Set([
  "completed",
  "failed",
  "cancelled",
]);

/** A Go-style duration string, validated where it is submitted. */
export const DurationString = z.string().refine(
  (s) => parseDuration(s) !== undefined,
  { message: 'must be a duration such as "500ms", "30s" or "1m30s"' },
);

export const Target = z.object({
  scope: Scope.default("all"),
  value: z.string().optional(),
  /** Labels, groups and nodes (models/selector.ts); instead of scope/value. */
  selector: SelectorText.optional(),
}).strict().superRefine((t, ctx) => {
  if (t.selector !== undefined && (t.scope !== "all" || t.value)) {
    ctx.addIssue({
      code: "custom",
      path: ["selector"],
      message:
        "give scope/value or a selector, not both (a selector says group:NAME or node:ID itself)",
    });
    return;
  }
  if (t.scope === "all") return;
  const check = t.scope === "node" ? NodeId : Token;
  if (!t.value) {
    ctx.addIssue({
      code: "custom",
      path: ["value"],
      message: `is required for scope "${t.scope}"`,
    });
    return;
  }
  const r = check.safeParse(t.value);
  if (!r.success) {
    ctx.addIssue({
      code: "custom",
      path: ["value"],
      message: r.error.issues[0]!.message,
    });
  }
});
export type Target = z.infer<typeof Target>;

const PhaseFields = {
  backend: Token.optional(),
  action: Token.optional(),
  params: z.record(z.string(), z.string({ error: "must be a string" }))
    .optional(),
  timeout: DurationString.optional(),
  max_retries: z.number().int("must be a whole number").min(
    0,
    "must not be negative",
  ).max(100, "must be at most 100").optional(),
  condition: Condition.optional(),
};

/** A leaf: one backend action. */
export const LeafPhase = z.object(PhaseFields).strict();
export type LeafPhase = z.infer<typeof LeafPhase>;

/** A phase as submitted: a leaf, or a pipeline (`tasks`) of leaves. */
export const Phase = z.object({
  ...PhaseFields,
  tasks: z.array(LeafPhase.extend({ tasks: z.unknown().optional() }))
    .optional(),
}).strict();
export type Phase = z.infer<typeof Phase>;

export const JobSpec = z.object({
  target: Target.default({ scope: "all" }),
  strategy: Strategy.default("fail-fast"),
  timeout: DurationString.optional(),
  tasks: z.array(Phase, { error: "must be a list of tasks" }).min(
    1,
    "must contain at least one task",
  ),
  /** Run the nodes batch by batch (models/rollout.ts). */
  rollout: Rollout.optional(),
}).strict().superRefine((job, ctx) => {
  job.tasks.forEach((phase, i) => checkShape(phase, ["tasks", i], 0, ctx));
  checkTimeouts(job, ctx);
  checkRollout(job, ctx);
});
export type JobSpec = z.infer<typeof JobSpec>;

/**
 * Timeouts outside what GRID can honour are refused at submit. Checked
 * here, not in the field's schema, so a stored record (which shares the
 * fields) written before these limits still reads.
 */
function checkTimeouts(
  job: { timeout?: string; tasks: Phase[] },
  ctx: z.RefinementCtx,
): void {
  const check = (
    text: string | undefined,
    limits: DurationLimits,
    path: (string | number)[],
  ) => {
    const ms = text === undefined ? undefined : parseDuration(text);
    // Not a duration at all: the field's own schema said so.
    const why = ms === undefined ? undefined : outsideLimits(ms, limits);
    if (why) {
      ctx.addIssue({ code: "custom", path, message: `${why}, got "${text}"` });
    }
  };
  check(job.timeout, JOB_TIMEOUT, ["timeout"]);
  job.tasks.forEach((phase, i) => {
    if (!phase.tasks) {
      check(phase.timeout, TASK_TIMEOUT, ["tasks", i, "timeout"]);
    }
    phase.tasks?.forEach((t, j) =>
      check(t.timeout, TASK_TIMEOUT, ["tasks", i, "tasks", j, "timeout"])
    );
  });
}

function checkShape(
  phase: Record<string, unknown>,
  path: (string | number)[],
  depth: number,
  ctx: z.RefinementCtx,
): void {
  const isLeaf = phase.backend !== undefined || phase.action !== undefined;
  const tasks = phase.tasks as Record<string, unknown>[] | undefined;
  const isBranch = tasks !== undefined;
  const issue = (message: string, at: (string | number)[] = path) =>
    ctx.addIssue({ code: "custom", path: at, message });
  if (isBranch && depth > 0) {
    return issue("pipelines cannot be nested: a pipeline step must be a leaf");
  }
  if (isLeaf && isBranch) {
    return issue(
      "a task is either a leaf (backend/action) or a pipeline (tasks), not both",
    );
  }
  if (!isLeaf && !isBranch) {
    return issue(
      "a task needs a backend and action, or a tasks list (pipeline)",
    );
  }
  if (isLeaf) {
    if (phase.backend === undefined) issue("is required", [...path, "backend"]);
    if (phase.action === undefined) issue("is required", [...path, "action"]);
    return;
  }
  if (tasks!.length === 0) {
    return issue("must contain at least one task", [...path, "tasks"]);
  }
  for (const key of ["params", "timeout", "max_retries"]) {
    if (phase[key] !== undefined) {
      issue("only applies to leaf tasks, not to a pipeline", [...path, key]);
    }
  }
  tasks!.forEach((t, j) =>
    checkShape(t, [...path, "tasks", j], depth + 1, ctx)
  );
}

/** One leaf of a job's task tree. */
export interface LeafRef {
  /** Flat step index, depth-first over leaves: results are keyed by it. */
  index: number;
  /** The top-level task (barrier phase) it belongs to. */
  phase: number;
  /** Where it sits, as an operator writes it: `tasks[1].tasks[0]`. */
  path: string;
  task: LeafPhase;
  /** The pipeline it is a step of, if any. */
  pipeline?: Phase;
}

/** The one walk over a task tree: every leaf in step order. */
export function leavesOf(tasks: readonly Phase[]): LeafRef[] {
  const out: LeafRef[] = [];
  tasks.forEach((p, i) => {
    if (!p.tasks) {
      out.push({ index: out.length, phase: i, path: `tasks[${i}]`, task: p });
      return;
    }
    p.tasks.forEach((t, j) =>
      out.push({
        index: out.length,
        phase: i,
        path: `tasks[${i}].tasks[${j}]`,
        task: t,
        pipeline: p,
      })
    );
  });
  return out;
}

/** Renders a zod issue path the way operators write it: tasks[1].action. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** One line per issue, each naming the field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => {
    const where = formatPath(i.path);
    return where ? `${where}: ${i.message}` : i.message;
  }).join("; ");
}

/** A final per-node result as the API shows it. */
export const NodeResult = z.object({
  status: ResultStatus,
  output: z.string().optional(),
  /** What the action found, as data (the worker checked its shape). */
  data: z.unknown().optional(),
  error: z.string().optional(),
  duration: z.string(),
  attempts: z.number().int(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
});
export type NodeResult = z.infer<typeof NodeResult>;

/**
 * The stored job record (KV `jobs`): the spec as submitted, and where the
 * job stands. Results live in the results stream.
 */
export const JobRecord = z.object({
  ...JobSpec.shape,
  id: Token,
  status: JobStatus,
  step: z.number().int(),
  expected: z.array(z.string()),
  offline: z.array(z.string()),
  error: z.string().optional(),
  /** The name of the API token that submitted it. */
  submitted_by: z.string().optional(),
  /** The controller running the job. */
  owner: z.string().optional(),
  /**
   * Ownership epoch: the owner holds this epoch's claim (see
   * controller/claims.ts). A record from a lower epoch is a late write.
   */
  epoch: z.number().int().min(0).optional(),
  created_at: z.string(),
  updated_at: z.string(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
  /** Results-stream sequence from which this job's events are replayed. */
  res_seq: z.number().int().optional(),
  /** Sequence of the last event applied to this job (set when it finishes). */
  res_last: z.number().int().optional(),
  /** Where the rollout stands, for jobs with a `rollout`. */
  rollout_status: RolloutStatus.optional(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/**
 * Set when the job's results are gone from the results stream (recreated,
 * aged out, purged): `results` then shows what is left, not what happened.
 */
const ResultsLost = {
  results_lost: z.literal(true).optional(),
  results_lost_reason: z.string().optional(),
};

/** `GET /job/:id`. */
export const JobView = JobRecord.omit({ res_seq: true, res_last: true }).extend(
  {
    ...ResultsLost,
    results: z.record(z.string(), z.record(z.string(), NodeResult)),
  },
);
export type JobView = z.infer<typeof JobView>;

/**
 * How many nodes ended a step each way: what a list shows as progress
 * (`{"0": {"success": 998, "failed": 2}}`); `GET /job/:id` has the results.
 */
export const StepCounts = z.record(
  z.string(),
  z.partialRecord(ResultStatus, z.number().int()),
);
export type StepCounts = z.infer<typeof StepCounts>;

/**
 * One row of `GET /jobs`: the record with its tasks (a list shows how many
 * steps there are) and per-step counts under `results` (how many are done,
 * the reference dashboard's `Object.keys(results)`), never outputs.
 */
export const JobSummary = JobRecord.omit({ res_seq: true, res_last: true })
  .extend({ steps: z.number().int(), results: StepCounts, ...ResultsLost });
export type JobSummary = z.infer<typeof JobSummary>;

/** `GET /jobs`: a bare array; the next page is in the `Link` header. */
export const JobList = z.array(JobSummary);
export type JobList = z.infer<typeof JobList>;

export const ApiError = z.object({ error: z.string() });
