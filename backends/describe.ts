/**
 * What a node tells the fleet its actions accept: each action's params as
 * data (models/params.ts), from the same building blocks its schemas are
 * made of, so a controller can check a job against what this node runs.
 */
import { createHash } from "node:crypto";
import {
  type ActionParams,
  canonicalJson,
  type NodeParams,
  packParams,
} from "../models/params.ts";
import { describeAction } from "./params.ts";
import type { BackendDef } from "./types.ts";

/** Every action's params of these backends, each distinct param once. */
export function describeParams(
  backends: Map<string, BackendDef> | Record<string, BackendDef>,
): NodeParams {
  const entries = backends instanceof Map
    ? [...backends]
    : Object.entries(backends);
  const byAction: Record<string, Record<string, ActionParams>> = {};
  for (const [name, b] of entries) {
    for (const [action, def] of Object.entries(b.actions)) {
      const d = describeAction(def.params);
      if (d) (byAction[name] ??= {})[action] = d;
    }
  }
  return packParams(byAction);
}

/**
 * The digest a node record names its description by, in every heartbeat:
 * while it stays the same, the description it sent last still holds.
 */
export function paramsDigest(np: unknown): string {
  return createHash("sha256").update(canonicalJson(np)).digest("hex").slice(
    0,
    32,
  );
}
