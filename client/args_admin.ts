/** Arguments of the admin commands: tokens, the audit trail, enrollment. */
import { TokenScope } from "../models/auth.ts";
import { parseDuration } from "../models/duration.ts";
import { NodeId, Token } from "../models/names.ts";
import { parseLabelPairs } from "../models/selector.ts";
import type { Command } from "./args.ts";
import { positiveInt, seeHelp, str, UsageError, type Values } from "./usage.ts";

export function tokenCreate(values: Values, name: string): Command {
  checkName("token name", Token, name);
  const scope = str(values.scope);
  if (scope === undefined) {
    throw new UsageError(
      `missing --scope read|operate|admin (${seeHelp("token create")})`,
    );
  }
  const r = TokenScope.safeParse(scope);
  if (!r.success) {
    throw new UsageError(`--scope "${scope}": use read, operate or admin`);
  }
  const cmd: Extract<Command, { kind: "token create" }> = {
    kind: "token create",
    name,
    scope: r.data,
  };
  const ttl = str(values.ttl);
  if (ttl !== undefined) {
    const ms = parseDuration(ttl);
    if (ms === undefined || ms <= 0) {
      throw new UsageError(
        `--ttl "${ttl}": not a duration (use e.g. 12h, 720h, 30m)`,
      );
    }
    cmd.ttl = ttl;
  }
  return cmd;
}

export function audit(values: Values): Command {
  const cmd: Extract<Command, { kind: "audit" }> = { kind: "audit" };
  const limit = str(values.limit);
  if (limit !== undefined) cmd.limit = positiveInt("--limit", limit);
  const before = str(values.before);
  if (before !== undefined) cmd.before = positiveInt("--before", before);
  return cmd;
}

export function nodeEnroll(values: Values, id: string): Command {
  checkName("node id", NodeId, id);
  const text = str(values.groups) ?? "";
  const groups = text === "" ? [] : text.split(",").map((g) => g.trim());
  for (const g of groups) checkName("--groups: group", Token, g);
  if (new Set(groups).size !== groups.length) {
    throw new UsageError(`--groups "${text}": a group is listed twice`);
  }
  const out = str(values.out);
  const labelText = str(values.label);
  const labels = labelText === undefined
    ? undefined
    : parseLabelPairs(labelText);
  if (labels && !labels.ok) {
    throw new UsageError(`--label "${labelText}": ${labels.error}`);
  }
  return {
    kind: "node enroll",
    id,
    groups,
    ...(labels?.ok && Object.keys(labels.labels).length > 0
      ? { labels: labels.labels }
      : {}),
    ...(out === undefined ? {} : { out }),
  };
}

function checkName(
  what: string,
  schema: typeof Token,
  value: string,
): void {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new UsageError(`${what} "${value}" ${r.error.issues[0]!.message}`);
  }
}
