import assert from "node:assert/strict";
import type { z } from "zod";
import { describeIssues } from "./job.ts";
import { ControllerConfig, durationMs, WorkerConfig } from "./config.ts";
import { DEFAULT_BINARIES } from "./backend_table.ts";

function reject(schema: z.ZodType, input: unknown): string {
  const r = schema.safeParse(input);
  assert.ok(!r.success, `expected a rejection of ${JSON.stringify(input)}`);
  return describeIssues(r.error);
}

// ---- controller ----

Deno.test("ControllerConfig: an empty file gives every default", () => {
  assert.deepEqual(ControllerConfig.parse({}), {
    api: {
      host: "127.0.0.1",
      port: 8765,
      max_body: 1024 * 1024,
      auth: {
        enabled: true,
        bootstrap_token_file: "/var/lib/grid/admin.token",
      },
      cors_origins: [],
    },
    nats: {
      name: "controller",
      server: { enabled: true, host: "127.0.0.1", port: 4222 },
      client: {},
      auth: { dir: "/var/lib/grid/nats-auth" },
      jetstream: { store_dir: "/var/lib/grid/jetstream", replicas: 1 },
    },
    controller: { heartbeat_interval: 5_000, stale_threshold: 30_000 },
    scheduler: { max_concurrent: 5, max_pending: 100, task_timeout: 300_000 },
    nodes: { offline_after: 15_000 },
    history: { max_age: 30 * 86_400_000, max_jobs: 100_000 },
  });
});

Deno.test("ControllerConfig: history limits take durations from 1h and whole counts", () => {
  const c = ControllerConfig.parse({
    history: { max_age: "48h", max_jobs: 500 },
  });
  assert.deepEqual(c.history, { max_age: 172_800_000, max_jobs: 500 });
  assert.match(
    reject(ControllerConfig, { history: { max_age: "10m" } }),
    /^history\.max_age: must be from 1h to 87600h \(10 years\), got "10m"$/,
  );
  assert.match(
    reject(ControllerConfig, { history: { max_jobs: 0 } }),
    /^history\.max_jobs: must be at least 1$/,
  );
  assert.match(
    reject(ControllerConfig, { history: { keep: 1 } }),
    /^history: /,
  );
});

Deno.test("ControllerConfig: partial sections keep the defaults of the keys not given", () => {
  const c = ControllerConfig.parse({
    api: { port: 9000 },
    scheduler: { max_pending: 10, task_timeout: "2m" },
    nodes: { offline_after: "1m30s" },
  });
  assert.equal(c.api.port, 9000);
  assert.equal(c.api.host, "127.0.0.1");
  assert.equal(c.api.max_body, 1_048_576);
  assert.equal(c.scheduler.max_concurrent, 5);
  assert.equal(c.scheduler.max_pending, 10);
  assert.equal(c.scheduler.task_timeout, 120_000);
  assert.equal(c.nodes.offline_after, 90_000);
});

Deno.test("ControllerConfig: the README controller example is accepted", () => {
  const c = ControllerConfig.parse({
    api: { host: "0.0.0.0", port: 8765 },
    nats: {
      name: "controller",
      server: { host: "0.0.0.0", port: 4222 },
      jetstream: { store_dir: "/data/jetstream" },
    },
    scheduler: { max_concurrent: 5, max_pending: 100 },
  });
  assert.equal(c.nats.jetstream.store_dir, "/data/jetstream");
});

Deno.test("ControllerConfig: bad values name their key", () => {
  assert.match(
    reject(ControllerConfig, { scheduler: { max_concurrent: 0 } }),
    /^scheduler\.max_concurrent: must be at least 1$/,
  );
  assert.match(
    reject(ControllerConfig, { scheduler: { max_pending: 2.5 } }),
    /^scheduler\.max_pending: must be a whole number$/,
  );
  assert.match(
    reject(ControllerConfig, { scheduler: { task_timeout: "soon" } }),
    /^scheduler\.task_timeout: "soon" is not a duration/,
  );
  assert.match(
    reject(ControllerConfig, { scheduler: { task_timeout: 300 } }),
    /^scheduler\.task_timeout: must be a duration/,
  );
  assert.match(
    reject(ControllerConfig, { nodes: { offline_after: "-5s" } }),
    /^nodes\.offline_after: /,
  );
  assert.match(
    reject(ControllerConfig, { api: { port: 70_000 } }),
    /^api\.port: /,
  );
  assert.match(
    reject(ControllerConfig, { api: { port: "8765" } }),
    /^api\.port: /,
  );
  assert.match(
    reject(ControllerConfig, { api: { max_body: 10 } }),
    /^api\.max_body: /,
  );
  assert.match(
    reject(ControllerConfig, { nats: { name: "ctl.1" } }),
    /^nats\.name: .*NATS/,
  );
});

