/**
 * web/vendor/ holds Preact and htm exactly as the npm packages deno.json
 * pins (hooks importing Preact by relative path): a version bump in
 * deno.json without `deno run -A scripts/vendor_web.ts` fails here.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { VENDOR_DIR, vendoredFiles } from "../scripts/vendor_web.ts";

Deno.test("web/vendor matches the pinned npm packages", async () => {
  const want = await vendoredFiles();
  const have = [...Deno.readDirSync(VENDOR_DIR)].map((e) => e.name).sort();
  assert.deepEqual(have, [...want.keys()].sort());
  for (const [name, text] of want) {
    assert.equal(
      await Deno.readTextFile(join(VENDOR_DIR, name)),
      text,
      `web/vendor/${name}: run deno run -A scripts/vendor_web.ts`,
    );
  }
  // No bare specifier is left for a browser without an import map.
  assert.match(want.get("hooks.mjs")!, /from"\.\/preact\.mjs"/);
  assert.ok(!/from"preact"/.test(want.get("hooks.mjs")!));
});
