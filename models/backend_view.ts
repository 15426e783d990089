/**
 * `GET /backends`: what the fleet's online nodes offer, backend by backend
 * and action by action, with each param as the nodes describe it
 * (models/params.ts). Built from the nodes' own records, so it is what
 * would run, not a list kept by hand.
 */
import { z } from "zod";
import { type NodeParams, ParamRule, ParamSpec } from "./params.ts";

export const BackendActionView = z.object({
  /** The online nodes offering this action. */
  nodes: z.array(z.string()),
  /** Param name → its description; empty when no node described it. */
  params: z.record(z.string(), ParamSpec),
  rules: z.array(ParamRule).optional(),
  /** Nodes that describe its params differently from the first (other versions). */
  differ: z.array(z.string()).optional(),
});
export type BackendActionView = z.infer<typeof BackendActionView>;

export const BackendView = z.object({
  name: z.string(),
  /** The online nodes offering it, in any form. */
  nodes: z.array(z.string()),
  actions: z.record(z.string(), BackendActionView),
});
export type BackendView = z.infer<typeof BackendView>;

/** One online node as the view needs it. */
export interface OfferingNode {
  id: string;
  /** Backend → the actions it registered. */
  backends: Record<string, readonly string[]>;
  /** What its actions accept, when it described them. */
  params?: NodeParams;
}

/**
 * The union over `nodes`, by backend name then action name; each action's
 * params from the first node (by id) that describes them.
 */
export function backendsView(nodes: readonly OfferingNode[]): BackendView[] {
  const out = new Map<string, BackendView>();
  const seen = new Map<string, string>();
  for (const n of [...nodes].sort((a, b) => a.id.localeCompare(b.id))) {
    for (const [name, actions] of Object.entries(n.backends)) {
      let b = out.get(name);
      if (!b) out.set(name, b = { name, nodes: [], actions: {} });
      b.nodes.push(n.id);
      for (const action of actions) {
        const desc = described(n.params, name, action);
        let a = b.actions[action];
        if (!a) b.actions[action] = a = { nodes: [], params: {} };
        a.nodes.push(n.id);
        if (!desc) continue;
        const key = `${name}\0${action}`;
        const text = JSON.stringify(desc);
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, text);
          a.params = desc.params;
          if (desc.rules) a.rules = desc.rules;
        } else if (first !== text) (a.differ ??= []).push(n.id);
      }
    }
  }
  return [...out.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((b) => ({ ...b, actions: sortedRecord(b.actions) }));
}

function described(
  np: NodeParams | undefined,
  backend: string,
  action: string,
): { params: Record<string, ParamSpec>; rules?: ParamRule[] } | undefined {
  const a = np?.actions[backend]?.[action];
  if (!a || !np) return undefined;
  const params: Record<string, ParamSpec> = {};
  for (const [name, i] of Object.entries(a.params)) {
    const spec = np.specs[i];
    if (spec) params[name] = spec;
  }
  return a.rules ? { params, rules: a.rules } : { params };
}

function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(r).sort(([a], [b]) => a.localeCompare(b)),
  );
}
