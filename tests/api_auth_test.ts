/**
 * The API's protections against a real controller process: every route
 * refuses a missing, wrong, revoked or too narrow token; CSRF-shaped
 * requests change nothing; TLS with a private CA (gridc --ca too); a
 * revocation reaches a second controller within 2 s; the audit trail and
 * `submitted_by`; the bootstrap token file is private and never logged.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { routeTable } from "../controller/api.ts";
import { apiRig } from "../controller/api_testing.ts";
import {
  authHeaders,
  type Cluster,
  ControllerSet,
  freePort,
  httpRequest,
  type Json,
  killPid,
  makeCerts,
  type Member,
  pidAlive,
  Proc,
  readBootstrapToken,
  ROOT,
  waitFor,
  withCluster,
  withControllers,
} from "./harness.ts";

const JOB = {
  target: { scope: "group", value: "web" },
  tasks: [{ backend: "test", action: "succeed" }],
};

/** Every route of the API, from the app itself: a new route is covered too. */
async function routes() {
  const r = await apiRig();
  try {
    return routeTable(r.app);
  } finally {
    await r.stop();
  }
}

/** A body that passes every check but the one under test. */
function bodyFor(method: string, path: string): unknown {
  if (method !== "POST") return undefined;
  if (path === "/job") return JOB;
  if (path === "/tokens") return { name: "made-by-attacker", scope: "admin" };
  if (path === "/nodes/enroll") return { id: "evil-01", groups: ["web"] };
  return {};
}

const concrete = (path: string) =>
  path.replace(":id", "w1").replace(":name", "ci").replace(":step", "0")
    .replace(":node", "w1");

async function jobCount(c: Cluster): Promise<number> {
  const r = await c.request("GET", "/jobs?limit=1000");
  assert.equal(r.status, 200);
  return r.json.length;
}

Deno.test("api auth: every route refuses no token, a wrong, a revoked and a too narrow one", async () => {
  const table = await routes();
  await withCluster({ workers: [{ id: "w1", groups: ["web"] }] }, async (c) => {
    const make = async (name: string, scope: string) => {
      const r = await c.request("POST", "/tokens", { name, scope });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json.token as string;
    };
    const read = await make("reader", "read");
    const operate = await make("operator", "operate");
    const revoked = await make("gone", "admin");
    assert.equal((await c.request("DELETE", "/tokens/gone")).status, 200);
    const wrong = `grid_${"A".repeat(43)}`;
    const before = await jobCount(c);

    // Open to anyone: the dashboard's files and the probes, which hold no data.
    assert.deepEqual(
      table.filter((r) => r.open).map((r) => `${r.method} ${r.path}`).sort(),
      ["GET /", "GET /healthz", "GET /readyz", "GET /ui/*"],
    );
    for (const route of table.filter((r) => !r.open)) {
      assert.ok(route.scope, `${route.method} ${route.path} has no guard`);
      const path = concrete(route.path);
      const body = bodyFor(route.method, route.path);
      const what = `${route.method} ${path}`;
      const send = (token?: string) =>
        httpRequest(`${c.api}${path}`, route.method, body, 10_000, token);

      const none = await send();
      assert.equal(none.status, 401, `${what} without a token: ${none.text}`);
      assert.match(JSON.parse(none.text).error, /missing bearer token/);
      for (const [label, t] of [["wrong", wrong], ["revoked", revoked]]) {
        const r = await send(t);
        assert.equal(r.status, 401, `${what} with a ${label} token: ${r.text}`);
        assert.match(JSON.parse(r.text).error, /unknown or revoked/);
      }
      const narrower = route.scope === "admin"
        ? operate
        : route.scope === "operate"
        ? read
        : undefined;
      if (narrower) {
        const r = await send(narrower);
        assert.equal(r.status, 403, `${what} with a narrower token: ${r.text}`);
        assert.match(JSON.parse(r.text).error, new RegExp(`"${route.scope}"`));
      }
    }
    // None of it changed anything.
    assert.equal(await jobCount(c), before);
    const tokens = (await c.request("GET", "/tokens")).json.tokens as Json[];
    assert.deepEqual(tokens.map((t) => t.name).sort(), [
      "bootstrap",
      "operator",
      "reader",
    ]);
  });
});

