import assert from "node:assert/strict";
import { runChecked } from "./data_testing.ts";
import { arpaName, dnsBackend, parseResolvConf, type Resolver } from "./dns.ts";
import { runAction } from "./run.ts";
import { fakeContext, recordingExec } from "./testing.ts";

/** Answers from a table; records every question. */
function fakeResolver(table: Record<string, string[]>) {
  const asked: string[] = [];
  const answer = (key: string) => {
    asked.push(key);
    const r = table[key];
    return r ? Promise.resolve(r) : Promise.reject(new Error("NXDOMAIN"));
  };
  const resolver: Resolver = {
    addresses: (name, family) =>
      answer(`${family === 4 ? "A" : "AAAA"} ${name}`),
    records: (name, type) => answer(`${type} ${name}`),
    reverse: (ip) => answer(`rev ${ip}`),
  };
  return { resolver, asked };
}

function run(
  b: ReturnType<typeof dnsBackend>,
  action: string,
  params: Record<string, string>,
) {
  const exec = recordingExec();
  return runAction(
    { dns: b },
    { backend: "dns", action, params },
    fakeContext({ exec }),
  )
    .then((r) => {
      assert.deepEqual(exec.calls, [], "dns runs no program");
      return r;
    });
}

Deno.test("dns - lookup localhost through the system resolver (hosts file)", async () => {
  const r = await runChecked(dnsBackend(), "lookup", { name: "localhost" });
  assert.deepEqual(r.data, {
    name: "localhost",
    type: "A",
    records: ["127.0.0.1"],
  });
  assert.equal(r.output, JSON.stringify(r.data));
  const c = await runChecked(dnsBackend(), "check", {
    name: "localhost",
    expected: "127.0.0.1",
  });
  assert.equal((c.data as { matches: boolean }).matches, true);
  const rev = await runChecked(dnsBackend(), "reverse", { ip: "127.0.0.1" });
  assert.ok((rev.data as { names: string[] }).names.length > 0);
});

Deno.test("dns - each record type, asked of the resolver as it should be", async () => {
  const { resolver, asked } = fakeResolver({
    "A example.com": ["93.184.216.34"],
    "AAAA example.com": ["2606:2800::1"],
    "MX example.com": ["10 mail.example.com."],
    "SRV _sip._tcp.example.com": ["10 60 5060 sip.example.com."],
    "TXT example.com": ["v=spf1 -all"],
    "PTR 1.2.3.4": ["host.example.com."],
    "CNAME www.example.com": ["example.com."],
    "NS example.com": ["a.iana-servers.net."],
    "rev 1.2.3.4": ["host.example.com"],
  });
  const b = dnsBackend({ resolver });
  const table: [Record<string, string>, string[]][] = [
    [{ name: "example.com" }, ["93.184.216.34"]],
    [{ name: "example.com", type: "AAAA" }, ["2606:2800::1"]],
    [{ name: "example.com", type: "MX" }, ["10 mail.example.com."]],
    [{ name: "_sip._tcp.example.com", type: "SRV" }, [
      "10 60 5060 sip.example.com.",
    ]],
    [{ name: "example.com", type: "TXT" }, ["v=spf1 -all"]],
    [{ name: "1.2.3.4", type: "PTR" }, ["host.example.com."]],
    [{ name: "www.example.com", type: "CNAME" }, ["example.com."]],
    [{ name: "example.com", type: "NS" }, ["a.iana-servers.net."]],
  ];
  for (const [params, records] of table) {
    const r = await runChecked(b, "lookup", params);
    assert.deepEqual((r.data as { records: string[] }).records, records);
  }
  assert.deepEqual(
    (await runChecked(b, "reverse", { ip: "1.2.3.4" })).data,
    { ip: "1.2.3.4", names: ["host.example.com"] },
  );
  assert.equal(asked.length, table.length + 1);
  const missing = await run(b, "lookup", { name: "nope.example.com" });
  assert.equal(missing.status, "failed");
  assert.equal(missing.error, "dns lookup A nope.example.com: NXDOMAIN");
  assert.equal(missing.retryable, true);
});

