/**
 * The `net` backend: can this node reach that one? `resolve`, `port` and
 * `interfaces` use Deno's own APIs (the system resolver, a TCP dial, the
 * interface list) and start nothing; `ping` and `traceroute` run those
 * programs. A ping that gets no answer fails the task (the reference
 * reported it as a success), so a later step can depend on the network.
 */
import { lookup } from "node:dns/promises";
import { z } from "zod";
import { execOutput, failedRun } from "./output.ts";
import { described, duration, intText } from "./params.ts";
import { host, port } from "./sys_params.ts";
import {
  type ActionContext,
  ActionError,
  type BackendDef,
  defineAction,
} from "./types.ts";

export interface NetPaths {
  ping: string;
  /** traceroute(8), or tracepath(8): both take `-m HOPS -n HOST`. */
  traceroute: string;
}

export interface NetOptions {
  /** Only the actions that start no program (no ping, no traceroute). */
  localOnly?: boolean;
  /** Where interface flags are read. @default "/sys/class/net" */
  sysNet?: string;
}

/** The counts are absent when ping printed no summary. */
export const PingData = z.object({
  host: z.string(),
  transmitted: z.number().int().optional(),
  received: z.number().int().optional(),
  loss_percent: z.number().optional(),
  rtt_avg_ms: z.number().optional(),
});
export const ResolveData = z.object({
  host: z.string(),
  addresses: z.array(z.string()),
});
export const PortData = z.object({
  host: z.string(),
  port: z.number().int(),
  open: z.boolean(),
  latency_ms: z.number(),
  error: z.string().optional(),
});
export const InterfacesData = z.array(z.object({
  name: z.string(),
  mac: z.string(),
  addresses: z.array(z.string()),
  flags: z.array(z.string()),
}));

/** Parses ping's summary lines; undefined when there is none. */
export function parsePing(
  hostName: string,
  text: string,
): z.infer<typeof PingData> | undefined {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(
    text,
  );
  if (!m) return undefined;
  const transmitted = Number(m[1]);
  const received = Number(m[2]);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(text);
  return {
    host: hostName,
    transmitted,
    received,
    loss_percent: transmitted > 0
      ? Math.round((1 - received / transmitted) * 1000) / 10
      : 100,
    ...(rtt ? { rtt_avg_ms: Number(rtt[1]) } : {}),
  };
}

/** The kernel's IFF_* bits that say something to an operator. */
const IFF: [number, string][] = [
  [0x1, "up"],
  [0x2, "broadcast"],
  [0x8, "loopback"],
  [0x10, "pointtopoint"],
  [0x40, "running"],
  [0x1000, "multicast"],
];

async function interfaceFlags(dir: string, name: string): Promise<string[]> {
  try {
    const bits = parseInt(await Deno.readTextFile(`${dir}/${name}/flags`), 16);
    return IFF.filter(([bit]) => (bits & bit) !== 0).map(([, f]) => f);
  } catch {
    return [];
  }
}

/** Dials host:port once; a refusal or timeout is an answer, not an error. */
export async function dial(
  hostName: string,
  portNumber: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<z.infer<typeof PortData>> {
  const start = performance.now();
  const latency = () => Math.round((performance.now() - start) * 10) / 10;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const conn = await Deno.connect({
      hostname: hostName,
      port: portNumber,
      signal: AbortSignal.any([signal, timeout]),
    });
    const ms = latency();
    conn.close();
    return { host: hostName, port: portNumber, open: true, latency_ms: ms };
  } catch (e) {
    if (signal.aborted) throw e;
    if (e instanceof Deno.errors.NotCapable) throw e;
    const error = timeout.aborted
      ? `no answer within ${timeoutMs} ms`
      : e instanceof Error
      ? e.message
      : String(e);
    return {
      host: hostName,
      port: portNumber,
      open: false,
      latency_ms: latency(),
      error,
    };
  }
}