Deno.test("api auth: a text/plain POST and a cross-origin POST change nothing", async () => {
  await withCluster({ workers: [{ id: "w1", groups: ["web"] }] }, async (c) => {
    const make = await c.request("POST", "/tokens", {
      name: "ci",
      scope: "operate",
    });
    const operate = make.json.token as string;
    const before = await jobCount(c);
    const post = (headers: Record<string, string>, path = "/job") =>
      fetch(`${c.api}${path}`, {
        method: "POST",
        headers: { ...authHeaders(operate), ...headers },
        body: JSON.stringify(JOB),
      });

    const plain = await post({ "content-type": "text/plain" });
    assert.equal(plain.status, 415);
    assert.match((await plain.json()).error, /application\/json/);
    const form = await post({
      "content-type": "application/x-www-form-urlencoded",
    });
    assert.equal(form.status, 415);
    await form.body?.cancel();
    const foreign = await post({
      "content-type": "application/json",
      origin: "https://evil.example",
    });
    assert.equal(foreign.status, 403);
    assert.match((await foreign.json()).error, /evil\.example/);
    // No CORS headers for an origin not listed.
    assert.equal(foreign.headers.get("access-control-allow-origin"), null);

    // A job that did get in would show in the list and run within this wait.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await jobCount(c), before);

    const ok = await post({ "content-type": "application/json" });
    assert.equal(ok.status, 202);
    const id = (await ok.json()).id;
    assert.equal((await c.waitJob(id)).status, "completed");
  });
});

Deno.test("api auth: audit entries and submitted_by, read back through GET /audit", async () => {
  await withCluster({ workers: [{ id: "w1", groups: ["web"] }] }, async (c) => {
    const make = await c.request("POST", "/tokens", {
      name: "deployer",
      scope: "operate",
      ttl: "1h",
    });
    const deployer = make.json.token as string;
    const sub = await c.request("POST", "/job", JOB, deployer);
    assert.equal(sub.status, 202);
    const id = sub.json.id;
    assert.equal(sub.json.submitted_by, "deployer");
    const done = await c.waitJob(id);
    assert.equal(done.submitted_by, "deployer");
    const listed = (await c.request("GET", "/jobs")).json as Json[];
    assert.equal(listed.find((j) => j.id === id).submitted_by, "deployer");
    assert.equal(
      (await c.request("POST", `/job/${id}/cancel`, undefined, deployer))
        .status,
      409,
    );
    const denied = await c.request("POST", "/tokens", {
      name: "x",
      scope: "admin",
    }, deployer);
    assert.equal(denied.status, 403);
    assert.equal(
      (await c.request("POST", "/job", JOB, "grid_not-a-token")).status,
      401,
    );
    assert.equal((await c.request("DELETE", "/tokens/deployer")).status, 200);

    const page = await c.request("GET", "/audit?limit=5");
    assert.equal(page.status, 200);
    const rows = (page.json.entries as Json[]).map((e) =>
      [e.who, e.action, e.target ?? "", e.outcome].join(" ")
    );
    assert.deepEqual(rows, [
      "bootstrap token.revoke deployer ok",
      "- job.submit  refused",
      // A refused request's body is never read: no target.
      "deployer token.create  refused",
      `deployer job.cancel ${id} failed`,
      `deployer job.submit ${id} ok`,
    ]);
    for (const e of page.json.entries as Json[]) {
      assert.equal(e.from, "127.0.0.1");
      assert.ok(!Number.isNaN(Date.parse(e.at)));
    }
    assert.match((page.json.entries as Json[])[3].error, /already completed/);
    // Paging: the next page goes on from there, back to the first entry:
    // the worker's enrollment, made by the harness as an admin would.
    const older = await c.request("GET", `/audit?before=${page.json.next}`);
    const rest = (older.json.entries as Json[]).map((e) =>
      [e.who, e.action, e.target ?? "", e.outcome].join(" ")
    );
    assert.deepEqual(rest, [
      "bootstrap token.create deployer ok",
      "bootstrap node.enroll w1 ok",
    ]);
    assert.equal(older.json.next, undefined);
  });
});

Deno.test("api auth: the bootstrap token file is 0600 and no token is in any log", async () => {
  await withCluster({ workers: [{ id: "w1", groups: ["web"] }] }, async (c) => {
    const file = join(c.dir, "admin.token");
    const info = await Deno.stat(file);
    assert.equal(info.mode! & 0o777, 0o600);
    assert.equal((await Deno.readTextFile(file)).trim(), c.token);
    const made = await c.request("POST", "/tokens", {
      name: "ci",
      scope: "read",
    });
    await c.request("GET", "/status", undefined, made.json.token);
    await c.request("GET", "/status", undefined, `${made.json.token}x`);
    await c.request("DELETE", "/tokens/ci");
    const log = c.controller!.log.join("\n");
    assert.match(log, /admin token created.*admin\.token/);
    for (const t of [c.token!, made.json.token as string]) {
      assert.ok(!log.includes(t), "a token is in the controller's log");
      assert.ok(!log.includes(t.slice(5, 20)), "part of a token is logged");
    }
  });
});

