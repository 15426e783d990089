import assert from "node:assert/strict";
import { netBackend, parsePing } from "./net.ts";
import { runAction } from "./run.ts";
import { assertRefused, call } from "./sys_testing.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";
import { ActionError } from "./types.ts";

const PATHS = { ping: "/t/ping", traceroute: "/t/traceroute" };
const net = netBackend(PATHS);

const PING_OK = `PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.
64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms

--- 10.0.0.1 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 2030ms
rtt min/avg/max/mdev = 0.040/0.052/0.061/0.008 ms
`;
const PING_LOST = `PING 10.9.9.9 (10.9.9.9) 56(84) bytes of data.

--- 10.9.9.9 ping statistics ---
2 packets transmitted, 0 received, 100% packet loss, time 1010ms
`;

function run(action: string, params: Record<string, string>, reply: Reply) {
  const exec = recordingExec(reply);
  return runAction(
    { net },
    { backend: "net", action, params },
    fakeContext({ exec }),
  ).then((o) => ({ ...o, calls: exec.calls }));
}

Deno.test("net - argv for ping and traceroute; the host is the last operand", async () => {
  const table: [string, Record<string, string>, string[]][] = [
    ["ping", { host: "10.0.0.1" }, [
      "/t/ping",
      "-c",
      "3",
      "-W",
      "5",
      "--",
      "10.0.0.1",
    ]],
    ["ping", { host: "db-1.example.com", count: "10" }, [
      "/t/ping",
      "-c",
      "10",
      "-W",
      "5",
      "--",
      "db-1.example.com",
    ]],
    ["ping", { host: "fe80::1%eth0", count: "1" }, [
      "/t/ping",
      "-c",
      "1",
      "-W",
      "5",
      "--",
      "fe80::1%eth0",
    ]],
    ["traceroute", { host: "example.com" }, [
      "/t/traceroute",
      "-m",
      "15",
      "-n",
      "example.com",
    ]],
    ["traceroute", { host: "2001:db8::1", max_hops: "30" }, [
      "/t/traceroute",
      "-m",
      "30",
      "-n",
      "2001:db8::1",
    ]],
  ];
  for (const [action, params, argv] of table) {
    const r = await call(net, action, params, { stdout: PING_OK });
    assert.deepEqual(
      r.calls,
      [{ argv }],
      `${action} ${JSON.stringify(params)}`,
    );
  }
});

Deno.test("net - ping reports loss and latency as data", async () => {
  const r = await call(net, "ping", { host: "10.0.0.1" }, { stdout: PING_OK });
  assert.deepEqual(r.data, {
    host: "10.0.0.1",
    transmitted: 3,
    received: 2,
    loss_percent: 33.3,
    rtt_avg_ms: 0.052,
  });
  assert.match(r.output, /2 received/);
  assert.deepEqual(parsePing("h", "nothing"), undefined);
});

Deno.test("net - a ping without answer fails the task, with ping's output", async () => {
  const r = await run("ping", { host: "10.9.9.9", count: "2" }, {
    code: 1,
    stdout: PING_LOST,
  });
  assert.equal(r.status, "failed");
  assert.match(r.error ?? "", /^ping 10\.9\.9\.9 failed \(exit code 1\)/);
  assert.match(r.output, /100% packet loss/);
  assert.equal(r.retryable, true);

  const unknown = await run("ping", { host: "nowhere.invalid" }, {
    code: 2,
    stderr: "ping: nowhere.invalid: Name or service not known\n",
  });
  assert.equal(unknown.status, "failed");
  assert.match(unknown.error ?? "", /Name or service not known/);
  assert.equal(unknown.retryable, false);

  const trace = await run("traceroute", { host: "x.example" }, {
    code: 1,
    stderr: "boom",
  });
  assert.equal(trace.status, "failed");
  assert.match(trace.error ?? "", /traceroute x\.example failed.*boom/);
});

