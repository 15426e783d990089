/**
 * Test helpers for the host-facing backends: run one action the way the
 * worker does (params through its schema) and hand back its data checked
 * against the action's `data` schema, with the argv it would have run.
 */
import assert from "node:assert/strict";
import { describeParamIssues, paramNames } from "./params.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";
import type { ActionOutput, BackendDef, ExecRequest } from "./types.ts";

export interface Called extends ActionOutput {
  calls: ExecRequest[];
}

/**
 * Runs `action` of `backend` with `params`; throws what the action throws,
 * and an Error naming the params when the schema refuses them.
 */
export async function call(
  backend: BackendDef,
  action: string,
  params: Record<string, string> = {},
  reply: Reply = {},
): Promise<Called> {
  const def = backend.actions[action];
  assert.ok(def, `${backend.name} has no action ${action}`);
  const parsed = def.params.safeParse(params);
  if (!parsed.success) {
    throw new Error(
      describeParamIssues(parsed.error, paramNames(def.params)),
    );
  }
  const exec = recordingExec(reply);
  const out = await def.run(parsed.data, fakeContext({ exec }));
  if (def.data) {
    assert.ok(out.data !== undefined, `${backend.name} ${action} gave no data`);
    def.data.parse(out.data);
  } else {
    assert.equal(out.data, undefined, `${backend.name} ${action} has no data`);
  }
  return { ...out, calls: exec.calls };
}

/** The params error `action` gives for `params`, or undefined if they pass. */
export function paramsError(
  backend: BackendDef,
  action: string,
  params: Record<string, string>,
): string | undefined {
  const def = backend.actions[action];
  assert.ok(def, `${backend.name} has no action ${action}`);
  const parsed = def.params.safeParse(params);
  return parsed.success
    ? undefined
    : describeParamIssues(parsed.error, paramNames(def.params));
}

/**
 * Table-driven refusals: each case must be refused by the schema with a
 * message matching `want`, so nothing would run.
 */
export function assertRefused(
  backend: BackendDef,
  cases: readonly [string, Record<string, string>, RegExp][],
): void {
  for (const [action, params, want] of cases) {
    const err = paramsError(backend, action, params);
    assert.ok(err, `${action} ${JSON.stringify(params)} must be refused`);
    assert.match(err, want, `${action} ${JSON.stringify(params)}`);
  }
}
