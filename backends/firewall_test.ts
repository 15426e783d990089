import assert from "node:assert/strict";
import {
  FIREWALL_TOOLS,
  firewallBackend,
  type FirewallTool,
} from "./firewall.ts";
import { nftHandles } from "./firewall_tools.ts";
import { runAction } from "./run.ts";
import { assertRefused, call } from "./sys_testing.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";

const PATHS = { ufw: "/t/ufw", nft: "/t/nft", iptables: "/t/iptables" };
const fw = (tool: FirewallTool) => firewallBackend(PATHS, tool);
const W = ["--wait", "10"];
const NFT_HEAD = [
  "--",
  "add",
  "table",
  "inet",
  "grid",
  ";",
  "add",
  "chain",
  "inet",
  "grid",
  "input",
  "{",
  "type",
  "filter",
  "hook",
  "input",
  "priority",
  "0",
  ";",
  "policy",
  "accept",
  ";",
  "}",
  ";",
  "add",
  "rule",
  "inet",
  "grid",
  "input",
];

type Row = [string, Record<string, string>, string[]];

const TABLES: Record<FirewallTool, Row[]> = {
  ufw: [
    ["list", {}, ["status", "numbered"]],
    ["status", {}, ["status", "verbose"]],
    ["allow", { port: "22" }, ["allow", "22/tcp"]],
    ["deny", { port: "53", proto: "udp" }, ["deny", "53/udp"]],
    ["allow", { port: "443", source: "10.0.0.0/8" }, [
      "allow",
      "from",
      "10.0.0.0/8",
      "to",
      "any",
      "port",
      "443",
      "proto",
      "tcp",
    ]],
  ],
  nft: [
    ["list", {}, ["list", "ruleset"]],
    ["status", {}, ["list", "ruleset"]],
    ["allow", { port: "22" }, [...NFT_HEAD, "tcp", "dport", "22", "accept"]],
    ["deny", { port: "53", proto: "udp", source: "192.168.1.7" }, [
      ...NFT_HEAD,
      "ip",
      "saddr",
      "192.168.1.7",
      "udp",
      "dport",
      "53",
      "drop",
    ]],
    ["allow", { port: "443", source: "2001:db8::/32" }, [
      ...NFT_HEAD,
      "ip6",
      "saddr",
      "2001:db8::/32",
      "tcp",
      "dport",
      "443",
      "accept",
    ]],
  ],
  iptables: [
    ["list", {}, [...W, "-n", "--line-numbers", "-L"]],
    ["list", { chain: "INPUT" }, [...W, "-n", "--line-numbers", "-L", "INPUT"]],
    ["status", {}, [...W, "-L", "-n", "-v"]],
    ["allow", { port: "22" }, [
      ...W,
      "-A",
      "INPUT",
      "-p",
      "tcp",
      "--dport",
      "22",
      "-j",
      "ACCEPT",
    ]],
    ["deny", { port: "53", proto: "udp", source: "10.1.2.3" }, [
      ...W,
      "-A",
      "INPUT",
      "-s",
      "10.1.2.3",
      "-p",
      "udp",
      "--dport",
      "53",
      "-j",
      "DROP",
    ]],
  ],
};

Deno.test("firewall - argv of list, status, allow and deny on every tool", async () => {
  for (const tool of FIREWALL_TOOLS) {
    const b = fw(tool);
    assert.deepEqual(b.requires, [PATHS[tool]]);
    assert.deepEqual(Object.keys(b.actions), [
      "list",
      "allow",
      "deny",
      "remove",
      "status",
    ]);
    for (const [action, params, args] of TABLES[tool]) {
      const r = await call(b, action, params);
      assert.deepEqual(
        r.calls,
        [{ argv: [PATHS[tool], ...args] }],
        `${tool} ${action} ${JSON.stringify(params)}`,
      );
    }
  }
  const a = await call(fw("ufw"), "allow", { port: "22", source: "10.0.0.1" }, {
    stdout: "Rule added\n",
  });
  assert.equal(a.output, "Rule added\nallowed tcp/22 from 10.0.0.1");
});

Deno.test("firewall - ufw remove deletes the allow and the deny rule", async () => {
  const r = await call(
    fw("ufw"),
    "remove",
    { port: "22", source: "10.0.0.0/8" },
    (req) =>
      req.argv[2] === "deny"
        ? { stdout: "Could not delete non-existent rule\n" }
        : { stdout: "Rule deleted\n" },
  );
  const spec = [
    "from",
    "10.0.0.0/8",
    "to",
    "any",
    "port",
    "22",
    "proto",
    "tcp",
  ];
  assert.deepEqual(r.calls.map((c) => c.argv), [
    ["/t/ufw", "delete", "allow", ...spec],
    ["/t/ufw", "delete", "deny", ...spec],
  ]);
  assert.equal(
    r.output,
    "removed 1 allow and 0 deny rule(s) for tcp/22 from 10.0.0.0/8",
  );
  const none = await call(fw("ufw"), "remove", { port: "80" }, {
    stdout: "Could not delete non-existent rule\n",
  });
  assert.equal(none.output, "no rule for tcp/80: nothing to remove");
});

