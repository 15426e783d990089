/**
 * A job's params checked at submit against what each targeted node runs:
 * the descriptions their workers advertise (models/params.ts), so a bad
 * param in step 1 is refused before step 0 changes the fleet. Nodes that
 * advertise none (workers older than this check, or not heard in full
 * since this controller started) are not checked here; their workers
 * still check on their side.
 */
import { type JobSpec, leavesOf } from "../models/job.ts";
import type { NodeRecord } from "../models/node.ts";
import {
  actionParams,
  checkParams,
  type NodeParams,
} from "../models/params.ts";

/** "a, b, c" or "a, …, e and 7 more". */
export function nodeList(ids: readonly string[], max = 5): string {
  const shown = ids.slice(0, max).join(", ");
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

/**
 * The first step whose params some targeted node would refuse, with every
 * problem it has, each named by its path (`tasks[1].params.package: …`),
 * and the nodes that refuse it; undefined when none would.
 */
export function checkParamsOnNodes(
  spec: JobSpec,
  judged: readonly NodeRecord[],
  paramsOf: (id: string) => NodeParams | undefined,
): string | undefined {
  // Nodes running the same description are checked once.
  const groups = new Map<NodeParams, string[]>();
  for (const n of judged) {
    const np = paramsOf(n.id);
    if (np) groups.set(np, [...(groups.get(np) ?? []), n.id]);
  }
  if (groups.size === 0) return undefined;
  for (const leaf of leavesOf(spec.tasks)) {
    const refusals = new Map<string, string[]>();
    for (const [np, ids] of groups) {
      const ap = actionParams(np, leaf.task.backend!, leaf.task.action!);
      if (!ap) continue;
      const issues = checkParams(ap, leaf.task.params ?? {});
      if (issues.length === 0) continue;
      const text = issues.map((i) =>
        `${leaf.path}.params.${i.param}: ${i.message}`
      ).join("; ");
      refusals.set(text, [...(refusals.get(text) ?? []), ...ids]);
    }
    const [first] = refusals;
    if (first) {
      const [text, ids] = first;
      return `${text} (refused by node ${nodeList(ids.sort())})`;
    }
  }
  return undefined;
}
