/** The API's guards, through `app.request()` over in-memory stand-ins. */
import assert from "node:assert/strict";
import { routeTable } from "./api.ts";
import { apiRig } from "./api_testing.ts";

const JOB = JSON.stringify({
  target: { scope: "group", value: "web" },
  tasks: [{ backend: "test", action: "succeed" }],
});
const JSON_TYPE = "application/json";

type Rig = Awaited<ReturnType<typeof apiRig>>;

async function withRig(
  fn: (r: Rig) => Promise<void> | void,
  opts: Parameters<typeof apiRig>[0] = {},
): Promise<void> {
  const r = await apiRig(opts);
  try {
    await fn(r);
  } finally {
    await r.stop();
  }
}

Deno.test("api auth: every route has a guard naming its scope", () =>
  withRig((r) => {
    const all = routeTable(r.app);
    assert.ok(all.length >= 14, `only ${all.length} routes`);
    // Open to anyone: the dashboard's files and the probes, nothing else.
    assert.deepEqual(
      all.filter((x) => x.open).map((x) => `${x.method} ${x.path}`).sort(),
      ["GET /", "GET /healthz", "GET /readyz", "GET /ui/*"],
    );
    const routes = all.filter((x) => !x.open);
    for (const route of routes) {
      assert.ok(route.scope, `${route.method} ${route.path} has no guard`);
      // A plan is a POST for its body only: it changes nothing.
      const changing = route.method !== "GET" && route.path !== "/job/plan";
      assert.equal(
        route.action !== undefined,
        changing,
        `${route.method} ${route.path}: audited iff it changes state`,
      );
      if (
        route.method === "GET" && !["/tokens", "/audit"].includes(route.path)
      ) {
        assert.equal(route.scope, "read", `${route.method} ${route.path}`);
      }
    }
    const scopeOf = (m: string, p: string) =>
      routes.find((x) => x.method === m && x.path === p)?.scope;
    assert.equal(scopeOf("POST", "/job"), "operate");
    assert.equal(scopeOf("POST", "/job/:id/cancel"), "operate");
    assert.equal(scopeOf("POST", "/job/plan"), "read");
    for (
      const [m, p] of [
        ["POST", "/tokens"],
        ["GET", "/tokens"],
        ["DELETE", "/tokens/:name"],
        ["GET", "/audit"],
        ["POST", "/nodes/enroll"],
        ["POST", "/node/:id/revoke"],
      ]
    ) assert.equal(scopeOf(m!, p!), "admin", `${m} ${p}`);
  }));

Deno.test("api auth: no token is 401 with a Bearer challenge and says what is missing", () =>
  withRig(async (r) => {
    const res = await r.call("GET", "/status");
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="grid"');
    const body = await res.json();
    assert.match(body.error, /missing bearer token/);
    assert.match(body.error, /Authorization: Bearer/);
  }));

Deno.test("api auth: a malformed header, an unknown and a revoked token are 401 invalid", () =>
  withRig(async (r) => {
    const basic = await r.call("GET", "/status", {
      headers: { authorization: "Basic dXNlcjpwdw==" },
    });
    assert.equal(basic.status, 401);
    assert.match(
      basic.headers.get("www-authenticate")!,
      /^Bearer realm="grid", error="invalid_request"/,
    );
    await basic.body?.cancel();

    const unknown = await r.call("GET", "/status", { token: "grid_nope" });
    assert.equal(unknown.status, 401);
    assert.match(
      unknown.headers.get("www-authenticate")!,
      /error="invalid_token"/,
    );
    assert.match((await unknown.json()).error, /unknown or revoked/);

    assert.equal(
      (await r.call("GET", "/status", { scope: "read" })).status,
      200,
    );
    await r.tokens.revoke("reader");
    const revoked = await r.call("GET", "/status", { scope: "read" });
    assert.equal(revoked.status, 401);
    assert.match((await revoked.json()).error, /unknown or revoked/);
  }));

Deno.test("api auth: an expired token is 401 and says so", () =>
  withRig(async (r) => {
    const { token } = await r.tokens.create("brief", "read", "t", 1000);
    assert.equal((await r.call("GET", "/status", { token })).status, 200);
    await r.clock.advance(1000);
    const res = await r.call("GET", "/status", { token });
    assert.equal(res.status, 401);
    assert.match((await res.json()).error, /expired/);
  }));

