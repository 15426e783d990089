/** gridc's token lookup, its auth messages, and the admin commands, on a fake controller. */
import assert from "node:assert/strict";
import { helpText } from "./help.ts";
import { parseCli } from "./args.ts";
import { fakeController, gridc, NOW } from "./testing.ts";

const TOKEN = "grid_" + "t".repeat(43);

/** Answers 401 unless the request carries `want`; records what it got. */
function guarded(want: string) {
  const seen: (string | null)[] = [];
  const ctl = fakeController((req, url) => {
    seen.push(req.headers.get("authorization"));
    if (req.headers.get("authorization") !== `Bearer ${want}`) {
      return Response.json({ error: "unknown or revoked bearer token" }, {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="grid"' },
      });
    }
    const p = url.pathname;
    if (req.method === "POST" && p === "/tokens") {
      return Response.json({
        name: "ci",
        scope: "operate",
        created_at: new Date(NOW).toISOString(),
        created_by: "admin",
        token: TOKEN,
      }, { status: 201 });
    }
    if (p === "/tokens") {
      return Response.json({
        tokens: [{
          name: "ci",
          scope: "operate",
          created_at: new Date(NOW - 3600_000).toISOString(),
          created_by: "admin",
        }],
      });
    }
    if (req.method === "DELETE" && p === "/tokens/ci") {
      return Response.json({
        name: "ci",
        scope: "operate",
        created_at: new Date(NOW).toISOString(),
        created_by: "admin",
      });
    }
    if (p === "/audit") {
      return Response.json({
        entries: [{
          seq: 7,
          at: new Date(NOW).toISOString(),
          who: "ci",
          from: "10.0.0.9",
          action: "job.submit",
          target: "j1",
          outcome: "ok",
        }],
        next: 7,
      });
    }
    if (req.method === "POST" && p === "/nodes/enroll") {
      return Response.json({
        id: "web-09",
        groups: ["web"],
        creds: "-----BEGIN NATS USER JWT-----\n...",
      }, { status: 201 });
    }
    if (req.method === "POST" && p === "/node/web-09/revoke") {
      return Response.json({ id: "web-09", status: "revoked" });
    }
  });
  return { ctl, seen };
}

Deno.test("gridc auth: --token, then GRID_TOKEN, then the tokens file entry for the API's origin", async () => {
  const { ctl, seen } = guarded(TOKEN);
  await using _ = ctl;
  const file = JSON.stringify({
    [ctl.url]: TOKEN,
    "https://other.example:8765": "grid_other",
  });
  const readFile = (path: string) =>
    path === "/home/me/.config/grid/tokens.json"
      ? Promise.resolve(file)
      : Promise.reject(new Deno.errors.NotFound(path));
  const fromFile = await gridc(["-a", ctl.url, "token", "list"], {
    readFile,
    env: { HOME: "/home/me" },
  });
  assert.equal(fromFile.code, 0, fromFile.err);
  assert.match(fromFile.out, /ci\s+operate\s+1h ago\s+admin\s+never/);
  const envWins = await gridc(["-a", ctl.url, "token", "list"], {
    readFile,
    env: { HOME: "/home/me", GRID_TOKEN: "grid_env" },
  });
  assert.equal(envWins.code, 4);
  const flagWins = await gridc(
    ["-a", ctl.url, "--token", TOKEN, "token", "list"],
    { readFile, env: { HOME: "/home/me", GRID_TOKEN: "grid_env" } },
  );
  assert.equal(flagWins.code, 0, flagWins.err);
  // XDG_CONFIG_HOME is where the file is looked for first.
  const xdg = await gridc(["-a", ctl.url, "token", "list"], {
    readFile: (path) =>
      path === "/xdg/grid/tokens.json"
        ? Promise.resolve(file)
        : Promise.reject(new Deno.errors.NotFound(path)),
    env: { HOME: "/home/me", XDG_CONFIG_HOME: "/xdg" },
  });
  assert.equal(xdg.code, 0, xdg.err);
  assert.deepEqual(seen, [
    `Bearer ${TOKEN}`,
    "Bearer grid_env",
    `Bearer ${TOKEN}`,
    `Bearer ${TOKEN}`,
  ]);
});

