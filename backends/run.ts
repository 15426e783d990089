/**
 * Runs one action the way the worker needs it: never throws, always returns
 * an outcome with a capped output and a clear error, and says whether a
 * retry could help.
 */
import { abortReason, settlesWithin } from "./abort.ts";
import { capOutput, MAX_OUTPUT_BYTES } from "./output.ts";
import { describeParamIssues, paramNames } from "./params.ts";
import {
  type ActionContext,
  type ActionDef,
  ActionError,
  type BackendDef,
} from "./types.ts";

export interface RunRequest {
  backend: string;
  action: string;
  params: Record<string, string>;
}

export interface RunOptions {
  /** Cap on the reported output, in UTF-8 bytes. @default 262144 */
  maxOutputBytes?: number;
  /**
   * After an abort, how long to wait for the action to wind down (exec's own
   * SIGTERM→SIGKILL grace is 5s) before reporting anyway.
   * @default 10000
   */
  abortWaitMs?: number;
}

export interface RunOutcome {
  status: "success" | "failed";
  output: string;
  /** What the action found, as its `data` schema shapes it. */
  data?: unknown;
  /** Why the action's data was dropped: its own bug, for the worker's log. */
  dataIssue?: string;
  error?: string;
  retryable: boolean;
}

export type Backends = Map<string, BackendDef> | Record<string, BackendDef>;

function lookup(backends: Backends, name: string): BackendDef | undefined {
  if (backends instanceof Map) return backends.get(name);
  return Object.hasOwn(backends, name) ? backends[name] : undefined;
}

function names(backends: Backends): string {
  const list = backends instanceof Map
    ? [...backends.keys()]
    : Object.keys(backends);
  return list.sort().join(", ") || "none";
}

/** Errors that mean the code or the sandbox is wrong, not the moment. */
function retryableError(e: unknown): boolean {
  return !(e instanceof TypeError || e instanceof RangeError ||
    e instanceof ReferenceError || e instanceof SyntaxError ||
    e instanceof Deno.errors.NotCapable);
}

/**
 * Looks up `req.backend`/`req.action`, validates the params with the
 * action's schema and runs it. Bad names and bad params are non-retryable
 * failures and nothing runs; an aborted signal turns any outcome into a
 * failure carrying the abort reason.
 */
export async function runAction(
  backends: Backends,
  req: RunRequest,
  ctx: ActionContext,
  opts: RunOptions = {},
): Promise<RunOutcome> {
  const max = opts.maxOutputBytes ?? MAX_OUTPUT_BYTES;
  const fail = (
    error: string,
    retryable: boolean,
    output = "",
  ): RunOutcome => ({
    status: "failed",
    output: capOutput(output, max),
    error,
    retryable,
  });
  const backend = lookup(backends, req.backend);
  if (!backend) {
    return fail(
      `Unknown backend ${JSON.stringify(req.backend)} (this node has: ${
        names(backends)
      })`,
      false,
    );
  }
  const action: ActionDef | undefined =
    Object.hasOwn(backend.actions, req.action)
      ? backend.actions[req.action]
      : undefined;
  if (!action) {
    return fail(
      `Backend ${JSON.stringify(req.backend)} has no action ${
        JSON.stringify(req.action)
      } (actions: ${Object.keys(backend.actions).sort().join(", ")})`,
      false,
    );
  }
  const parsed = action.params.safeParse(req.params ?? {});
  if (!parsed.success) {
    return fail(
      `invalid params: ${
        describeParamIssues(parsed.error, paramNames(action.params))
      }`,
      false,
    );
  }
  if (ctx.signal.aborted) return fail(abortReason(ctx.signal), true);

  let outcome: RunOutcome | undefined;
  const running = (async () => {
    try {
      const r = await action.run(parsed.data, ctx);
      const { data, dataBytes, issue } = checkData(action, r.data, max);
      outcome = {
        status: "success",
        // One cap for both: the data's share comes off the output's.
        output: capOutput(r.output, max - dataBytes),
        ...(data !== undefined ? { data } : {}),
        ...(issue ? { dataIssue: issue } : {}),
        retryable: false,
      };
    } catch (e) {
      outcome = e instanceof ActionError
        ? fail(e.message, e.retryable, e.output)
        : fail(e instanceof Error ? e.message : String(e), retryableError(e));
    }
  })();
  await untilSettledOrAbandoned(
    running,
    ctx.signal,
    opts.abortWaitMs ?? 10_000,
  );
  if (ctx.signal.aborted) {
    // Timeouts may pass on a retry; cancels are never retried by the controller.
    const note = outcome
      ? ""
      : " (the action had not stopped when this was reported)";
    return fail(abortReason(ctx.signal) + note, true, outcome?.output ?? "");
  }
  return outcome!;
}

/**
 * The data an action returned, if its schema accepts it and it fits in
 * `max` bytes as JSON; otherwise none, and why. A bad shape is the
 * action's bug, never the task's failure: the output still says it all.
 */
function checkData(
  action: ActionDef,
  data: unknown,
  max: number,
): { data?: unknown; dataBytes: number; issue?: string } {
  if (data === undefined) return { dataBytes: 0 };
  if (!action.data) {
    return { dataBytes: 0, issue: "returned data but declares no data schema" };
  }
  const parsed = action.data.safeParse(data);
  if (!parsed.success) {
    return {
      dataBytes: 0,
      issue: `data does not match its schema: ${
        parsed.error.issues.map((i) =>
          `${i.path.join(".") || "(top)"}: ${i.message}`
        ).join("; ")
      }`,
    };
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(parsed.data);
  } catch (e) {
    return { dataBytes: 0, issue: `data is not JSON: ${(e as Error).message}` };
  }
  if (text === undefined) return { dataBytes: 0 };
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > max) {
    return {
      dataBytes: 0,
      issue: `data is ${bytes} bytes as JSON, over the ${max}-byte result cap`,
    };
  }
  return { data: parsed.data, dataBytes: bytes };
}

/** Waits for the action, but only `graceMs` more once the signal aborts. */
async function untilSettledOrAbandoned(
  running: Promise<void>,
  signal: AbortSignal,
  graceMs: number,
): Promise<void> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([running, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
  if (signal.aborted) await settlesWithin(running, graceMs);
}
