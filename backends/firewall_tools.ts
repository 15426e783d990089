/**
 * What the `firewall` backend runs on each tool: ufw, nft and iptables.
 * Pure argv builders and output readers, so each tool's tables are tested
 * on any machine. Values reach them already checked (port, protocol,
 * source), and each becomes one argv element.
 *
 * nft keeps GRID's rules in a table of its own, `inet grid`, chain `input`
 * (hook input, policy accept), created on first use: GRID never edits a
 * ruleset it did not write. In nftables a packet passes every base chain
 * of its hook, so a `deny` there drops it whatever other tables say, but
 * an `allow` cannot undo a drop in the host's own tables.
 */

export const FIREWALL_TOOLS = ["ufw", "nft", "iptables"] as const;
export type FirewallTool = typeof FIREWALL_TOOLS[number];

export interface Rule {
  verdict: "allow" | "deny";
  port: number;
  proto: "tcp" | "udp";
  source?: string;
}

export const NFT_TABLE = ["inet", "grid"] as const;
export const NFT_CHAIN = "input";

function isV6(address: string): boolean {
  return address.includes(":");
}

/** ufw's rule spec, as `ufw allow|deny|delete allow …` takes it. */
export function ufwSpec(r: Rule): string[] {
  return r.source
    ? ["from", r.source, "to", "any", "port", String(r.port), "proto", r.proto]
    : [`${r.port}/${r.proto}`];
}

/** iptables' match and target for a rule; INPUT is the chain. */
export function iptablesSpec(r: Rule): string[] {
  return [
    "INPUT",
    ...(r.source ? ["-s", r.source] : []),
    "-p",
    r.proto,
    "--dport",
    String(r.port),
    "-j",
    r.verdict === "allow" ? "ACCEPT" : "DROP",
  ];
}

/** The rule as nft writes it back in `nft -a list chain` (its match + verdict). */
export function nftExpr(r: Rule): string[] {
  return [
    ...(r.source ? [isV6(r.source) ? "ip6" : "ip", "saddr", r.source] : []),
    r.proto,
    "dport",
    String(r.port),
    r.verdict === "allow" ? "accept" : "drop",
  ];
}

/**
 * One nft transaction: make GRID's table and chain if missing (`add` of
 * an existing one is a no-op), then append the rule.
 */
export function nftAdd(r: Rule): string[] {
  return [
    "--",
    "add",
    "table",
    ...NFT_TABLE,
    ";",
    "add",
    "chain",
    ...NFT_TABLE,
    NFT_CHAIN,
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
    ...NFT_TABLE,
    NFT_CHAIN,
    ...nftExpr(r),
  ];
}

export const NFT_LIST_CHAIN = ["-a", "list", "chain", ...NFT_TABLE, NFT_CHAIN];

/**
 * Handles of the rules in `nft -a list chain` output that are exactly
 * `expr`. nft prints a /32 or /128 source as the bare address, so both
 * spellings match.
 */
export function nftHandles(listing: string, expr: string[]): number[] {
  const want = new Set([expr.join(" ")]);
  const bare = expr.join(" ").replace(
    / saddr (\S+)\/(?:32|128) /,
    " saddr $1 ",
  );
  want.add(bare);
  const out: number[] = [];
  for (const line of listing.split("\n")) {
    const m = /^\s*(.+?)\s+# handle (\d+)\s*$/.exec(line);
    if (m && want.has(m[1]!)) out.push(Number(m[2]));
  }
  return out;
}

/** nft's words when GRID's table or chain does not exist yet. */
export const NFT_MISSING_RE = /No such file or directory|does not exist/i;
/** iptables -D's words when no rule matches. */
export const IPTABLES_NO_RULE_RE =
  /Bad rule|does a matching rule exist|No chain\/target\/match by that name/i;
/** ufw's words when a rule to delete is not there. */
export const UFW_NO_RULE_RE = /non-existent rule/i;
