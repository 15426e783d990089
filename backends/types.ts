/**
 * The contract every backend implements. A backend is a table of actions;
 * each action declares its params as a zod schema and runs with an
 * ActionContext. Actions never spawn processes themselves: they call
 * `ctx.exec`, so argv can be checked with a recording fake.
 */
import type { z } from "zod";

export interface ExecRequest {
  /** argv[0] must be an absolute path to an allowed binary. Never a shell. */
  argv: string[];
  /** Extra environment; the child's environment is cleared first. */
  env?: Record<string, string>;
  /** Output as it is read (live output); the result still holds it all. */
  onOutput?: (text: string) => void;
}

export interface ExecResult {
  /** Exit code; null when a signal ended the process. */
  code: number | null;
  /** The signal that ended the process ("SIGTERM"), or null. */
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  /** Bytes of output dropped by the output cap (0 or absent when none). */
  dropped?: number;
}

export type Exec = (
  req: ExecRequest,
  signal: AbortSignal,
) => Promise<ExecResult>;

export interface ActionContext {
  /** Aborted on cancel or timeout; actions must stop promptly. */
  signal: AbortSignal;
  exec: Exec;
  /** The worker's node id (the `test` backend's `nodes` param uses it). */
  nodeId: string;
  /** Streams output while the action runs (backends that start no process). */
  output?: (text: string) => void;
  hostname: string;
}

export interface ActionOutput {
  output: string;
  /**
   * What the action found, as data (sysinfo, stat, checksum, health…),
   * shaped by the action's `data` schema; the text `output` still says it
   * for people.
   */
  data?: unknown;
}

/** A failure an action reports on purpose. */
export class ActionError extends Error {
  constructor(
    message: string,
    readonly retryable = true,
    readonly output = "",
  ) {
    super(message);
    this.name = "ActionError";
  }
}

export interface ActionDef<S extends z.ZodType = z.ZodType> {
  params: S;
  /** The shape of the `data` the action returns, when it returns any. */
  data?: z.ZodType;
  run(params: z.infer<S>, ctx: ActionContext): Promise<ActionOutput>;
}

export interface BackendDef {
  name: string;
  /** Binaries the backend needs; it is registered only when all exist. */
  requires?: string[];
  actions: Record<string, ActionDef>;
}

export function defineAction<S extends z.ZodType>(
  def: ActionDef<S>,
): ActionDef {
  return def as unknown as ActionDef;
}