Deno.test("dns - check fails when no record matches, with the detail as JSON", async () => {
  const { resolver } = fakeResolver({
    "A app.example.com": ["10.0.0.1", "10.0.0.2"],
    "CNAME www.example.com": ["App.Example.com."],
  });
  const b = dnsBackend({ resolver });
  const ok = await runChecked(b, "check", {
    name: "app.example.com",
    expected: "10.0.0.2",
  });
  assert.deepEqual(ok.data, {
    name: "app.example.com",
    type: "A",
    expected: "10.0.0.2",
    actual: ["10.0.0.1", "10.0.0.2"],
    matches: true,
  });
  const cname = await runChecked(b, "check", {
    name: "www.example.com",
    type: "CNAME",
    expected: "app.example.com",
  });
  assert.equal(
    (cname.data as { matches: boolean }).matches,
    true,
    "case and final dot aside",
  );
  const wrong = await run(b, "check", {
    name: "app.example.com",
    expected: "10.0.0.9",
  });
  assert.equal(wrong.status, "failed");
  assert.equal(
    wrong.error,
    "dns check: A app.example.com is 10.0.0.1, 10.0.0.2, expected 10.0.0.9",
  );
  assert.equal(wrong.retryable, true);
  assert.deepEqual(JSON.parse(wrong.output), {
    name: "app.example.com",
    type: "A",
    expected: "10.0.0.9",
    actual: ["10.0.0.1", "10.0.0.2"],
    matches: false,
  });
  const gone = await run(b, "check", {
    name: "gone.example.com",
    expected: "10.0.0.9",
  });
  assert.match(
    gone.error!,
    /is not resolvable \(dns lookup A gone\.example\.com: NXDOMAIN\)/,
  );
  assert.equal(JSON.parse(gone.output).matches, false);
});

Deno.test("dns - resolvers come from resolv.conf", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const conf = `${dir}/resolv.conf`;
    await Deno.writeTextFile(
      conf,
      "# c\nsearch example.com\nnameserver 10.0.0.53\n nameserver  ::1\noptions ndots:2\n",
    );
    const r = await runChecked(dnsBackend({ resolvConf: conf }), "resolvers");
    assert.deepEqual(r.data, { resolvers: ["10.0.0.53", "::1"] });
    assert.deepEqual(parseResolvConf(""), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dns - PTR names for IPv4 and IPv6", () => {
  assert.equal(arpaName("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  assert.equal(
    arpaName("2001:db8::1"),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
  );
});

Deno.test("dns - injection attempts are refused by the schema and nothing is asked", async () => {
  const { resolver, asked } = fakeResolver({});
  const b = dnsBackend({ resolver });
  const attempts: [string, Record<string, string>, RegExp][] = [
    ["lookup", { name: "-x" }, /param "name": "-x" is not a DNS name/],
    ["lookup", { name: "a b" }, /param "name"/],
    ["lookup", { name: "a;id" }, /param "name"/],
    ["lookup", { name: "a\nb" }, /param "name"/],
    ["lookup", { name: "" }, /param "name"/],
    ["lookup", { name: `${"a".repeat(64)}.com` }, /param "name"/],
    [
      "lookup",
      { name: "a.com", type: "AXFR" },
      /param "type": "AXFR" is not a record type this backend looks up \(A, AAAA/,
    ],
    ["lookup", { name: "a.com", type: "ANY" }, /param "type"/],
    [
      "reverse",
      { ip: "example.com" },
      /param "ip": "example.com" is not an IPv4 or IPv6 address/,
    ],
    ["reverse", { ip: "256.1.1.1" }, /param "ip"/],
    ["check", { name: "a.com" }, /param "expected": is required/],
    ["check", { name: "a.com", expected: "1\n2" }, /param "expected"/],
    ["resolvers", { file: "/etc/shadow" }, /param "file": is not a param/],
  ];
  for (const [action, params, want] of attempts) {
    const r = await run(b, action, params);
    assert.equal(r.status, "failed", JSON.stringify(params));
    assert.match(r.error!, want, JSON.stringify(params));
    assert.equal(r.retryable, false);
  }
  assert.deepEqual(asked, []);
});

Deno.test({
  name: "dns - works with the worker's grants: read and net",
  permissions: { read: true, net: true },
  fn: async () => {
    const r = await runChecked(dnsBackend(), "lookup", { name: "localhost" });
    assert.deepEqual((r.data as { records: string[] }).records, ["127.0.0.1"]);
    await runChecked(dnsBackend(), "resolvers");
  },
});
