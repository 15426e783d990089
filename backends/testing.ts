/**
 * Test doubles for code that runs actions: an Exec that records argv
 * instead of spawning, and an ActionContext around it. Kept out of *_test.ts
 * so worker and scenario tests can use them too.
 */
import type { ActionContext, Exec, ExecRequest, ExecResult } from "./types.ts";

export type Reply =
  | Partial<ExecResult>
  | ((req: ExecRequest) => Partial<ExecResult> | Promise<Partial<ExecResult>>);

export interface RecordingExec extends Exec {
  /** Every request, in order. */
  calls: ExecRequest[];
}

/** An Exec that records each request and answers with `reply` (exit 0 by default). */
export function recordingExec(reply: Reply = {}): RecordingExec {
  const calls: ExecRequest[] = [];
  const exec = async (req: ExecRequest): Promise<ExecResult> => {
    calls.push(structuredClone(req));
    const r = typeof reply === "function" ? await reply(req) : reply;
    return {
      code: 0,
      signal: null,
      stdout: "",
      stderr: "",
      truncated: false,
      ...r,
    };
  };
  return Object.assign(exec, { calls });
}

/** An ActionContext for tests; nothing is spawned unless `exec` is real. */
export function fakeContext(over: Partial<ActionContext> = {}): ActionContext {
  return {
    signal: new AbortController().signal,
    exec: recordingExec(),
    nodeId: "node-1",
    hostname: "node-1.example",
    ...over,
  };
}
