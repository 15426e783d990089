/**
 * The `dns` backend: lookup, reverse, resolvers and check, through the
 * system resolver. A and AAAA go through getaddrinfo (node:dns lookup), so
 * /etc/hosts counts as it does for every program on the node; the other
 * record types ask the configured name server (Deno.resolveDns).
 *
 * `check` fails when no record matches what was expected, so a job can
 * wait on a DNS change (with retries) before acting on it.
 */
import { lookup, reverse } from "node:dns/promises";
import { z } from "zod";
import { dataOutput } from "./data.ts";
import { described } from "./params.ts";
import { IPV4_RE, IPV6_RE } from "./sys_params.ts";
import { ActionError, type BackendDef, defineAction } from "./types.ts";

export const RECORD_TYPES = [
  "A",
  "AAAA",
  "CNAME",
  "MX",
  "TXT",
  "NS",
  "SRV",
  "PTR",
] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

const LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?";

/** A DNS name ("_sip._tcp.example.com" too) or, for PTR, an IP address. */
const dnsName = described<string>({
  kind: "text",
  checks: [{
    pattern: `^(?:(?=.{1,254}$)${LABEL}(?:\\.${LABEL})*\\.?|${IPV6_RE})$`,
    message:
      '%s is not a DNS name or IP address (letters, digits, "_" and "-" in dot-separated labels)',
  }],
});

const ipAddress = described<string>({
  kind: "text",
  checks: [{
    pattern: `^(?:${IPV4_RE}|${IPV6_RE})$`,
    message: "%s is not an IPv4 or IPv6 address",
  }],
});

const recordType = described<RecordType>({
  kind: "enum",
  values: [...RECORD_TYPES],
  message: `%s is not a record type this backend looks up (${
    RECORD_TYPES.join(", ")
  })`,
});

const expectedValue = described<string>({
  kind: "text",
  checks: [{
    pattern: "^[^\\x00-\\x1f\\x7f]{1,1024}$",
    message: "must be 1 to 1024 characters without control characters",
  }],
});

export const LookupData = z.object({
  name: z.string(),
  type: z.enum(RECORD_TYPES),
  records: z.array(z.string()),
});

export const ReverseData = z.object({
  ip: z.string(),
  names: z.array(z.string()),
});

export const ResolversData = z.object({ resolvers: z.array(z.string()) });

export const CheckData = z.object({
  name: z.string(),
  type: z.enum(RECORD_TYPES),
  expected: z.string(),
  actual: z.array(z.string()),
  matches: z.boolean(),
});

/** Where answers come from; a seam for tests. */
export interface Resolver {
  /** A or AAAA as getaddrinfo answers (hosts file included). */
  addresses(name: string, family: 4 | 6): Promise<string[]>;
  records(name: string, type: Exclude<RecordType, "A" | "AAAA">): Promise<
    string[]
  >;
  reverse(ip: string): Promise<string[]>;
}

/** The name a PTR lookup asks for: 1.2.3.4 → 4.3.2.1.in-addr.arpa. */
export function arpaName(ip: string): string {
  if (!ip.includes(":")) {
    return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  }
  const [head = "", tail = ""] = ip.split("::");
  const groups = (s: string) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const full = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const nibbles = full.map((g) => g.padStart(4, "0")).join("");
  return `${[...nibbles].reverse().join(".")}.ip6.arpa`;
}

export const systemResolver: Resolver = {
  async addresses(name, family) {
    const r = await lookup(name, { all: true, family });
    return [...new Set(r.map((a) => a.address))];
  },
  async records(name, type) {
    switch (type) {
      case "MX":
        return (await Deno.resolveDns(name, "MX")).map((r) =>
          `${r.preference} ${r.exchange}`
        );
      case "SRV":
        return (await Deno.resolveDns(name, "SRV")).map((r) =>
          `${r.priority} ${r.weight} ${r.port} ${r.target}`
        );
      case "TXT":
        return (await Deno.resolveDns(name, "TXT")).map((r) => r.join(""));
      case "PTR": {
        const q = /^[\d.]+$|:/.test(name) ? arpaName(name) : name;
        return await Deno.resolveDns(q, "PTR");
      }
      default:
        return await Deno.resolveDns(name, type);
    }
  },
  reverse: (ip) => reverse(ip),
};

/** resolv.conf's name servers, in order. */
export function parseResolvConf(text: string): string[] {
  return text.split("\n").flatMap((line) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    return m ? [m[1]!] : [];
  });
}

export interface DnsOptions {
  resolver?: Resolver;
  /** @default "/etc/resolv.conf" */
  resolvConf?: string;
}

/** Records compare as DNS compares names: case and a final dot aside. */
function same(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().toLowerCase().replace(/\.$/, "");
  return norm(a) === norm(b);
}

function lookupFailure(name: string, type: string, e: unknown): ActionError {
  const why = e instanceof Error ? e.message : String(e);
  // A record not there yet may be there on a retry (propagation, a slow server).
  return new ActionError(`dns lookup ${type} ${name}: ${why}`, true);
}

/** Makes the `dns` backend (lookup, reverse, resolvers, check). */
export function dnsBackend(opts: DnsOptions = {}): BackendDef {
  const resolver = opts.resolver ?? systemResolver;
  const resolvConf = opts.resolvConf ?? "/etc/resolv.conf";

  async function records(name: string, type: RecordType): Promise<string[]> {
    let found: string[];
    try {
      found = type === "A" || type === "AAAA"
        ? await resolver.addresses(name, type === "A" ? 4 : 6)
        : await resolver.records(name, type);
    } catch (e) {
      throw lookupFailure(name, type, e);
    }
    if (found.length === 0) {
      throw new ActionError(`dns lookup ${type} ${name}: no records`, true);
    }
    return found;
  }

  return {
    name: "dns",
    actions: {
      lookup: defineAction({
        params: z.strictObject({
          name: dnsName,
          type: recordType.default("A"),
        }),
        data: LookupData,
        run: async (p) =>
          dataOutput({
            name: p.name,
            type: p.type,
            records: await records(p.name, p.type),
          }),
      }),
      reverse: defineAction({
        params: z.strictObject({ ip: ipAddress }),
        data: ReverseData,
        run: async (p) => {
          let names: string[];
          try {
            names = await resolver.reverse(p.ip);
          } catch (e) {
            throw lookupFailure(p.ip, "PTR", e);
          }
          return dataOutput({ ip: p.ip, names });
        },
      }),
      resolvers: defineAction({
        params: z.strictObject({}),
        data: ResolversData,
        run: async () =>
          dataOutput({
            resolvers: parseResolvConf(await Deno.readTextFile(resolvConf)),
          }),
      }),
      check: defineAction({
        params: z.strictObject({
          name: dnsName,
          expected: expectedValue,
          type: recordType.default("A"),
        }),
        data: CheckData,
        run: async (p) => {
          let actual: string[] = [];
          let error: ActionError | undefined;
          try {
            actual = await records(p.name, p.type);
          } catch (e) {
            if (!(e instanceof ActionError)) throw e;
            error = e;
          }
          const matches = actual.some((r) => same(r, p.expected));
          const data = {
            name: p.name,
            type: p.type,
            expected: p.expected,
            actual,
            matches,
          };
          if (matches) return dataOutput(data);
          throw new ActionError(
            `dns check: ${p.type} ${p.name} is ${
              error ? `not resolvable (${error.message})` : actual.join(", ")
            }, expected ${p.expected}`,
            true,
            JSON.stringify(data),
          );
        },
      }),
    },
  };
}
