/**
 * One read-only action of every backend, run for real: a controller and a
 * worker on this machine, the worker under its real permission flags
 * (deno.json `permissions.worker`, plus the write grant a site adds for
 * its `worker.file.allowed_paths`), checked through GET /job/:id. Targets
 * are local: a server this test runs, files in a temp dir, a cert made by
 * the openssl CLI. What this machine cannot offer (a journal, a firewall
 * tool, dpkg) is skipped with the reason printed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readSse } from "../client/sse.ts";
import { authHeaders, withCluster } from "./harness.ts";
import { permissionFlags } from "./permissions.ts";

type Data = Record<string, unknown>;
interface Case {
  backend: string;
  action: string;
  params?: Record<string, string>;
  /** Checks the result's `data` (and `output`); throws when wrong. */
  check: (data: unknown, output: string) => void;
}

const NODE = "live-1";
const OPENSSL = "/usr/bin/openssl";
const FIREWALLS = ["/usr/sbin/ufw", "/usr/sbin/nft", "/usr/sbin/iptables"];

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string }> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return {
      ok: o.success,
      out: dec.decode(o.stdout) + dec.decode(o.stderr),
    };
  } catch (e) {
    return { ok: false, out: String(e) };
  }
}

/** A self-signed cert for 30 days, made by the openssl CLI; its SHA-256 fingerprint. */
async function makeCert(dir: string): Promise<string> {
  const cert = join(dir, "cert.pem");
  const made = await run(OPENSSL, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    cert,
    "-days",
    "30",
    "-subj",
    "/CN=grid-live-test",
    "-addext",
    "subjectAltName=DNS:grid-live.test,IP:127.0.0.1",
  ]);
  assert.ok(made.ok, made.out);
  const fp = await run(OPENSSL, [
    "x509",
    "-noout",
    "-fingerprint",
    "-sha256",
    "-in",
    cert,
  ]);
  assert.ok(fp.ok, fp.out);
  return fp.out.trim().split("=")[1]!.replaceAll(":", "").toLowerCase();
}

const obj = (d: unknown): Data => {
  assert.equal(typeof d, "object", JSON.stringify(d));
  assert.ok(d !== null && !Array.isArray(d), JSON.stringify(d));
  return d as Data;
};
const list = (d: unknown): Data[] => {
  assert.ok(Array.isArray(d), JSON.stringify(d));
  return d as Data[];
};