Deno.test("firewall - iptables remove deletes every copy of both verdicts, source included", async () => {
  let accepts = 2;
  let drops = 1;
  const reply: Reply = (req) => {
    const target = req.argv.at(-1);
    if (target === "ACCEPT" && accepts > 0) return (accepts--, {});
    if (target === "DROP" && drops > 0) return (drops--, {});
    return {
      code: 1,
      stderr:
        "iptables: Bad rule (does a matching rule exist in that chain?).\n",
    };
  };
  const r = await call(fw("iptables"), "remove", {
    port: "22",
    source: "10.0.0.0/8",
  }, reply);
  const del = (t: string) => [
    "/t/iptables",
    ...W,
    "-D",
    "INPUT",
    "-s",
    "10.0.0.0/8",
    "-p",
    "tcp",
    "--dport",
    "22",
    "-j",
    t,
  ];
  assert.deepEqual(r.calls.map((c) => c.argv), [
    del("ACCEPT"),
    del("ACCEPT"),
    del("ACCEPT"),
    del("DROP"),
    del("DROP"),
  ]);
  assert.equal(
    r.output,
    "removed 2 allow and 1 deny rule(s) for tcp/22 from 10.0.0.0/8",
  );

  const exec = recordingExec({
    code: 4,
    stderr: "iptables: Permission denied (you must be root)\n",
  });
  const denied = await runAction(
    { firewall: fw("iptables") },
    { backend: "firewall", action: "remove", params: { port: "22" } },
    fakeContext({ exec }),
  );
  assert.equal(denied.status, "failed");
  assert.match(
    denied.error ?? "",
    /^iptables --wait 10 -D failed \(exit code 4\)/,
  );
  assert.equal(denied.retryable, false);
});

Deno.test("firewall - nft remove finds GRID's rules by handle, both verdicts", async () => {
  const listing = `table inet grid {
	chain input { # handle 1
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept # handle 2
		ip saddr 10.0.0.1 tcp dport 22 drop # handle 3
		tcp dport 22 drop # handle 4
		tcp dport 220 accept # handle 5
		tcp dport 22 accept # handle 6
	}
}
`;
  assert.deepEqual(nftHandles(listing, ["tcp", "dport", "22", "accept"]), [
    2,
    6,
  ]);
  assert.deepEqual(
    nftHandles(listing, [
      "ip",
      "saddr",
      "10.0.0.1/32",
      "tcp",
      "dport",
      "22",
      "drop",
    ]),
    [3],
  );
  const r = await call(
    fw("nft"),
    "remove",
    { port: "22" },
    (req) => req.argv[1] === "-a" ? { stdout: listing } : {},
  );
  assert.deepEqual(r.calls.map((c) => c.argv.slice(1)), [
    ["-a", "list", "chain", "inet", "grid", "input"],
    ["delete", "rule", "inet", "grid", "input", "handle", "2"],
    ["delete", "rule", "inet", "grid", "input", "handle", "6"],
    ["-a", "list", "chain", "inet", "grid", "input"],
    ["delete", "rule", "inet", "grid", "input", "handle", "4"],
  ]);
  assert.equal(r.output, "removed 2 allow and 1 deny rule(s) for tcp/22");

  const fresh = await call(fw("nft"), "remove", { port: "22" }, {
    code: 1,
    stderr: "Error: No such file or directory; did you mean table 'filter'?\n",
  });
  assert.equal(fresh.output, "no rule for tcp/22: nothing to remove");
});

Deno.test("firewall - iptables refuses an IPv6 source instead of misapplying it", async () => {
  const exec = recordingExec();
  const r = await runAction(
    { firewall: fw("iptables") },
    {
      backend: "firewall",
      action: "allow",
      params: { port: "22", source: "2001:db8::1" },
    },
    fakeContext({ exec }),
  );
  assert.equal(r.status, "failed");
  assert.match(r.error ?? "", /IPv4 only/);
  assert.deepEqual(exec.calls, []);
});

Deno.test("firewall - injection attempts and bad values are refused on every tool", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["allow", {}, /param "port": is required/],
    ["allow", { port: "0" }, /param "port": must be between 1 and 65535/],
    ["allow", { port: "65536" }, /param "port"/],
    ["allow", { port: "22,23" }, /param "port"/],
    ["allow", { port: "22:30" }, /param "port"/],
    ["allow", { port: "-1" }, /param "port"/],
    [
      "allow",
      { port: "22", proto: "icmp" },
      /param "proto": "icmp" is not a protocol/,
    ],
    ["allow", { port: "22", proto: "TCP" }, /param "proto"/],
    ["allow", { port: "22", proto: "tcp;" }, /param "proto"/],
    [
      "allow",
      { port: "22", source: "any" },
      /param "source": "any" is not an IP address or CIDR/,
    ],
    ["allow", { port: "22", source: "-j ACCEPT" }, /param "source"/],
    ["allow", { port: "22", source: "10.0.0.0/33" }, /param "source"/],
    ["allow", { port: "22", source: "256.1.1.1" }, /param "source"/],
    ["allow", { port: "22", source: "10.0.0.1 " }, /param "source"/],
    ["allow", { port: "22", source: "::/129" }, /param "source"/],
    ["allow", { port: "22", source: "10.0.0.1; drop" }, /param "source"/],
    ["deny", { port: "22", chain: "INPUT" }, /param "chain": is not a param/],
    [
      "remove",
      { port: "22", verdict: "allow" },
      /param "verdict": is not a param/,
    ],
    ["status", { verbose: "1" }, /param "verbose"/],
  ];
  for (const tool of FIREWALL_TOOLS) assertRefused(fw(tool), cases);
  assertRefused(fw("iptables"), [
    ["list", { chain: "-F" }, /param "chain": "-F" is not a chain name/],
    ["list", { chain: "INPUT -F" }, /param "chain"/],
  ]);
  assertRefused(fw("ufw"), [[
    "list",
    { chain: "INPUT" },
    /param "chain": is not a param/,
  ]]);
});