async function runProgram(
  ctx: ActionContext,
  what: string,
  argv: string[],
): Promise<string> {
  const r = await ctx.exec({ argv }, ctx.signal);
  const output = execOutput(r);
  if (r.code !== 0) {
    // ping and traceroute exit 2 for errors such as an unknown host or a
    // bad option: retrying will not help. Exit 1 is no answer: it may come.
    throw new ActionError(failedRun(what, r), r.code !== 2, output);
  }
  return output;
}

const expectState = described<"open" | "closed">({
  kind: "enum",
  values: ["open", "closed"],
});

/** Makes the `net` backend (ping, resolve, port, interfaces, traceroute). */
export function netBackend(
  paths: NetPaths,
  opts: NetOptions = {},
): BackendDef {
  const sysNet = opts.sysNet ?? "/sys/class/net";
  const ping = defineAction({
    params: z.strictObject({
      host: host(),
      count: intText(1, 10).default(3),
    }),
    data: PingData,
    run: async (p, ctx) => {
      const output = await runProgram(ctx, `ping ${p.host}`, [
        paths.ping,
        "-c",
        String(p.count),
        "-W",
        "5",
        "--",
        p.host,
      ]);
      return { output, data: parsePing(p.host, output) ?? { host: p.host } };
    },
  });
  const traceroute = defineAction({
    params: z.strictObject({
      host: host(),
      max_hops: intText(1, 30).default(15),
    }),
    // The host is checked to start with a letter or digit; traceroute's
    // own option parser is not getopt and "--" is not documented for it.
    run: async (p, ctx) => ({
      output: await runProgram(ctx, `traceroute ${p.host}`, [
        paths.traceroute,
        "-m",
        String(p.max_hops),
        "-n",
        p.host,
      ]),
    }),
  });
  const local = {
    resolve: defineAction({
      params: z.strictObject({ host: host() }),
      data: ResolveData,
      run: async (p) => {
        let found: { address: string }[];
        try {
          found = await lookup(p.host, { all: true });
        } catch (e) {
          const code = (e as { code?: string }).code;
          throw new ActionError(
            `cannot resolve ${p.host}: ${code ?? (e as Error).message}`,
            code !== "ENOTFOUND",
          );
        }
        const addresses = [...new Set(found.map((a) => a.address))];
        return {
          output: `${p.host}: ${addresses.join(" ")}`,
          data: { host: p.host, addresses },
        };
      },
    }),
    port: defineAction({
      params: z.strictObject({
        host: host(),
        port: port(),
        timeout: duration().default(5000),
        // Set it to make the answer a check: the task fails otherwise.
        expect: expectState.optional(),
      }),
      data: PortData,
      run: async (p, ctx) => {
        const data = await dial(p.host, p.port, p.timeout, ctx.signal);
        const state = data.open ? "open" : "closed";
        const output = `${p.host}:${p.port} is ${state}` +
          (data.open
            ? ` (${data.latency_ms} ms)`
            : data.error
            ? `: ${data.error}`
            : "");
        if (p.expect && p.expect !== state) {
          throw new ActionError(
            `${p.host}:${p.port} is ${state}, expected ${p.expect}`,
            true,
            JSON.stringify(data),
          );
        }
        return { output, data };
      },
    }),
    interfaces: defineAction({
      params: z.strictObject({}),
      data: InterfacesData,
      run: async () => {
        const byName = new Map<string, { mac: string; addresses: string[] }>();
        for (const i of Deno.networkInterfaces()) {
          const entry = byName.get(i.name) ?? { mac: i.mac, addresses: [] };
          entry.addresses.push(i.cidr ?? i.address);
          byName.set(i.name, entry);
        }
        const data = await Promise.all(
          [...byName].map(async ([name, e]) => ({
            name,
            mac: e.mac,
            addresses: e.addresses,
            flags: await interfaceFlags(sysNet, name),
          })),
        );
        const output = data.map((d) =>
          `${d.name} ${d.mac} [${d.flags.join(",")}] ${d.addresses.join(" ")}`
        ).join("\n");
        return { output, data };
      },
    }),
  };
  return {
    name: "net",
    requires: opts.localOnly ? [] : [paths.ping, paths.traceroute],
    actions: opts.localOnly ? local : { ping, ...local, traceroute },
  };
}