Deno.test("ControllerConfig: unknown keys are rejected at every level", () => {
  assert.match(reject(ControllerConfig, { bogus: 1 }), /"bogus"/);
  assert.match(
    reject(ControllerConfig, { api: { enabled: true } }),
    /^api: .*"enabled"/,
  );
  assert.match(
    reject(ControllerConfig, { nats: { jetstream: { store: "/x" } } }),
    /^nats\.jetstream: .*"store"/,
  );
  assert.match(
    reject(ControllerConfig, { scheduler: { max_concurent: 3 } }),
    /^scheduler: .*"max_concurent"/,
  );
});

// ---- worker ----

Deno.test("WorkerConfig: defaults around a required node name", () => {
  assert.deepEqual(WorkerConfig.parse({ nats: { name: "web-01" } }), {
    nats: { name: "web-01", client: { urls: ["nats://127.0.0.1:4222"] } },
    worker: {
      groups: [],
      heartbeat_interval: 5000,
      catchup_window: 600_000,
      drain_timeout: 30_000,
      rke2_installer_dirs: ["/opt/grid/rke2"],
      // Every program of the backend table, at its default path.
      binaries: { ...DEFAULT_BINARIES },
      systemd: { deny_units: [], own_unit: "gridw.service" },
      backends: ["ping", "test", "apt", "systemd", "rke2"],
      file: { allowed_paths: [] },
    },
  });
  assert.match(reject(WorkerConfig, {}), /^nats: /);
  assert.match(reject(WorkerConfig, { nats: {} }), /^nats\.name: /);
});

Deno.test("WorkerConfig: urls may be one string, a comma list or a YAML list", () => {
  const urls = (u: unknown) =>
    WorkerConfig.parse({ nats: { name: "w", client: { urls: u } } }).nats.client
      .urls;
  assert.deepEqual(urls("nats://controller:4222"), ["nats://controller:4222"]);
  assert.deepEqual(urls("nats://a:4222, nats://b:4222"), [
    "nats://a:4222",
    "nats://b:4222",
  ]);
  assert.deepEqual(urls(["nats://a:4222", "tls://b:4443"]), [
    "nats://a:4222",
    "tls://b:4443",
  ]);
  assert.deepEqual(urls("controller:4222"), ["controller:4222"]);
});

Deno.test("WorkerConfig: bad urls are rejected with their index", () => {
  const bad = (u: unknown) =>
    reject(WorkerConfig, { nats: { name: "w", client: { urls: u } } });
  assert.match(
    bad("http://x:4222"),
    /^nats\.client\.urls\[0\]: must look like/,
  );
  assert.match(
    bad(["nats://a:4222", "nats://b/path"]),
    /^nats\.client\.urls\[1\]: /,
  );
  assert.match(bad([]), /^nats\.client\.urls/);
  assert.match(bad(4222), /^nats\.client\.urls/);
});

Deno.test("WorkerConfig: the README worker example is accepted", () => {
  const w = WorkerConfig.parse({
    nats: { name: "web-01", client: { urls: "nats://controller:4222" } },
    worker: { groups: ["web", "prod"] },
  });
  assert.deepEqual(w.worker.groups, ["web", "prod"]);
  assert.deepEqual(w.nats.client.urls, ["nats://controller:4222"]);
  assert.equal(w.worker.heartbeat_interval, 5000);
});

