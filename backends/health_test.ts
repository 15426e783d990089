import assert from "node:assert/strict";
import { runChecked } from "./data_testing.ts";
import { healthBackend } from "./health.ts";
import type { Host } from "./host.ts";
import { createExec } from "./exec.ts";
import { runAction } from "./run.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";

const BIN = { pgrep: "/usr/bin/pgrep" };

function run(
  b: ReturnType<typeof healthBackend>,
  action: string,
  params: Record<string, string>,
  reply: Reply = {},
) {
  const exec = recordingExec(reply);
  return runAction(
    { health: b },
    { backend: "health", action, params },
    fakeContext({ exec }),
  ).then((r) => {
    if (action !== "process") {
      assert.deepEqual(exec.calls, [], `health ${action} runs no program`);
    }
    return { ...r, calls: exec.calls };
  });
}

/** A local HTTP server: /ok 200 "all good", /down 503, /slow answers late. */
async function withServer(fn: (base: string) => Promise<void>) {
  const late = Promise.withResolvers<void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/ok") return new Response("all good");
      if (path === "/slow") {
        await late.promise;
        return new Response("late");
      }
      return new Response("down", { status: 503 });
    },
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    late.resolve();
    await server.shutdown();
  }
}

/** A port nothing listens on (bound, then let go). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
}

Deno.test("health http - a healthy answer succeeds with its data", async () => {
  await withServer(async (base) => {
    const b = healthBackend(BIN);
    const r = await runChecked(b, "http", { url: `${base}/ok` });
    const d = r.data as Record<string, unknown>;
    assert.equal(d.status_code, 200);
    assert.equal(d.matches, true);
    assert.equal(d.content_length, 8);
    assert.equal(d.method, "GET");
    assert.deepEqual(JSON.parse(r.output), d);
    const head = await runChecked(b, "http", {
      url: `${base}/ok`,
      method: "HEAD",
    });
    assert.equal((head.data as { matches: boolean }).matches, true);
    const body = await runChecked(b, "http", {
      url: `${base}/ok`,
      contains: "good",
    });
    assert.equal((body.data as { contains: boolean }).contains, true);
    const want503 = await runChecked(b, "http", {
      url: `${base}/down`,
      expected_status: "503",
    });
    assert.equal((want503.data as { status_code: number }).status_code, 503);
  });
});

Deno.test("health http - unhealthy FAILS the task, the JSON detail in the output", async () => {
  await withServer(async (base) => {
    const b = healthBackend(BIN);
    const down = await run(b, "http", { url: `${base}/down` });
    assert.equal(down.status, "failed");
    assert.equal(
      down.error,
      `unhealthy: GET ${base}/down answered 503, expected 200`,
    );
    assert.equal(down.retryable, true);
    const d = JSON.parse(down.output);
    assert.equal(d.status_code, 503);
    assert.equal(d.matches, false);
    const body = await run(b, "http", { url: `${base}/ok`, contains: "bad" });
    assert.match(body.error!, /the body does not contain "bad"/);
    assert.equal(JSON.parse(body.output).contains, false);
    const slow = await run(b, "http", {
      url: `${base}/slow`,
      timeout: "200ms",
    });
    assert.equal(slow.status, "failed");
    assert.match(slow.error!, /^unhealthy: GET .*\/slow: /);
    assert.equal(JSON.parse(slow.output).matches, false);
  });
  const port = closedPort();
  const refused = await run(healthBackend(BIN), "http", {
    url: `http://127.0.0.1:${port}/`,
  });
  assert.equal(refused.status, "failed");
  const d = JSON.parse(refused.output);
  assert.equal(d.matches, false);
  assert.equal(typeof d.error, "string");
  assert.equal(d.status_code, undefined);
});

Deno.test("health tcp - a listener is reachable; a closed port fails", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = (async () => {
    for await (const c of l) c.close();
  })();
  try {
    const r = await runChecked(healthBackend(BIN), "tcp", {
      host: "127.0.0.1",
      port: String(l.addr.port),
    });
    const d = r.data as Record<string, unknown>;
    assert.equal(d.reachable, true);
    assert.equal(d.port, l.addr.port);
  } finally {
    l.close();
    await accepted.catch(() => {});
  }
  const port = closedPort();
  const closed = await run(healthBackend(BIN), "tcp", {
    host: "127.0.0.1",
    port: String(port),
  });
  assert.equal(closed.status, "failed");
  assert.match(
    closed.error!,
    new RegExp(`^unhealthy: 127\\.0\\.0\\.1:${port}: `),
  );
  assert.equal(JSON.parse(closed.output).reachable, false);
});

function fakeHost(usage: { disk: number; mem: number; load1: number }): Host {
  return {
    hostname: () => "h",
    osRelease: () => "k",
    uptime: () => ({ uptime_seconds: 1, boot_time: "2026-01-01T00:00:00Z" }),
    memory: () => ({
      total: 100,
      used: usage.mem,
      free: 0,
      available: 0,
      swap_total: 0,
      swap_used: 0,
      usage_percent: usage.mem,
    }),
    load: () => ({ load1: usage.load1, load5: 1, load15: 1 }),
    cpu: () => Promise.resolve({ count: 1, model: "m", usage_percent: 0 }),
    disk: (path) =>
      Promise.resolve({
        mount: path,
        device: "d",
        fs_type: "ext4",
        total: 100,
        used: usage.disk,
        free: 0,
        usage_percent: usage.disk,
      }),
  };
}

Deno.test("health - disk_space, memory and load judge by their thresholds", async () => {
  const b = healthBackend(BIN, {
    host: fakeHost({ disk: 95, mem: 50, load1: 3 }),
  });
  const disk = await run(b, "disk_space", { mount: "/var" });
  assert.equal(disk.status, "failed");
  assert.equal(disk.error, "unhealthy: /var is 95% full (threshold 90%)");
  assert.deepEqual(JSON.parse(disk.output), {
    mount: "/var",
    usage_percent: 95,
    threshold: 90,
    healthy: false,
  });
  const roomy = await runChecked(b, "disk_space", {
    mount: "/var",
    threshold_percent: "99.5",
  });
  assert.equal((roomy.data as { healthy: boolean }).healthy, true);
  assert.deepEqual((await runChecked(b, "memory")).data, {
    usage_percent: 50,
    threshold: 90,
    healthy: true,
  });
  const mem = await run(b, "memory", { threshold_percent: "50" });
  assert.equal(mem.error, "unhealthy: memory is 50% used (threshold 50%)");
  assert.deepEqual((await runChecked(b, "load")).data, {
    load1: 3,
    load5: 1,
    load15: 1,
    healthy: true,
  });
  const load = await run(b, "load", { threshold: "2.5" });
  assert.equal(load.error, "unhealthy: load1 is 3 (threshold 2.5)");
  assert.equal(JSON.parse(load.output).threshold, 2.5);
});

Deno.test("health process - pgrep's argv, and its answers judged", async () => {
  const b = healthBackend(BIN);
  const found = await run(b, "process", { name: "NGINX" }, {
    stdout: "10\n11\n",
  });
  assert.equal(found.status, "success");
  assert.deepEqual(JSON.parse(found.output), {
    name: "NGINX",
    running: true,
    pid: 10,
    count: 2,
  });
  assert.deepEqual(found.calls, [{
    argv: [BIN.pgrep, "-i", "-x", "--", "NGINX"],
  }]);
  const long = await run(b, "process", { name: "kube-controller-manager" }, {
    stdout: "12\n",
  });
  assert.deepEqual(
    long.calls[0]!.argv.at(-1),
    "kube-controller",
    "compared as the kernel cuts it",
  );
  const none = await run(b, "process", { name: "postgres" }, { code: 1 });
  assert.equal(none.error, "unhealthy: no process named postgres is running");
  assert.deepEqual(JSON.parse(none.output), {
    name: "postgres",
    running: false,
    pid: 0,
    count: 0,
  });
  assert.equal(none.retryable, true);
  const broken = await run(b, "process", { name: "x" }, {
    code: 3,
    stderr: "pgrep: bad\n",
  });
  assert.equal(broken.error, "pgrep failed (exit code 3): pgrep: bad");
  const without = healthBackend(BIN, { withoutProcess: true });
  assert.equal(without.actions.process, undefined);
  assert.equal(without.requires, undefined);
  assert.deepEqual(b.requires, [BIN.pgrep]);
});

Deno.test("health - the real machine: this process runs, the root disk is below 100%", async () => {
  const b = healthBackend(BIN);
  const exec = createExec();
  const me = await runChecked(
    b,
    "process",
    { name: "deno" },
    fakeContext({ exec }),
  );
  assert.ok((me.data as { count: number }).count >= 1);
  const disk = await runChecked(b, "disk_space", { threshold_percent: "100" });
  assert.equal((disk.data as { mount: string }).mount, "/");
  const full = await run(b, "disk_space", { threshold_percent: "0" });
  assert.equal(full.status, "failed");
  await runChecked(b, "memory", { threshold_percent: "100" });
});

Deno.test("health - injection attempts are refused by the schema", async () => {
  const b = healthBackend(BIN, {
    host: fakeHost({ disk: 1, mem: 1, load1: 0 }),
  });
  const attempts: [string, Record<string, string>, RegExp][] = [
    [
      "http",
      { url: "file:///etc/passwd" },
      /param "url": must be an http:\/\/ or https:\/\/ URL/,
    ],
    ["http", { url: "ftp://x" }, /param "url"/],
    ["http", { url: "http://" }, /param "url"/],
    ["http", { url: "http://a b" }, /param "url"/],
    [
      "http",
      { url: "http://a", method: "POST" },
      /param "method": "POST" is not a method this check sends/,
    ],
    ["http", { url: "http://a", method: "get" }, /param "method"/],
    [
      "http",
      { url: "http://a", expected_status: "99" },
      /param "expected_status"/,
    ],
    ["http", { url: "http://a", timeout: "25h" }, /param "timeout"/],
    ["tcp", { host: "-p", port: "80" }, /param "host"/],
    ["tcp", { host: "a;b", port: "80" }, /param "host"/],
    ["tcp", { host: "localhost", port: "0" }, /param "port"/],
    ["tcp", { host: "localhost" }, /param "port": is required/],
    ["disk_space", { mount: "../x" }, /param "mount"/],
    [
      "disk_space",
      { threshold_percent: "101" },
      /param "threshold_percent": must be a percentage/,
    ],
    ["memory", { threshold_percent: "-1" }, /param "threshold_percent"/],
    ["load", { threshold: "x" }, /param "threshold"/],
    ["process", { name: "-9" }, /param "name": "-9" is not a process name/],
    ["process", { name: "a\nb" }, /param "name"/],
    ["process", {}, /param "name": is required/],
  ];
  for (const [action, params, want] of attempts) {
    const r = await run(b, action, params);
    assert.equal(r.status, "failed", JSON.stringify(params));
    assert.match(r.error!, want, JSON.stringify(params));
    assert.equal(r.retryable, false);
  }
});

Deno.test({
  name: "health - host checks work with the worker's grants (no /proc)",
  permissions: {
    read: true,
    net: true,
    sys: ["systemMemoryInfo", "loadavg", "statfs"],
  },
  fn: async () => {
    const b = healthBackend(BIN);
    await runChecked(b, "disk_space", { threshold_percent: "100" });
    await runChecked(b, "memory", { threshold_percent: "100" });
    await runChecked(b, "load");
  },
});