Deno.test("gridc auth: a refused or missing token is one line saying what to do, exit 4", async () => {
  const { ctl } = guarded(TOKEN);
  await using _ = ctl;
  const none = await gridc(["-a", ctl.url, "status"], {
    env: { HOME: "/home/me" },
  });
  assert.equal(none.code, 4);
  assert.equal(none.err.trim().split("\n").length, 1);
  assert.match(none.err, /HTTP 401/);
  assert.match(none.err, /no token was given: use --token, GRID_TOKEN/);
  assert.match(none.err, /\/home\/me\/\.config\/grid\/tokens\.json/);
  const wrong = await gridc(["-a", ctl.url, "status"], {
    env: { GRID_TOKEN: "grid_nope" },
  });
  assert.equal(wrong.code, 4);
  assert.match(wrong.err, /the token from GRID_TOKEN was refused/);

  await using narrow = fakeController(() =>
    Response.json({
      error:
        'this needs a token with scope "admin" (or wider); token "ci" has scope "read"',
    }, { status: 403 })
  );
  const r = await gridc(["-a", narrow.url, "--token", TOKEN, "token", "list"]);
  assert.equal(r.code, 4);
  assert.equal(r.err.trim().split("\n").length, 1);
  assert.match(r.err, /scope "admin".*HTTP 403.*ask an admin/);
});

Deno.test("gridc auth: a tokens file that is not a JSON map is a usage error naming it", async () => {
  const r = await gridc(["status"], {
    readFile: () => Promise.resolve("[1, 2]"),
    env: { XDG_CONFIG_HOME: "/cfg" },
  });
  assert.equal(r.code, 3);
  assert.match(r.err, /\/cfg\/grid\/tokens\.json: must be a JSON object/);
});