Deno.test("WorkerConfig: names, groups, durations and binaries are checked", () => {
  const base = { nats: { name: "w" } };
  assert.equal(
    WorkerConfig.parse({ nats: { name: "web-01.dc1.example.com" } }).nats.name,
    "web-01.dc1.example.com",
  );
  assert.match(
    reject(WorkerConfig, { nats: { name: "web 01" } }),
    /^nats\.name: .*NATS/,
  );
  assert.match(
    reject(WorkerConfig, { nats: { name: "web.*" } }),
    /^nats\.name: /,
  );
  assert.match(
    reject(WorkerConfig, { ...base, worker: { groups: ["web", "web.prod"] } }),
    /^worker\.groups\[1\]: .*NATS/,
  );
  assert.match(
    reject(WorkerConfig, { ...base, worker: { groups: ["web", "web"] } }),
    /^worker\.groups: must not list a group twice$/,
  );
  assert.match(
    reject(WorkerConfig, { ...base, worker: { heartbeat_interval: "often" } }),
    /^worker\.heartbeat_interval: /,
  );
  assert.equal(
    WorkerConfig.parse({ ...base, worker: { heartbeat_interval: "500ms" } })
      .worker.heartbeat_interval,
    500,
  );
  assert.match(
    reject(WorkerConfig, {
      ...base,
      worker: { binaries: { systemctl: "systemctl" } },
    }),
    /^worker\.binaries\.systemctl: must be an absolute path$/,
  );
  assert.match(
    reject(WorkerConfig, {
      ...base,
      worker: { binaries: { bash: "/usr/bin/bash" } },
    }),
    /"bash"/,
  );
  assert.match(
    reject(WorkerConfig, { nats: { name: "w", url: "x" } }),
    /^nats: .*"url"/,
  );
  assert.match(reject(WorkerConfig, { ...base, extra: true }), /"extra"/);
});

Deno.test("durationMs: a config duration field with its fallback", () => {
  const f = durationMs("5s");
  assert.equal(f.parse(undefined), 5000);
  assert.equal(f.parse("1m30s"), 90_000);
  assert.equal(f.parse("0"), 0);
  assert.ok(!f.safeParse("5").success);
  assert.ok(!f.safeParse(5).success);
});

Deno.test("ControllerConfig: an external NATS needs client urls", () => {
  const r = ControllerConfig.safeParse({
    nats: { server: { enabled: false } },
  });
  assert.equal(r.success, false);
  assert.match(
    r.error!.issues[0]!.message,
    /required when nats.server.enabled is false/,
  );
  const ok = ControllerConfig.parse({
    nats: {
      server: { enabled: false },
      client: { urls: ["nats://a:4222", "nats://b:4222"] },
    },
  });
  assert.deepEqual(ok.nats.client.urls, ["nats://a:4222", "nats://b:4222"]);
});

Deno.test("ControllerConfig: cluster routes and replicas", () => {
  const c = ControllerConfig.parse({
    nats: {
      cluster: { routes: ["nats://10.0.0.2:6222"] },
      jetstream: { replicas: 3 },
    },
  });
  assert.deepEqual(c.nats.cluster, {
    name: "grid",
    host: "0.0.0.0",
    port: 6222,
    routes: ["nats://10.0.0.2:6222"],
  });
  assert.equal(c.nats.jetstream.replicas, 3);
  assert.equal(
    ControllerConfig.safeParse({ nats: { jetstream: { replicas: 2 } } })
      .success,
    false,
  );
});

Deno.test("ControllerConfig: the bootstrap token file sits beside the store unless given", () => {
  const c = ControllerConfig.parse({
    nats: { jetstream: { store_dir: "/data/grid/js/" } },
  });
  assert.equal(c.api.auth.bootstrap_token_file, "/data/grid/admin.token");
  const given = ControllerConfig.parse({
    api: { auth: { bootstrap_token_file: "/etc/grid/admin.token" } },
  });
  assert.equal(given.api.auth.bootstrap_token_file, "/etc/grid/admin.token");
});

