/**
 * What a compiled binary carries: the metadata deno compile embeds in it,
 * and a check that its permissions, prompting and entry point are exactly
 * those of its program's set, so a binary cannot ship with more (or less)
 * than its dev task runs with.
 */
import { BuildError, type PermissionSet, type Program } from "./compile.ts";

/**
 * The metadata deno compile embeds in a binary (a JSON object that begins
 * `{"argv":`), or undefined when it cannot be found.
 */
export function readCompileMetadata(
  bytes: Uint8Array,
): Record<string, unknown> | undefined {
  const marker = new TextEncoder().encode('{"argv":');
  let from = 0;
  while (true) {
    const at = indexOf(bytes, marker, from);
    if (at < 0) return undefined;
    const end = jsonObjectEnd(bytes, at);
    if (end > at) {
      try {
        return JSON.parse(new TextDecoder().decode(bytes.subarray(at, end)));
      } catch { /* not it: look further */ }
    }
    from = at + 1;
  }
}

type Embedded = string[] | null;

/**
 * The `permissions` deno compile embeds for a set: `true` is an empty list
 * (everything), a list stays a list, absent is null. Import permissions are
 * left out unless the set names them (deno adds its default hosts).
 */
export function embeddedPermissions(
  set: PermissionSet,
): Record<string, Embedded | boolean> {
  const norm = (v: boolean | string[] | undefined): Embedded =>
    v === true ? [] : Array.isArray(v) ? v : null;
  const out: Record<string, Embedded | boolean> = {};
  for (
    const kind of ["env", "net", "ffi", "read", "run", "sys", "write", "import"]
  ) {
    const v = set[kind];
    if (kind === "import" && v === undefined) continue;
    const o = typeof v === "object" && !Array.isArray(v) ? v : { allow: v };
    out[`allow_${kind}`] = norm(o.allow);
    out[`deny_${kind}`] = norm(o.deny);
    if (kind === "env" || kind === "read") {
      out[`ignore_${kind}`] = norm(o.ignore);
    }
  }
  for (const key of Object.keys(set)) {
    if (
      !["env", "net", "ffi", "read", "run", "sys", "write", "import"].includes(
        key,
      )
    ) {
      throw new BuildError(
        `permission "${key}" is not known to the build's check`,
      );
    }
  }
  out.prompt = false;
  return out;
}

/**
 * Differences between what a compiled binary carries and what its program
 * should: permissions, prompting and entry point. Empty when they agree.
 */
export function checkEmbedded(
  p: Program,
  metadata: Record<string, unknown>,
): string[] {
  const problems: string[] = [];
  const got = (metadata.permissions ?? {}) as Record<string, unknown>;
  for (
    const [key, want] of Object.entries(embeddedPermissions(p.permissions))
  ) {
    const have = got[key];
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      problems.push(
        `${p.name}: ${key} is ${
          JSON.stringify(have)
        }, permissions.${p.permissionSet} says ${JSON.stringify(want)}`,
      );
    }
  }
  const entry = metadata.entrypoint_key;
  if (entry !== undefined && entry !== p.entry) {
    problems.push(`${p.name}: entry point is ${entry}, not ${p.entry}`);
  }
  return problems;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  outer: for (
    let i = hay.indexOf(first, from);
    i >= 0;
    i = hay.indexOf(first, i + 1)
  ) {
    if (i + needle.length > hay.length) return -1;
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** End (exclusive) of the JSON object starting at `start`, or -1. */
function jsonObjectEnd(bytes: Uint8Array, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return i + 1;
    } else if (c === 0) return -1;
  }
  return -1;
}
