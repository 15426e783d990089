/**
 * The web dashboard's files (web/), served by the API on its own port, so
 * the page and the API share one origin and the API's Origin check needs
 * no exception. The files are read once at start-up: from the checkout,
 * or from the binary, which carries them (`deno compile --include web`).
 * They need no token: they hold no data, and the page asks for a token
 * before it calls the API.
 */
import type { Hono } from "hono";
import type { ApiEnv, Open } from "./api_auth.ts";

export const WEB_DIR = new URL("../web/", import.meta.url);

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
};

/**
 * Everything the page may load comes from here; no inline script, no
 * framing, no form posts elsewhere.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

export interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

/** Every file under `dir` by its path relative to it ("vendor/preact.js"). */
export async function loadAssets(
  dir: URL = WEB_DIR,
): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>();
  const walk = async (sub: string) => {
    for await (const e of Deno.readDir(new URL(sub, dir))) {
      const rel = sub + e.name;
      if (e.isDirectory) await walk(rel + "/");
      else if (e.isFile && !e.name.startsWith(".")) {
        const body = await Deno.readFile(new URL(rel, dir));
        const ext = e.name.split(".").pop() ?? "";
        const hash = new Uint8Array(
          await crypto.subtle.digest("SHA-256", body),
        );
        const etag = `"${
          Array.from(hash.slice(0, 12), (b) => b.toString(16).padStart(2, "0"))
            .join("")
        }"`;
        out.set(rel, {
          body,
          type: TYPES[ext] ?? "application/octet-stream",
          etag,
        });
      }
    }
  };
  try {
    await walk("");
  } catch (e) {
    // A build without the dashboard still serves the API.
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

export function webRoutes(
  app: Hono<ApiEnv>,
  assets: ReadonlyMap<string, Asset>,
  open: () => Open,
): void {
  const serve = (name: string, ifNoneMatch: string | undefined) => {
    const a = assets.get(name);
    if (!a) return undefined;
    const headers: Record<string, string> = {
      "content-type": a.type,
      etag: a.etag,
      // Revalidated every time: a new binary's files are used at once.
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    };
    if (a.type.startsWith("text/html")) {
      headers["content-security-policy"] = CSP;
      headers["x-frame-options"] = "DENY";
    }
    if (ifNoneMatch === a.etag) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(a.body, { headers });
  };
  app.get("/", open(), (c) => {
    return serve("index.html", c.req.header("if-none-match")) ??
      c.json({ error: "the web dashboard is not part of this build" }, 404);
  });
  app.get("/ui/*", open(), (c) => {
    const name = c.req.path.slice("/ui/".length);
    return serve(name, c.req.header("if-none-match")) ??
      c.json({ error: `no such file: ${c.req.path}` }, 404);
  });
}
