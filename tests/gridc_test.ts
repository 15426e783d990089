/**
 * gridc, run from source with its own permissions, against a real
 * controller and real workers: every command, the JSON it prints, and the
 * exit statuses scripts rely on.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Cluster,
  type Json,
  ROOT,
  waitFor,
  withCluster,
} from "./harness.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A config dir of no one: gridc in tests never reads the user's. */
const NO_CONFIG = "/nonexistent/grid-test-config";

async function gridc(c: Cluster | string, ...args: string[]): Promise<Run> {
  const api = typeof c === "string" ? c : c.api;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=client", "client/main.ts", "-a", api, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      NO_COLOR: "1",
      GRID_TOKEN: typeof c === "string" ? "" : c.token ?? "",
      XDG_CONFIG_HOME: typeof c === "string"
        ? NO_CONFIG
        : join(c.dir, "config"),
    },
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

const json = (r: Run): Json => JSON.parse(r.stdout);

const FLEET = [
  { id: "web-01", groups: ["web", "prod"] },
  { id: "web-02", groups: ["web", "prod"] },
  { id: "db-01", groups: ["db", "prod"] },
];

Deno.test("gridc: every command against a real controller", async (t) => {
  await withCluster({ workers: FLEET }, async (c) => {
    let id = "";
    await t.step("job run shorthand --wait: table and exit 0", async () => {
      const r = await gridc(
        c,
        "job",
        "run",
        "-t",
        "group:web",
        "ping",
        "echo",
        "message=hi",
        "--wait",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /web-01/);
      assert.match(r.stdout, /web-02/);
      assert.doesNotMatch(r.stdout, /db-01/);
      assert.match(r.stdout, /success/);
    });

    await t.step("job run -o json prints the API's job", async () => {
      const r = await gridc(
        c,
        "-o",
        "json",
        "job",
        "run",
        "-t",
        "node:db-01",
        "ping",
        "hostname",
      );
      assert.equal(r.code, 0, r.stderr);
      const job = json(r);
      assert.equal(job.status, "pending");
      assert.deepEqual(job.target, { scope: "node", value: "db-01" });
      id = job.id;
      await c.waitJob(id);
    });

    await t.step("job get and job list", async () => {
      const g = json(await gridc(c, "-o", "json", "job", "get", id));
      assert.equal(g.id, id);
      assert.equal(g.results["0"]["db-01"].status, "success");
      const table = await gridc(c, "job", "get", id);
      assert.equal(table.code, 0);
      assert.match(table.stdout, /db-01/);
      const l = json(await gridc(c, "-o", "json", "job", "list", "-n", "1"));
      assert.equal(l.length, 1);
      assert.equal(l[0].id, id);
      // A unique prefix of the id names the job.
      const short = json(
        await gridc(c, "-o", "json", "job", "get", id.slice(0, 14)),
      );
      assert.equal(short.id, id);
      const human = await gridc(c, "job", "list", "--status", "completed");
      assert.equal(human.code, 0);
      assert.match(human.stdout, new RegExp(id));
    });

    await t.step(
      "job run -f with YAML numbers turned into strings; failed job exits 1",
      async () => {
        const file = join(c.dir, "job.yaml");
        await Deno.writeTextFile(
          file,
          "target: {scope: group, value: web}\ntasks:\n  - backend: test\n    action: output\n    params: {lines: 2, width: 5}\n  - backend: test\n    action: fail\n",
        );
        const r = await gridc(
          c,
          "-o",
          "json",
          "job",
          "run",
          "-f",
          file,
          "--wait",
        );
        assert.equal(r.code, 1, r.stderr);
        const job = json(r);
        assert.equal(job.status, "failed");
        assert.equal(job.results["0"]["web-01"].status, "success");
      },
    );

    await t.step("job cancel: a cancelled --wait exits 2", async () => {
      const submitted = json(
        await gridc(
          c,
          "-o",
          "json",
          "job",
          "run",
          "-t",
          "node:web-01",
          "test",
          "sleep",
          "duration=30s",
        ),
      );
      const waiting = gridc(c, "job", "get", submitted.id, "--wait");
      await waitFor(
        "the job to run",
        async () => (await c.job(submitted.id)).status === "running",
      );
      const cancel = await gridc(c, "job", "cancel", submitted.id);
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.equal((await waiting).code, 2);
      const again = await gridc(c, "job", "cancel", submitted.id);
      assert.equal(again.code, 4);
      assert.match(again.stderr, /already cancelled/);
    });

    await t.step("node list, node info, status", async () => {
      const nodes = json(await gridc(c, "-o", "json", "node", "list"));
      const list = Array.isArray(nodes) ? nodes : nodes.nodes;
      assert.deepEqual(list.map((n: Json) => n.id).sort(), [
        "db-01",
        "web-01",
        "web-02",
      ]);
      const human = await gridc(c, "node", "list");
      assert.match(human.stdout, /online/);
      const info = json(await gridc(c, "-o", "json", "node", "info", "web-02"));
      assert.deepEqual(info.groups, ["web", "prod"]);
      const status = json(await gridc(c, "-o", "json", "status"));
      assert.equal(status.nodes.online, 3);
    });

    await t.step("token create, list, revoke; audit; refusals", async () => {
      const made = await gridc(c, "token", "create", "ci", "--scope", "read");
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stderr, /will not be shown again/);
      const token = made.stdout.trim();
      assert.match(token, /^grid_[A-Za-z0-9_-]{43}$/);
      const asCi = (...args: string[]) => gridc(c, "--token", token, ...args);
      assert.equal((await asCi("status")).code, 0);
      const narrow = await asCi("job", "run", "ping", "echo");
      assert.equal(narrow.code, 4);
      assert.match(narrow.stderr, /scope "operate".*HTTP 403.*ask an admin/);
      const list = await gridc(c, "token", "list");
      assert.match(list.stdout, /ci\s+read/);
      assert.ok(!list.stdout.includes(token));
      assert.equal((await gridc(c, "token", "revoke", "ci")).code, 0);
      const after = await asCi("status");
      assert.equal(after.code, 4);
      assert.match(
        after.stderr,
        /HTTP 401.*the token from --token was refused/,
      );
      const audit = await gridc(c, "-o", "json", "audit", "-n", "3");
      const actions = json(audit).entries.map((e: Json) =>
        `${e.who} ${e.action} ${e.outcome}`
      );
      assert.deepEqual(actions, [
        "bootstrap token.revoke ok",
        "ci job.submit refused",
        "bootstrap token.create ok",
      ]);
      const none = await gridc(c, "--token", "", "status").catch(() => null);
      assert.equal(none?.code, 3);
    });

    await t.step(
      "node enroll and revoke: the creds file a worker runs with, cut off on revoke",
      async () => {
        const out = join(c.dir, "web-09.creds");
        const r = await gridc(
          c,
          "node",
          "enroll",
          "web-09",
          "-g",
          "web",
          "--out",
          out,
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
        assert.match(await Deno.readTextFile(out), /BEGIN NATS USER JWT/);
        const w = await c.startWorker({
          id: "web-09",
          groups: ["web"],
          credentials: out,
        });
        await c.waitOnline(["web-09"]);
        const revoked = await gridc(c, "node", "revoke", "web-09");
        assert.equal(revoked.code, 0, revoked.stderr);
        await waitFor("web-09 to be cut off", () => !w.running, 5000);
        const info = json(
          await gridc(c, "-o", "json", "node", "info", "web-09"),
        );
        assert.equal(info.status, "revoked");
        // Refused (no admin token): no file is left behind.
        const other = join(c.dir, "web-10.creds");
        const refused = await gridc(
          c,
          "--token",
          "grid_not-a-token",
          "node",
          "enroll",
          "web-10",
          "--out",
          other,
        );
        assert.equal(refused.code, 4, refused.stderr);
        await assert.rejects(() => Deno.stat(other), Deno.errors.NotFound);
        await Deno.writeTextFile(out, "mine\n");
        const again = await gridc(c, "node", "enroll", "web-09", "--out", out);
        assert.equal(again.code, 3);
        assert.match(again.stderr, /does not overwrite/);
        assert.equal(await Deno.readTextFile(out), "mine\n");
      },
    );

    await t.step("errors: API rejections and usage errors", async () => {
      const bad = await gridc(
        c,
        "job",
        "run",
        "apt",
        "instal",
        "package=nginx",
      );
      assert.equal(bad.code, 4);
      assert.match(bad.stderr, /backend "apt"|unknown action/);
      const noEq = await gridc(c, "job", "run", "ping", "echo", "message");
      assert.equal(noEq.code, 3);
      assert.match(noEq.stderr, /"message"/);
      const unknown = await gridc(c, "job", "get", "nope");
      assert.equal(unknown.code, 4);
      assert.match(unknown.stderr, /not found/);
      const yaml = join(c.dir, "broken.yaml");
      await Deno.writeTextFile(yaml, "tasks:\n  - backend: [ping\n");
      const broken = await gridc(c, "job", "run", "-f", yaml);
      assert.equal(broken.code, 3);
      assert.match(broken.stderr, /broken\.yaml:\d+:\d+/);
    });
  });
});

Deno.test("gridc: an unreachable controller names the URL and exits 4", async () => {
  const r = await gridc("http://127.0.0.1:9", "status");
  assert.equal(r.code, 4);
  assert.match(r.stderr, /127\.0\.0\.1:9/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
});