Deno.test("api auth: a revocation reaches a second controller within 2 s", async () => {
  const set = new ControllerSet(["a", "b"], (m, all, dir) => {
    const first = all[0]!;
    const server = m === first
      ? `server: {host: 127.0.0.1, port: ${m.nats}}`
      : `server: {enabled: false}\n  client: {urls: [nats://127.0.0.1:${first.nats}]}`;
    return `api: {host: 127.0.0.1, port: ${m.api}}
nats:
  name: ${m.name}
  ${server}
  jetstream: {store_dir: ${join(dir, m.name)}}
`;
  });
  await withControllers(set, async () => {
    const [a, b] = set.members as [Member, Member];
    set.start(a);
    await set.ready(a);
    set.start(b);
    await set.ready(b);
    const made = await set.post(a, "/tokens", { name: "ci", scope: "read" });
    assert.equal(made.status, 201);
    const token = made.json.token as string;
    const statusVia = async (m: Member) =>
      (await httpRequest(
        `${set.url(m)}/status`,
        "GET",
        undefined,
        5000,
        token,
      )).status;
    await waitFor(
      "b to accept the new token",
      async () => await statusVia(b) === 200,
      5000,
    );

    const revoked = await set.api(a, "DELETE", "/tokens/ci");
    assert.equal(revoked.status, 200);
    const t0 = Date.now();
    await waitFor(
      "b to refuse the revoked token",
      async () => await statusVia(b) === 401,
      2000,
      25,
    );
    const ms = Date.now() - t0;
    assert.ok(ms < 2000, `took ${ms}ms`);
    assert.equal(await statusVia(a), 401);
  });
});

async function gridc(
  dir: string,
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=client", "client/main.ts", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", XDG_CONFIG_HOME: join(dir, "config"), ...env },
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("api auth: TLS with a private CA, for fetch and for gridc --ca", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-tls-" });
  let proc: Proc | undefined;
  const client = Deno.createHttpClient({
    caCerts: [
      await (async () => {
        await makeCerts(dir);
        return await Deno.readTextFile(join(dir, "ca.pem"));
      })(),
    ],
  });
  try {
    const port = freePort();
    const file = join(dir, "controller.yaml");
    await Deno.writeTextFile(
      file,
      `api:
  host: 127.0.0.1
  port: ${port}
  tls: {cert: ${join(dir, "server.pem")}, key: ${join(dir, "server.key")}}
nats:
  server: {host: 127.0.0.1, port: ${freePort()}}
  jetstream: {store_dir: ${join(dir, "js")}}
`,
    );
    proc = new Proc("controller", [
      "run",
      "-P=controller",
      "controller/main.ts",
      "-c",
      file,
    ], { TMPDIR: dir });
    const api = `https://127.0.0.1:${port}`;
    let token: string | undefined;
    await waitFor("the https API", async () => {
      if (!proc!.running) throw new Error(`exited\n${proc!.dump()}`);
      token ??= readBootstrapToken(file);
      if (token === undefined) return false;
      const r = await fetch(`${api}/status`, {
        client,
        headers: authHeaders(token),
      });
      await r.body?.cancel();
      return r.ok;
    }, 30_000);
    assert.match(proc.log.join("\n"), new RegExp(`api listening url=${api}`));

    // Without the CA the certificate is not trusted.
    await assert.rejects(() => fetch(`${api}/status`));
    // Plain HTTP to the TLS port gets nowhere.
    const plain = await fetch(`http://127.0.0.1:${port}/status`).then(
      async (r) => {
        await r.body?.cancel();
        return r.status;
      },
      () => "refused",
    );
    assert.notEqual(plain, 200);

    const ok = await gridc(
      dir,
      { GRID_TOKEN: token! },
      "-a",
      api,
      "--ca",
      join(dir, "ca.pem"),
      "-o",
      "json",
      "status",
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).status, "active");
    const viaEnv = await gridc(
      dir,
      { GRID_TOKEN: token!, GRID_CA: join(dir, "ca.pem") },
      "-a",
      api,
      "status",
    );
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const untrusted = await gridc(
      dir,
      { GRID_TOKEN: token! },
      "-a",
      api,
      "status",
    );
    assert.equal(untrusted.code, 4);
    assert.match(untrusted.stderr, /cannot reach the controller/);
    assert.equal(untrusted.stderr.trim().split("\n").length, 1);
  } finally {
    client.close();
    const kids = proc?.children() ?? [];
    await proc?.stop();
    for (const k of kids) if (pidAlive(k)) killPid(k);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
