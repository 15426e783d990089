/**
 * The `firewall` backend: open, close and forget ports on the node with
 * whichever tool it has: ufw, nft or iptables, tried in that order
 * (backends/mod.ts makes one form per tool and registers the first usable).
 * Every tool supports every action (the reference's nft could only list),
 * and `remove` deletes the allow and the deny rule made with the same port,
 * protocol and source (the reference's left deny rules and sourced rules).
 * What each tool runs is in firewall_tools.ts.
 */
import { z } from "zod";
import {
  FIREWALL_TOOLS,
  type FirewallTool,
  IPTABLES_NO_RULE_RE,
  iptablesSpec,
  NFT_CHAIN,
  NFT_LIST_CHAIN,
  NFT_MISSING_RE,
  NFT_TABLE,
  nftAdd,
  nftExpr,
  nftHandles,
  type Rule,
  UFW_NO_RULE_RE,
  ufwSpec,
} from "./firewall_tools.ts";
import { execOutput, failedRun } from "./output.ts";
import { described } from "./params.ts";
import { addressOrCidr, port, protocol } from "./sys_params.ts";
import {
  type ActionContext,
  ActionError,
  type ActionOutput,
  type BackendDef,
  defineAction,
  type ExecResult,
} from "./types.ts";

export { FIREWALL_TOOLS, type FirewallTool } from "./firewall_tools.ts";

export type FirewallPaths = Record<FirewallTool, string>;

/** iptables --wait: how long to wait for the xtables lock, in seconds. */
const XTABLES_WAIT = ["--wait", "10"];
/** Duplicate rules are each removed; this bounds a runaway loop. */
const MAX_DUPLICATES = 64;

const chain = described<string>({
  kind: "text",
  checks: [{
    pattern: "^[A-Za-z0-9_][A-Za-z0-9_-]{0,28}$",
    message: "%s is not a chain name (letters, digits, _ and -; at most 29)",
  }],
});

/**
 * Makes the `firewall` backend (list, allow, deny, remove, status) for the
 * tool `key` names (one of FIREWALL_TOOLS).
 * @throws {RangeError} for any other key
 */
export function firewallBackend(
  paths: FirewallPaths,
  key: string,
): BackendDef {
  const tool = FIREWALL_TOOLS.find((t) => t === key);
  if (!tool) {
    throw new RangeError(
      `firewall: ${JSON.stringify(key)} is not a firewall tool`,
    );
  }
  const bin = paths[tool];
  const exec = (ctx: ActionContext, args: string[]) =>
    ctx.exec({ argv: [bin, ...args] }, ctx.signal);
  const must = async (
    ctx: ActionContext,
    args: string[],
  ): Promise<ActionOutput> => {
    const r = await exec(ctx, args);
    if (r.code !== 0) fail(args, r);
    return { output: execOutput(r) };
  };
  const fail = (args: string[], r: ExecResult): never => {
    const what = `${tool} ${
      args.filter((a) => a !== "--").slice(0, 3).join(" ")
    }`;
    throw new ActionError(
      failedRun(what, r),
      !/Permission denied|not permitted|must be root|need to be root/i.test(
        `${r.stderr}${r.stdout}`,
      ),
      execOutput(r),
    );
  };

  const ruleParams = {
    port: port(),
    proto: protocol().default("tcp"),
    source: addressOrCidr().optional(),
  };
  const add = (verdict: Rule["verdict"]) =>
    defineAction({
      params: z.strictObject(ruleParams),
      run: async (p, ctx) => {
        const rule: Rule = { verdict, ...p };
        if (tool === "iptables" && p.source?.includes(":")) {
          throw new ActionError(
            `iptables handles IPv4 only; ${p.source} is IPv6`,
            false,
          );
        }
        const args = tool === "ufw"
          ? [verdict, ...ufwSpec(rule)]
          : tool === "nft"
          ? nftAdd(rule)
          : [...XTABLES_WAIT, "-A", ...iptablesSpec(rule)];
        const r = await must(ctx, args);
        const done = verdict === "allow" ? "allowed" : "denied";
        const from = p.source ? ` from ${p.source}` : "";
        return {
          output: [r.output, `${done} ${p.proto}/${p.port}${from}`]
            .filter((x) => x).join("\n"),
        };
      },
    });

  /** Removes every rule equal to `rule`; how many went. */
  const removeAll = async (ctx: ActionContext, rule: Rule): Promise<number> => {
    if (tool === "ufw") {
      const args = ["delete", rule.verdict, ...ufwSpec(rule)];
      const r = await exec(ctx, args);
      if (r.code !== 0 && !UFW_NO_RULE_RE.test(execOutput(r))) fail(args, r);
      return r.code === 0 && !UFW_NO_RULE_RE.test(execOutput(r)) ? 1 : 0;
    }
    if (tool === "iptables") {
      if (rule.source?.includes(":")) return 0;
      const args = [...XTABLES_WAIT, "-D", ...iptablesSpec(rule)];
      for (let n = 0; n < MAX_DUPLICATES; n++) {
        const r = await exec(ctx, args);
        if (r.code === 0) continue;
        if (IPTABLES_NO_RULE_RE.test(execOutput(r))) return n;
        fail(args, r);
      }
      return MAX_DUPLICATES;
    }
    const listed = await exec(ctx, NFT_LIST_CHAIN);
    if (listed.code !== 0) {
      if (NFT_MISSING_RE.test(execOutput(listed))) return 0;
      fail(NFT_LIST_CHAIN, listed);
    }
    const handles = nftHandles(listed.stdout, nftExpr(rule));
    for (const h of handles) {
      await must(ctx, [
        "delete",
        "rule",
        ...NFT_TABLE,
        NFT_CHAIN,
        "handle",
        String(h),
      ]);
    }
    return handles.length;
  };

  return {
    name: "firewall",
    requires: [bin],
    actions: {
      list: defineAction({
        params: tool === "iptables"
          ? z.strictObject({ chain: chain.optional() })
          : z.strictObject({}),
        run: (p: { chain?: string }, ctx) =>
          must(
            ctx,
            tool === "ufw"
              ? ["status", "numbered"]
              : tool === "nft"
              ? ["list", "ruleset"]
              : [
                ...XTABLES_WAIT,
                "-n",
                "--line-numbers",
                "-L",
                ...(p.chain ? [p.chain] : []),
              ],
          ),
      }),
      allow: add("allow"),
      deny: add("deny"),
      remove: defineAction({
        params: z.strictObject(ruleParams),
        run: async (p, ctx) => {
          const allowed = await removeAll(ctx, { verdict: "allow", ...p });
          const denied = await removeAll(ctx, { verdict: "deny", ...p });
          const what = `${p.proto}/${p.port}${
            p.source ? ` from ${p.source}` : ""
          }`;
          return {
            output: allowed + denied === 0
              ? `no rule for ${what}: nothing to remove`
              : `removed ${allowed} allow and ${denied} deny rule(s) for ${what}`,
          };
        },
      }),
      status: defineAction({
        params: z.strictObject({}),
        run: (_p, ctx) =>
          must(
            ctx,
            tool === "ufw"
              ? ["status", "verbose"]
              : tool === "nft"
              ? ["list", "ruleset"]
              : [...XTABLES_WAIT, "-L", "-n", "-v"],
          ),
      }),
    },
  };
}