Deno.test("gridc token create prints the token once on stdout and warns on stderr", async () => {
  const { ctl } = guarded(TOKEN);
  await using _ = ctl;
  const r = await gridc([
    "-a",
    ctl.url,
    "--token",
    TOKEN,
    "token",
    "create",
    "ci",
    "--scope",
    "operate",
    "--ttl",
    "720h",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${TOKEN}\n`);
  assert.match(r.err, /will not be shown again/);
  assert.deepEqual(ctl.bodies, [{ name: "ci", scope: "operate", ttl: "720h" }]);
  const revoke = await gridc([
    "-a",
    ctl.url,
    "--token",
    TOKEN,
    "token",
    "revoke",
    "ci",
  ]);
  assert.equal(revoke.code, 0, revoke.err);
  assert.match(revoke.out, /Token "ci" revoked/);
  assert.ok(ctl.requests.includes("DELETE /tokens/ci"));
});

Deno.test("gridc audit shows the entries and the next page's command", async () => {
  const { ctl } = guarded(TOKEN);
  await using _ = ctl;
  const r = await gridc(["-a", ctl.url, "--token", TOKEN, "audit", "-n", "1"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /7\s+\S+\s+ci\s+10\.0\.0\.9\s+job\.submit\s+j1\s+ok/);
  assert.match(r.out, /gridc audit -n 1 --before 7/);
  assert.ok(ctl.requests.includes("GET /audit?limit=1"));
});

Deno.test("gridc node enroll writes a private file, never over an existing one", async () => {
  const { ctl } = guarded(TOKEN);
  await using _ = ctl;
  const argv = ["-a", ctl.url, "--token", TOKEN, "node", "enroll", "web-09"];
  const first = await gridc([...argv, "--groups", "web"]);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /credentials written to \.\/web-09\.creds/);
  assert.deepEqual(ctl.bodies, [{ id: "web-09", groups: ["web"] }]);

  const files = new Map<string, string>();
  const r = await gridc([...argv, "-g", "web", "--out", "/tmp/x.creds"], {
    createPrivateFile: (path) => {
      if (files.has(path)) {
        return Promise.reject(new Deno.errors.AlreadyExists(path));
      }
      files.set(path, "");
      return Promise.resolve({
        write: (t) => Promise.resolve(void files.set(path, t)),
        discard: () => Promise.resolve(void files.delete(path)),
      });
    },
  });
  assert.equal(r.code, 0, r.err);
  assert.match(files.get("/tmp/x.creds")!, /BEGIN NATS USER JWT/);
  const again = await gridc([...argv, "--out", "/tmp/x.creds"], {
    createPrivateFile: () =>
      Promise.reject(new Deno.errors.AlreadyExists("/tmp/x.creds")),
  });
  assert.equal(again.code, 3);
  assert.match(again.err, /exists: gridc does not overwrite/);
  assert.equal(ctl.bodies.length, 2, "no enrollment asked for");

  // Refused by the controller: the claimed file is removed again.
  const none = new Map<string, string>();
  const refused = await gridc(["-a", ctl.url, "node", "enroll", "web-09"], {
    createPrivateFile: (path) => {
      none.set(path, "");
      return Promise.resolve({
        write: (t) => Promise.resolve(void none.set(path, t)),
        discard: () => Promise.resolve(void none.delete(path)),
      });
    },
  });
  assert.equal(refused.code, 4);
  assert.equal(none.size, 0);

  const revoke = await gridc([
    "-a",
    ctl.url,
    "--token",
    TOKEN,
    "node",
    "revoke",
    "web-09",
  ]);
  assert.equal(revoke.code, 0, revoke.err);
  assert.match(revoke.out, /Node "web-09" revoked/);
});

Deno.test("gridc auth: the admin commands' arguments are checked before any request", () => {
  const bad = (argv: string[], re: RegExp) =>
    assert.throws(() => parseCli(argv), re, argv.join(" "));
  bad(["token", "create", "ci"], /missing --scope read\|operate\|admin/);
  bad(
    ["token", "create", "ci", "--scope", "root"],
    /use read, operate or admin/,
  );
  bad(["token", "create", "c i", "--scope", "read"], /token name "c i"/);
  bad(["token", "create", "ci", "--scope", "read", "--ttl", "soon"], /--ttl/);
  bad(["node", "enroll", "web 1"], /node id "web 1"/);
  bad(["node", "enroll", "w1", "--groups", "a,a"], /listed twice/);
  bad(["node", "enroll", "w1", "--groups", "a.b"], /group "a\.b"/);
  bad(["audit", "-n", "0"], /--limit "0"/);
  bad(["token", "revoke"], /missing token NAME/);
  bad(["--token", "", "status"], /--token: must not be empty/);
  assert.deepEqual(parseCli(["--ca", "/ca.pem", "--token", "t", "audit"]), {
    output: "table",
    token: "t",
    ca: "/ca.pem",
    command: { kind: "audit" },
  });
});

Deno.test("gridc auth: --ca reads a PEM and uses a fetch that trusts it", async () => {
  let trusted = "";
  await using ctl = fakeController(() => Response.json({ tokens: [] }));
  const r = await gridc(
    ["-a", ctl.url, "--ca", "/ca.pem", "--token", TOKEN, "token", "list"],
    {
      readFile: (p) =>
        p === "/ca.pem"
          ? Promise.resolve("-----BEGIN CERTIFICATE-----\nx\n")
          : Promise.reject(new Deno.errors.NotFound(p)),
      fetchTrusting: (pem) => {
        trusted = pem;
        return fetch;
      },
    },
  );
  assert.equal(r.code, 0, r.err);
  assert.match(trusted, /BEGIN CERTIFICATE/);
  const notPem = await gridc(["-a", ctl.url, "--ca", "/x", "status"], {
    readFile: () => Promise.resolve("hello"),
  });
  assert.equal(notPem.code, 3);
  assert.match(notPem.err, /--ca \/x: not a PEM certificate/);
});

Deno.test("gridc auth: every new command has help", async () => {
  for (
    const topic of [
      "token",
      "token create",
      "token list",
      "token revoke",
      "audit",
      "node enroll",
      "node revoke",
    ] as const
  ) {
    const r = await gridc([...topic.split(" "), "--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.out, helpText(topic));
  }
  assert.match(helpText(""), /--token TOKEN/);
  assert.match(helpText("token create"), /will not|shown this\s+once/);
});
