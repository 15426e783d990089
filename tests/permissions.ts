/** Turns a permission set from deno.json into command-line flags, so a test can add to it. */
import { join } from "node:path";
import { ROOT } from "../testing/mod.ts";

type Grant = boolean | string[];

export function permissionFlags(
  set: string,
  extra: { run?: string[] } = {},
): string[] {
  const config = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
  const perms = config.permissions[set] as Record<string, Grant>;
  const flags: string[] = [];
  for (const [name, grant] of Object.entries(perms)) {
    const list = grant === true
      ? []
      : [...(grant as string[]), ...(name === "run" ? extra.run ?? [] : [])];
    if (grant === true) flags.push(`--allow-${name}`);
    else flags.push(`--allow-${name}=${list.join(",")}`);
  }
  return flags;
}