Deno.test("api auth: too small a scope is 403 naming the scope needed and the token's", () =>
  withRig(async (r) => {
    const res = await r.call("POST", "/job", {
      scope: "read",
      type: JSON_TYPE,
      body: JOB,
    });
    assert.equal(res.status, 403);
    assert.match(
      res.headers.get("www-authenticate")!,
      /error="insufficient_scope", scope="operate"/,
    );
    const { error } = await res.json();
    assert.match(error, /scope "operate"/);
    assert.match(error, /token "reader" has scope "read"/);
    const tokens = await r.call("GET", "/tokens", { scope: "operate" });
    assert.equal(tokens.status, 403);
    assert.match((await tokens.json()).error, /scope "admin"/);
    assert.equal(r.store.count("pending"), 0);
  }));

Deno.test("api auth: scopes nest: admin may operate and read, operate may read", () =>
  withRig(async (r) => {
    for (const scope of ["read", "operate", "admin"] as const) {
      assert.equal((await r.call("GET", "/jobs", { scope })).status, 200);
    }
    for (const scope of ["operate", "admin"] as const) {
      const res = await r.call("POST", "/job", {
        scope,
        type: JSON_TYPE,
        body: JOB,
      });
      assert.equal(res.status, 202, await res.text());
    }
  }));

Deno.test("api auth: a text/plain or untyped body is 415 and nothing is created", () =>
  withRig(async (r) => {
    for (
      const type of [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
      ]
    ) {
      const res = await r.call("POST", "/job", {
        scope: "operate",
        type,
        body: JOB,
      });
      assert.equal(res.status, 415, type);
      assert.match(
        (await res.json()).error,
        /application\/json or application\/yaml/,
      );
    }
    const untyped = await r.app.request("http://127.0.0.1:8765/job", {
      method: "POST",
      headers: { authorization: `Bearer ${r.token.operate}` },
      body: new TextEncoder().encode(JOB),
    });
    assert.equal(untyped.status, 415);
    await untyped.body?.cancel();
    // A route that reads no body still refuses a type a form can send.
    const cancel = await r.call("POST", "/job/j1/cancel", {
      scope: "operate",
      type: "text/plain",
      body: "x",
    });
    assert.equal(cancel.status, 415);
    await cancel.body?.cancel();
    assert.equal([...r.store.values()].length, 0);
  }));

