/**
 * The dashboard's libraries, Preact and htm, copied from the npm packages
 * deno.json pins into web/vendor/, so the page loads them from its own
 * origin (no CDN; the binary carries them) without a bundler. Each copy is
 * the package's own ES module; the one change is that the hooks module
 * imports Preact by relative path, as a browser without an import map
 * needs. tests/web_vendor_test.ts checks the copies still match.
 *
 *   deno run -A scripts/vendor_web.ts           # write web/vendor/
 *   deno run -A scripts/vendor_web.ts --check   # exit 1 when they differ
 */
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname!, "..");
export const VENDOR_DIR = join(ROOT, "web", "vendor");

interface Source {
  pkg: "preact" | "htm";
  file: string;
  out: string;
  /** What to change so the module loads from web/vendor/. */
  rewrite?: (text: string) => string;
}

const SOURCES: Source[] = [
  { pkg: "preact", file: "dist/preact.mjs", out: "preact.mjs" },
  {
    pkg: "preact",
    file: "hooks/dist/hooks.mjs",
    out: "hooks.mjs",
    rewrite: (t) => t.replaceAll(`from"preact"`, `from"./preact.mjs"`),
  },
  { pkg: "htm", file: "dist/htm.mjs", out: "htm.mjs" },
  { pkg: "preact", file: "LICENSE", out: "LICENSE.preact.txt" },
  { pkg: "htm", file: "LICENSE", out: "LICENSE.htm.txt" },
];

/** The version deno.json pins for `pkg` (`npm:preact@11.2.0`). */
async function pinned(pkg: string): Promise<string> {
  const config = JSON.parse(
    await Deno.readTextFile(join(ROOT, "deno.json")),
  );
  const spec: string | undefined = config.imports?.[pkg];
  const m = spec ? /^npm:[^@]+@(.+)$/.exec(spec) : null;
  if (!m) {
    throw new Error(`deno.json: imports.${pkg} must be npm:${pkg}@VERSION`);
  }
  return m[1]!;
}

async function npmCache(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).npmCache;
}

/** Every vendored file's expected content, by file name. */
export async function vendoredFiles(): Promise<Map<string, string>> {
  const cache = join(await npmCache(), "registry.npmjs.org");
  const out = new Map<string, string>();
  for (const s of SOURCES) {
    const dir = join(cache, s.pkg, await pinned(s.pkg));
    let text: string;
    try {
      text = await Deno.readTextFile(join(dir, s.file));
    } catch (e) {
      throw new Error(
        `${s.pkg}: ${join(dir, s.file)} not readable (${
          (e as Error).message
        }); run "deno install" first`,
      );
    }
    out.set(s.out, s.rewrite ? s.rewrite(text) : text);
  }
  return out;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const files = await vendoredFiles();
  let differ = 0;
  for (const [name, text] of files) {
    const path = join(VENDOR_DIR, name);
    const have = await Deno.readTextFile(path).catch(() => undefined);
    if (have === text) continue;
    if (check) {
      console.error(`web/vendor/${name} differs from the pinned package`);
      differ++;
    } else {
      await Deno.mkdir(VENDOR_DIR, { recursive: true });
      await Deno.writeTextFile(path, text);
      console.error(`wrote web/vendor/${name}`);
    }
  }
  Deno.exit(differ > 0 ? 1 : 0);
}
