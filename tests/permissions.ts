/** Turns a permission set from deno.json into command-line flags, so a test can add to it. */
import { join } from "node:path";
import { ROOT } from "../testing/mod.ts";

type Grant = boolean | string[];

export function permissionFlags(
  set: string,
  extra: { run?: string[]; write?: string[] } = {},
): string[] {
  const config = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
  const perms = { ...config.permissions[set] } as Record<string, Grant>;
  // A site's write grant, as it would list it in deno.json and compile it.
  if (extra.write?.length && !("write" in perms)) perms.write = [];
  const flags: string[] = [];
  for (const [name, grant] of Object.entries(perms)) {
    const more = name === "run"
      ? extra.run ?? []
      : name === "write"
      ? extra.write ?? []
      : [];
    const list = grant === true ? [] : [...(grant as string[]), ...more];
    if (grant === true) flags.push(`--allow-${name}`);
    else flags.push(`--allow-${name}=${list.join(",")}`);
  }
  return flags;
}