Deno.test("backends live: one read-only action of each backend through a real worker", async () => {
  const base = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "grid-backends-live-" }),
  );
  const allowed = join(base, "allowed");
  await Deno.mkdir(allowed);
  const app = join(allowed, "app.yaml");
  const appText = "server:\n  port: 8080\n  name: web\n";
  await Deno.writeTextFile(app, appText);
  await Deno.chmod(app, 0o640);
  const skipped: string[] = [];
  const skip = (what: string, why: string) => {
    skipped.push(what);
    console.log(`backends live: skipping ${what}: ${why}`);
  };
  // One local server answers the HTTP check, the TCP checks and net port.
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, () => new Response("grid live ok\n"));
  const port = String(server.addr.port);
  try {
    const cases: Case[] = [
      {
        backend: "sysinfo",
        action: "memory",
        check: (d) => {
          const m = obj(d);
          assert.ok((m.total as number) > 0);
          assert.ok((m.used as number) <= (m.total as number));
          assert.ok((m.usage_percent as number) >= 0);
          assert.ok((m.usage_percent as number) <= 100);
        },
      },
      {
        backend: "sysinfo",
        action: "disk",
        params: { mount: "/" },
        check: (d) => {
          const m = obj(d);
          assert.equal(m.mount, "/");
          assert.ok((m.total as number) > 0);
          assert.equal(typeof m.fs_type, "string");
        },
      },
      {
        backend: "file",
        action: "stat",
        params: { path: app },
        check: (d) => {
          assert.deepEqual(
            { ...obj(d), mod_time: undefined },
            {
              path: app,
              size: new TextEncoder().encode(appText).length,
              mode: "0640",
              is_dir: false,
              mod_time: undefined,
            },
          );
          assert.match(obj(d).mod_time as string, /^\d{4}-\d\d-\d\dT.*Z$/);
        },
      },
      {
        backend: "config",
        action: "get",
        params: { path: app, key: "server.port" },
        check: (_d, output) => assert.equal(output.trim(), "8080"),
      },
      {
        backend: "net",
        action: "port",
        params: { host: "127.0.0.1", port, expect: "open" },
        check: (d) => {
          const m = obj(d);
          assert.equal(m.open, true);
          assert.equal(m.port, Number(port));
          assert.equal(m.host, "127.0.0.1");
        },
      },
      {
        backend: "proc",
        action: "count",
        check: (d) => {
          const m = obj(d);
          // ps itself and the worker at least.
          assert.ok((m.total as number) >= 2, JSON.stringify(m));
          const parts = ["running", "sleeping", "zombie", "other"].map((k) =>
            m[k] as number
          );
          assert.equal(parts.reduce((a, b) => a + b, 0), m.total);
        },
      },
      {
        backend: "dns",
        action: "lookup",
        params: { name: "localhost", type: "A" },
        check: (d) => {
          const m = obj(d);
          assert.equal(m.name, "localhost");
          assert.equal(m.type, "A");
          assert.ok((m.records as string[]).includes("127.0.0.1"));
        },
      },
      {
        backend: "health",
        action: "tcp",
        params: { host: "127.0.0.1", port },
        check: (d) => {
          const m = obj(d);
          assert.equal(m.reachable, true);
          assert.equal(m.port, Number(port));
        },
      },
      {
        backend: "health",
        action: "http",
        params: {
          url: `http://127.0.0.1:${port}/healthz`,
          contains: "grid live ok",
        },
        check: (d) => {
          const m = obj(d);
          assert.equal(m.status_code, 200);
          assert.equal(m.matches, true);
          assert.equal(m.contains, true);
        },
      },
      {
        backend: "user",
        action: "list",
        params: { system: "true" },
        check: (d) => {
          const root = list(d).find((u) => u.name === "root");
          assert.ok(root, JSON.stringify(d).slice(0, 500));
          assert.equal(root.uid, 0);
          assert.equal(root.home, "/root");
        },
      },
    ];
    if (isFile(OPENSSL)) {
      const fingerprint = await makeCert(allowed);
      cases.push({
        backend: "cert",
        action: "inspect",
        params: { path: join(allowed, "cert.pem") },
        check: (d) => {
          const m = obj(d);
          assert.match(m.subject as string, /CN=grid-live-test/);
          assert.deepEqual(m.dns_names, ["grid-live.test"]);
          assert.deepEqual(m.ip_addresses, ["127.0.0.1"]);
          assert.equal(m.expired, false);
          assert.ok([29, 30].includes(m.days_until_expiry as number));
          assert.equal(m.fingerprint_sha256, fingerprint);
        },
      });
    } else skip("cert inspect", `no ${OPENSSL} to make a cert with`);
    const dpkg = await run("/usr/bin/dpkg-query", [
      "-W",
      "-f=${Version}",
      "dpkg",
    ]);
    if (isFile("/usr/bin/apt-get") && dpkg.ok) {
      cases.push({
        backend: "package",
        action: "info",
        params: { name: "dpkg" },
        check: (d) =>
          assert.deepEqual(obj(d), {
            name: "dpkg",
            installed: true,
            version: dpkg.out.trim(),
          }),
      });
    } else skip("package info", "not a Debian system (no apt-get/dpkg)");
    const usage = await run("/usr/bin/journalctl", ["--disk-usage"]);
    if (usage.ok && /take up/.test(usage.out)) {
      cases.push({
        backend: "journald",
        action: "disk_usage",
        check: (d) => assert.ok((obj(d).bytes as number) >= 0),
      });
    } else {
      skip("journald disk_usage", `journalctl cannot read: ${usage.out}`);
    }
    const firewall = FIREWALLS.find(isFile);
    if (firewall) {
      cases.push({
        backend: "firewall",
        action: "status",
        check: (_d, output) => assert.ok(output.length > 0),
      });
    } else skip("firewall status", `none of ${FIREWALLS.join(", ")}`);

    const backends = [...new Set(cases.map((c) => c.backend))];
    const worker = {
      id: NODE,
      extra: `  backends: [${backends.join(", ")}]\n` +
        `  file:\n    allowed_paths: [${allowed}]\n`,
      permissions: permissionFlags("worker", { write: [allowed] }),
    };
    await withCluster({ workers: [worker] }, async (c) => {
      const offered = await c.request("GET", "/backends");
      assert.equal(offered.status, 200);
      assert.deepEqual(
        offered.json.map((b: { name: string }) => b.name).sort(),
        [...backends].sort(),
      );
      const id = await c.submit({
        target: { scope: "node", value: NODE },
        strategy: "continue",
        tasks: cases.map(({ backend, action, params }) => ({
          backend,
          action,
          ...(params ? { params } : {}),
        })),
      });
      const job = await c.waitJob(id, 60_000);
      const failures: string[] = [];
      cases.forEach((t, i) => {
        const r = job.results[String(i)]?.[NODE];
        const what = `${t.backend} ${t.action}`;
        try {
          assert.ok(r, `no result`);
          assert.equal(r.status, "success", `${r.error}\n${r.output}`);
          t.check(r.data, r.output ?? "");
        } catch (e) {
          failures.push(`${what}: ${(e as Error).message}`);
        }
      });
      assert.deepEqual(failures, []);
      assert.equal(job.status, "completed");
      // The live view carries the same data in its result events.
      const r = await fetch(`${c.api}/job/${id}/events?output=false`, {
        headers: authHeaders(c.token),
        signal: AbortSignal.timeout(30_000),
      });
      assert.equal(r.status, 200);
      const live: Record<string, unknown> = {};
      for await (const e of readSse(r.body!)) {
        if (e.type !== "result") continue;
        for (const x of JSON.parse(e.data).results) {
          if (x.node === NODE) live[x.step] = x.data;
        }
      }
      cases.forEach((t, i) =>
        assert.deepEqual(
          live[i],
          job.results[String(i)][NODE].data,
          `${t.backend} ${t.action}: data of the live result event`,
        )
      );
    });
    console.log(
      `backends live: ${cases.length} actions ran` +
        (skipped.length ? `, skipped: ${skipped.join(", ")}` : ""),
    );
  } finally {
    await server.shutdown();
    await Deno.remove(base, { recursive: true });
  }
});