Deno.test("api auth: a YAML body is taken", () =>
  withRig(async (r) => {
    for (
      const type of [
        "application/yaml",
        "application/x-yaml",
        "text/yaml; charset=utf-8",
      ]
    ) {
      const res = await r.call("POST", "/job", {
        scope: "operate",
        type,
        body:
          "target: {scope: group, value: web}\ntasks:\n  - {backend: test, action: succeed}\n",
      });
      assert.equal(res.status, 202, await res.text());
    }
    const bad = await r.call("POST", "/job", {
      scope: "operate",
      type: "application/yaml",
      body: "tasks: [\n",
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /not valid YAML/);
  }));

Deno.test("api auth: a state change from another origin is 403; the API's own and listed ones pass", () =>
  withRig(async (r) => {
    const post = (origin: string) =>
      r.call("POST", "/job", {
        scope: "operate",
        type: JSON_TYPE,
        body: JOB,
        headers: { origin },
      });
    const evil = await post("https://evil.example");
    assert.equal(evil.status, 403);
    assert.match(
      (await evil.json()).error,
      /https:\/\/evil\.example.*api\.cors_origins/,
    );
    assert.equal([...r.store.values()].length, 0);
    assert.equal((await post("http://127.0.0.1:8765")).status, 202);
    assert.equal((await post("https://ops.example")).status, 202);
  }, { corsOrigins: ["https://ops.example"] }));

Deno.test("api auth: CORS headers only for listed origins", async () => {
  await withRig(async (r) => {
    const listed = await r.call("GET", "/status", {
      scope: "read",
      headers: { origin: "https://ops.example" },
    });
    assert.equal(
      listed.headers.get("access-control-allow-origin"),
      "https://ops.example",
    );
    await listed.body?.cancel();
    const other = await r.call("GET", "/status", {
      scope: "read",
      headers: { origin: "https://evil.example" },
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    await other.body?.cancel();
    const preflight = await r.call("OPTIONS", "/job", {
      headers: {
        origin: "https://ops.example",
        "access-control-request-method": "POST",
      },
    });
    assert.equal(preflight.status, 204);
    assert.match(
      preflight.headers.get("access-control-allow-headers")!,
      /Authorization/,
    );
  }, { corsOrigins: ["https://ops.example"] });
  await withRig(async (r) => {
    const res = await r.call("GET", "/status", {
      scope: "read",
      headers: { origin: "https://ops.example" },
    });
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    await res.body?.cancel();
  });
});

Deno.test("api auth: state changes and refusals are audited; reads are not; no token text", () =>
  withRig(async (r) => {
    const ok = await r.call("POST", "/job", {
      scope: "operate",
      type: JSON_TYPE,
      body: JOB,
    });
    const job = await ok.json();
    assert.equal(job.submitted_by, "operator");
    await (await r.call("POST", "/job", {
      token: "grid_wrong",
      type: JSON_TYPE,
      body: JOB,
    })).body?.cancel();
    await (await r.call("POST", "/tokens", {
      scope: "read",
      type: JSON_TYPE,
      body: "{}",
    })).body?.cancel();
    await (await r.call("GET", "/jobs", { scope: "read" })).body?.cancel();
    const created = await r.call("POST", "/tokens", {
      scope: "admin",
      type: JSON_TYPE,
      body: JSON.stringify({ name: "ci", scope: "read" }),
    });
    assert.equal(created.status, 201);
    const { token } = await created.json();
    const gone = await r.call("DELETE", "/tokens/nope", { scope: "admin" });
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    const summary = r.audit.entries.map((e) =>
      `${e.who} ${e.action} ${e.target ?? ""} ${e.outcome}`
    );
    assert.deepEqual(summary, [
      `operator job.submit ${job.id} ok`,
      "- job.submit  refused",
      "reader token.create  refused",
      "admin token.create ci ok",
      "admin token.revoke nope failed",
    ]);
    assert.match(r.audit.entries[1]!.error!, /unknown or revoked/);
    assert.match(r.audit.entries[4]!.error!, /no token named "nope"/);
    const text = JSON.stringify(r.audit.entries);
    for (const t of [token, ...Object.values(r.token), "grid_wrong"]) {
      assert.ok(!text.includes(t), "a token is in the audit trail");
    }
    const page =
      await (await r.call("GET", "/audit?limit=2", { scope: "admin" })).json();
    assert.deepEqual(page.entries.map((e: { seq: number }) => e.seq), [5, 4]);
    assert.equal(page.next, 4);
  }));

Deno.test("api auth: token routes: create shows the token once, list never, the last admin stays", () =>
  withRig(async (r) => {
    const res = await r.call("POST", "/tokens", {
      scope: "admin",
      type: JSON_TYPE,
      body: JSON.stringify({ name: "ci", scope: "operate", ttl: "1h" }),
    });
    assert.equal(res.status, 201);
    const created = await res.json();
    assert.match(created.token, /^grid_/);
    assert.equal(created.created_by, "admin");
    assert.ok(created.expires_at);
    const list = await (await r.call("GET", "/tokens", { scope: "admin" }))
      .text();
    assert.ok(!list.includes(created.token));
    assert.ok(!list.includes('"hash"'));
    const dup = await r.call("POST", "/tokens", {
      scope: "admin",
      type: JSON_TYPE,
      body: JSON.stringify({ name: "ci", scope: "read" }),
    });
    assert.equal(dup.status, 409);
    await dup.body?.cancel();
    const last = await r.call("DELETE", "/tokens/admin", { scope: "admin" });
    assert.equal(last.status, 409);
    assert.match((await last.json()).error, /last admin token/);
    const revoked = await r.call("DELETE", "/tokens/ci", { scope: "admin" });
    assert.equal(revoked.status, 200);
    await revoked.body?.cancel();
    assert.equal(
      (await r.call("GET", "/status", { token: created.token })).status,
      401,
    );
  }));

Deno.test("api auth: enrollment goes to nodeAdmin with who asked", () =>
  withRig(async (r) => {
    const res = await r.call("POST", "/nodes/enroll", {
      scope: "admin",
      type: JSON_TYPE,
      body: JSON.stringify({ id: "web-03", groups: ["web"] }),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), {
      id: "web-03",
      groups: ["web"],
      creds: "creds of web-03",
    });
    assert.deepEqual(r.enrolled, [{
      id: "web-03",
      groups: ["web"],
      by: "admin",
    }]);
    const bad = await r.call("POST", "/nodes/enroll", {
      scope: "admin",
      type: JSON_TYPE,
      body: JSON.stringify({ id: "a b", groups: ["web.x"] }),
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const revoke = await r.call("POST", "/node/web-01/revoke", {
      scope: "admin",
    });
    assert.equal(revoke.status, 200);
    const view = await revoke.json();
    assert.equal(view.id, "web-01");
    assert.equal(view.status, "revoked");
  }));

Deno.test("api auth: switched off, nothing is asked for and nothing is kept as submitter", () =>
  withRig(async (r) => {
    const res = await r.call("POST", "/job", { type: JSON_TYPE, body: JOB });
    assert.equal(res.status, 202);
    assert.equal((await res.json()).submitted_by, undefined);
    assert.equal((await r.call("GET", "/tokens")).status, 200);
    assert.equal(r.audit.entries[0]!.who, "-");
  }, { auth: false }));