Deno.test("ControllerConfig: auth may be off only on loopback", () => {
  for (const host of ["127.0.0.1", "127.0.0.2", "::1", "localhost"]) {
    const c = ControllerConfig.parse({
      api: { host, auth: { enabled: false } },
    });
    assert.equal(c.api.auth.enabled, false);
  }
  for (const host of ["0.0.0.0", "::", "10.0.0.5", "grid.example"]) {
    assert.match(
      reject(ControllerConfig, { api: { host, auth: { enabled: false } } }),
      /^api\.auth\.enabled: may be false only when api\.host is a loopback address/,
    );
  }
  // With auth on, any address is an explicit choice.
  assert.equal(
    ControllerConfig.parse({ api: { host: "0.0.0.0" } }).api.host,
    "0.0.0.0",
  );
});

Deno.test("ControllerConfig: api.tls needs both cert and key; cors_origins are origins", () => {
  const c = ControllerConfig.parse({
    api: { tls: { cert: "/c.pem", key: "/k.pem" } },
  });
  assert.deepEqual(c.api.tls, { cert: "/c.pem", key: "/k.pem" });
  assert.match(
    reject(ControllerConfig, { api: { tls: { cert: "/c.pem" } } }),
    /^api\.tls\.key: is required/,
  );
  assert.match(
    reject(ControllerConfig, { api: { tls: { key: "/k.pem" } } }),
    /^api\.tls\.cert: is required/,
  );
  assert.deepEqual(
    ControllerConfig.parse({ api: { cors_origins: ["https://ops.example"] } })
      .api.cors_origins,
    ["https://ops.example"],
  );
  assert.match(
    reject(ControllerConfig, {
      api: { cors_origins: ["https://x.example/app"] },
    }),
    /^api\.cors_origins\[0\]: must be an origin/,
  );
});

Deno.test("ControllerConfig: NATS keys sit beside the store unless placed; TLS needs cert and key", () => {
  const c = ControllerConfig.parse({
    nats: { jetstream: { store_dir: "/srv/grid/js" } },
  });
  assert.equal(c.nats.auth.dir, "/srv/grid/nats-auth");
  const placed = ControllerConfig.parse({
    nats: { auth: { dir: "/etc/grid/keys" } },
  });
  assert.equal(placed.nats.auth.dir, "/etc/grid/keys");
  assert.match(
    reject(ControllerConfig, { nats: { tls: { cert: "/c.pem" } } }),
    /^nats\.tls\.key: /,
  );
});

Deno.test("WorkerConfig: credentials and a CA for NATS", () => {
  const w = WorkerConfig.parse({
    nats: {
      name: "web-01",
      client: { credentials: "/etc/grid/gridw.creds", tls: { ca: "/ca.pem" } },
    },
  });
  assert.equal(w.nats.client.credentials, "/etc/grid/gridw.creds");
  assert.equal(w.nats.client.tls?.ca, "/ca.pem");
});

Deno.test("WorkerConfig: backends are the table's, allowed paths absolute", () => {
  const base = { nats: { name: "w" } };
  const worker = (w: unknown) =>
    WorkerConfig.parse({ ...base, worker: w }).worker;
  assert.deepEqual(worker({ backends: ["ping", "systemd"] }).backends, [
    "ping",
    "systemd",
  ]);
  assert.deepEqual(worker({ backends: [] }).backends, []);
  assert.match(
    reject(WorkerConfig, { ...base, worker: { backends: ["ping", "shell"] } }),
    /^worker\.backends\[1\]: unknown backend "shell" \(known: ping, test, /,
  );
  assert.match(
    reject(WorkerConfig, { ...base, worker: { backends: ["ping", "ping"] } }),
    /^worker\.backends: must not list a backend twice$/,
  );
  assert.deepEqual(
    worker({ file: { allowed_paths: ["/srv/app/", "/etc/app"] } }).file,
    { allowed_paths: ["/srv/app", "/etc/app"] },
  );
  for (const bad of ["srv/app", "/srv/../etc", "/srv/./x", "/"]) {
    assert.match(
      reject(WorkerConfig, {
        ...base,
        worker: { file: { allowed_paths: [bad] } },
      }),
      /^worker\.file\.allowed_paths\[0\]: must /,
      bad,
    );
  }
  assert.match(
    reject(WorkerConfig, { ...base, worker: { file: { roots: [] } } }),
    /"roots"/,
  );
});