Deno.test("net - resolve uses the system resolver (localhost from /etc/hosts)", async () => {
  const r = await call(net, "resolve", { host: "localhost" });
  const addresses = (r.data as { addresses: string[] }).addresses;
  assert.ok(
    addresses.some((a) => a === "127.0.0.1" || a === "::1"),
    addresses.join(),
  );
  assert.deepEqual(r.calls, []);
  await assert.rejects(
    () => call(net, "resolve", { host: "no-such-host.invalid" }),
    (e: unknown) =>
      e instanceof ActionError && /cannot resolve no-such-host/.test(e.message),
  );
});

Deno.test("net - port dials a local listener; a closed port is an answer", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const c of listener) c.close();
  })();
  const open = listener.addr.port;
  const spare = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = spare.addr.port;
  spare.close();
  try {
    const r = await call(net, "port", {
      host: "127.0.0.1",
      port: String(open),
    });
    const d = r.data as { open: boolean; port: number; latency_ms: number };
    assert.equal(d.open, true);
    assert.equal(d.port, open);
    assert.ok(d.latency_ms >= 0);
    assert.match(r.output, new RegExp(`^127\\.0\\.0\\.1:${open} is open`));
    assert.deepEqual(r.calls, []);

    const c = await call(net, "port", {
      host: "127.0.0.1",
      port: String(closed),
      timeout: "2s",
    });
    assert.equal((c.data as { open: boolean }).open, false);
    assert.match(c.output, /is closed/);

    await assert.rejects(
      () =>
        call(net, "port", {
          host: "127.0.0.1",
          port: String(closed),
          expect: "open",
        }),
      (e: unknown) =>
        e instanceof ActionError && /is closed, expected open/.test(e.message),
    );
    await call(net, "port", {
      host: "127.0.0.1",
      port: String(closed),
      expect: "closed",
    });
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("net - interfaces lists loopback with its address and flags", async () => {
  const r = await call(net, "interfaces");
  const lo =
    (r.data as { name: string; addresses: string[]; flags: string[] }[])
      .find((i) => i.name === "lo");
  assert.ok(lo, r.output);
  assert.ok(lo.addresses.includes("127.0.0.1/8"), lo.addresses.join());
  assert.ok(lo.flags.includes("loopback") && lo.flags.includes("up"));
});

Deno.test("net - without ping and traceroute only the local actions exist", () => {
  const local = netBackend(PATHS, { localOnly: true });
  assert.deepEqual(Object.keys(local.actions), [
    "resolve",
    "port",
    "interfaces",
  ]);
  assert.deepEqual(local.requires, []);
  assert.deepEqual(net.requires, ["/t/ping", "/t/traceroute"]);
});

Deno.test("net - injection attempts and bad values are refused", () => {
  assertRefused(net, [
    ["ping", { host: "-f" }, /param "host": "-f" is not a host name/],
    ["ping", { host: "--help" }, /param "host"/],
    ["ping", { host: "a b" }, /param "host"/],
    ["ping", { host: "x.com; rm -rf /" }, /param "host"/],
    ["ping", { host: "x.com\n-f" }, /param "host"/],
    ["ping", { host: "" }, /param "host"/],
    ["ping", { host: "a".repeat(64) }, /param "host"/],
    ["ping", { host: `${"a.".repeat(127)}a` }, /param "host"/],
    [
      "ping",
      { host: "h", count: "11" },
      /param "count": must be between 1 and 10/,
    ],
    ["ping", { host: "h", count: "0" }, /param "count"/],
    ["ping", { host: "h", flood: "1" }, /param "flood": is not a param/],
    ["traceroute", { host: "-I" }, /param "host"/],
    ["traceroute", { host: "h", max_hops: "31" }, /param "max_hops"/],
    ["resolve", {}, /param "host": is required/],
    [
      "port",
      { host: "h", port: "0" },
      /param "port": must be between 1 and 65535/,
    ],
    ["port", { host: "h", port: "65536" }, /param "port"/],
    ["port", { host: "h", port: "http" }, /param "port"/],
    ["port", { host: "h", port: "1", timeout: "soon" }, /param "timeout"/],
    ["port", { host: "h", port: "1", expect: "up" }, /param "expect"/],
    ["interfaces", { name: "lo" }, /param "name": is not a param/],
  ]);
});
