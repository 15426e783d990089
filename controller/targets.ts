/**
 * Which nodes a job is for, and whether they can run it: pure functions of
 * the registry snapshot and the time.
 */
import { type JobSpec, leavesOf, type Target } from "../models/job.ts";
import type { NodeRecord } from "../models/node.ts";
import type { NodeParams } from "../models/params.ts";
import { parseSelector, selects } from "../models/selector.ts";
import { checkParamsOnNodes } from "./param_check.ts";

export function isOnline(
  n: NodeRecord,
  now: number,
  offlineAfterMs: number,
): boolean {
  return n.status === "online" &&
    now - Date.parse(n.last_seen) < offlineAfterMs;
}

export function matches(n: NodeRecord, t: Target): boolean {
  return matcher(t)(n);
}

/** The target as a test of one node; a selector is parsed once for a fleet. */
export function matcher(t: Target): (n: NodeRecord) => boolean {
  if (t.selector !== undefined) {
    const p = parseSelector(t.selector);
    // Checked at submit; a record that holds a bad one selects nobody.
    if (!p.ok) return () => false;
    return (n) => selects(p.selector, n);
  }
  switch (t.scope) {
    case "all":
      return () => true;
    case "group":
      return (n) => n.groups.includes(t.value!);
    case "node":
      return (n) => n.id === t.value;
  }
}

export interface Resolution {
  online: string[];
  offline: string[];
}

/** Splits the nodes a target matches into online and offline, sorted by id. */
export function resolveTarget(
  nodes: Iterable<NodeRecord>,
  target: Target,
  now: number,
  offlineAfterMs: number,
): Resolution {
  const online: string[] = [];
  const offline: string[] = [];
  const match = matcher(target);
  for (const n of nodes) {
    if (!match(n)) continue;
    (isOnline(n, now, offlineAfterMs) ? online : offline).push(n.id);
  }
  online.sort();
  offline.sort();
  return { online, offline };
}

export function describeTarget(t: Target): string {
  if (t.selector !== undefined) return `selector "${t.selector}"`;
  return t.scope === "all" ? "all nodes" : `${t.scope} "${t.value}"`;
}

/**
 * Checks a job against the fleet: the target must match a registered node,
 * every leaf's backend and action must exist on the nodes it will run on,
 * and its params must be accepted by each of them that describes them
 * (`paramsOf`). Returns the first problem, naming the field, or undefined.
 */
export function checkAgainstFleet(
  spec: JobSpec,
  nodes: ReadonlyMap<string, NodeRecord>,
  now: number,
  offlineAfterMs: number,
  paramsOf: (id: string) => NodeParams | undefined = () => undefined,
): string | undefined {
  const { online, offline } = resolveTarget(
    nodes.values(),
    spec.target,
    now,
    offlineAfterMs,
  );
  if (online.length + offline.length === 0) {
    return `target: no registered node matches ${describeTarget(spec.target)}`;
  }
  // Judge capabilities by the nodes that will run the job; if all are
  // offline, by what they last reported.
  const judged = (online.length > 0 ? online : offline).map((id) =>
    nodes.get(id)!
  );
  const leaves = leavesOf(spec.tasks).map((l) => ({
    path: l.path,
    backend: l.task.backend!,
    action: l.task.action!,
  }));
  for (const leaf of leaves) {
    const lacking = judged.filter((n) => !(leaf.backend in n.backends));
    if (lacking.length === judged.length) {
      return `${leaf.path}.backend: unknown backend "${leaf.backend}" (no targeted node has it)`;
    }
    if (lacking.length > 0) {
      return `${leaf.path}.backend: backend "${leaf.backend}" is not available on node ${
        lacking.slice(0, 5).map((n) => n.id).join(", ")
      }${lacking.length > 5 ? ` and ${lacking.length - 5} more` : ""}`;
    }
    const noAction = judged.filter((n) =>
      !n.backends[leaf.backend]!.includes(leaf.action)
    );
    if (noAction.length > 0) {
      return `${leaf.path}.action: unknown action "${leaf.action}" for backend "${leaf.backend}"`;
    }
  }
  return checkParamsOnNodes(spec, judged, paramsOf);
}

/** The fleet as the runner sees it: the node registry, kept current. */
export interface Fleet {
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  isOnline(id: string, now?: number): boolean;
  /**
   * When this view was last known current: a write of the controller's own
   * came back through it. Node records can be trusted to be recent only
   * while it does (fleetCurrent in sweep.ts).
   */
  readonly freshAt: number;
  /**
   * What node `id` advertised its actions accept, when this controller
   * has it (not from workers older than that).
   */
  paramsOf?(id: string): NodeParams | undefined;
}
