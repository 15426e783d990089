/** The dashboard's files, served by the API without a token. */
import assert from "node:assert/strict";
import { apiRig } from "./api_testing.ts";
import { CSP } from "./web.ts";

Deno.test("web: the page and its files need no token; the API still does", async () => {
  const r = await apiRig();
  try {
    const page = await r.call("GET", "/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    assert.equal(page.headers.get("content-security-policy"), CSP);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    const html = await page.text();
    assert.match(html, /src="\/ui\/app\.js"/);
    assert.ok(!/<script>/.test(html), "no inline script: the CSP forbids it");

    for (
      const [path, type] of [
        ["/ui/app.js", /^text\/javascript/],
        ["/ui/vendor/preact.mjs", /^text\/javascript/],
        ["/ui/style.css", /^text\/css/],
      ] as const
    ) {
      const res = await r.call("GET", path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type")!, type);
      const etag = res.headers.get("etag")!;
      await res.body?.cancel();
      const again = await r.call("GET", path, {
        headers: { "if-none-match": etag },
      });
      assert.equal(again.status, 304, `${path} revalidates`);
    }
    for (const bad of ["/ui/../deno.json", "/ui/nope.js", "/ui/%2e%2e/x"]) {
      const res = await r.call("GET", bad);
      assert.equal(res.status, 404, bad);
      await res.body?.cancel();
    }
    const api = await r.call("GET", "/jobs");
    assert.equal(api.status, 401);
    await api.body?.cancel();
  } finally {
    await r.stop();
  }
});
