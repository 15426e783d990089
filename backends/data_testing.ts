/**
 * Test support for the backends that return data: runs an action as the
 * worker would (params through its schema) and holds what it returns to
 * the action's own `data` schema, so a test cannot pass on a shape the
 * schema would refuse.
 */
import { fakeContext } from "./testing.ts";
import type { ActionContext, ActionOutput, BackendDef } from "./types.ts";

export async function runChecked(
  backend: BackendDef,
  action: string,
  params: Record<string, string> = {},
  ctx: ActionContext = fakeContext(),
): Promise<ActionOutput> {
  const def = backend.actions[action];
  if (!def) throw new Error(`${backend.name} has no action ${action}`);
  const r = await def.run(def.params.parse(params), ctx);
  if (def.data) def.data.parse(r.data);
  else if (r.data !== undefined) {
    throw new Error(`${backend.name} ${action} returned data without a schema`);
  }
  return r;
}
