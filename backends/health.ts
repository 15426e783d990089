/**
 * The `health` backend: http, tcp, disk_space, memory, load and process
 * checks. Each reports what it saw as data, and a check that finds its
 * target unhealthy FAILS the task (retryably, since health can come back),
 * with the same JSON in the output: so `on_failure` steps, retries and the
 * failure budget act on it. The reference reported success either way.
 */
import { z } from "zod";
import {
  BACKEND_TABLE,
  type BinariesOf,
  binaryPaths,
} from "../models/backend_table.ts";
import { dataOutput } from "./data.ts";
import { execOutput, failedRun } from "./output.ts";
import { type Host, realHost } from "./host.ts";
import {
  MAX_BODY_BYTES,
  message,
  reach,
  readSome,
  since,
} from "./health_net.ts";
import { described, duration, intText } from "./params.ts";
import { absolutePath } from "./paths.ts";
import { host, port } from "./sys_params.ts";
import {
  ActionError,
  type ActionOutput,
  type BackendDef,
  defineAction,
} from "./types.ts";

export type HealthPaths = BinariesOf<"health">;

export interface HealthOptions {
  /** The machine to judge; a seam for tests. @default realHost */
  host?: Host;
  /**
   * Without `process`: the form registered where pgrep is missing (Deno
   * cannot list processes, and lets only --allow-all read /proc).
   */
  withoutProcess?: boolean;
}

const url = described<string>({
  kind: "text",
  checks: [
    {
      pattern: "^https?://[^\\s/?#]+[^\\s]*$",
      message: "must be an http:// or https:// URL without spaces, got %s",
    },
    { pattern: "^.{1,2048}$", message: "must be at most 2048 characters" },
  ],
});

const method = described<string>({
  kind: "enum",
  values: ["GET", "HEAD"],
  message: '%s is not a method this check sends ("GET" or "HEAD")',
});

const percentage = described<number>({
  kind: "number",
  min: 0,
  max: 100,
  message: "must be a percentage from 0 to 100, got %s",
});

const loadThreshold = described<number>({
  kind: "number",
  min: 0,
  max: 10_000,
  message: "must be a load average from 0 to 10000, got %s",
});

/** A process name as the kernel keeps it (comm), or longer (it is cut to compare). */
const processName = described<string>({
  kind: "text",
  checks: [{
    pattern: "^[A-Za-z0-9_.@:+~][A-Za-z0-9_.@:+~/ -]{0,63}$",
    message:
      "%s is not a process name (letters, digits and _.@:+~/- , at most 64)",
  }],
});

const contains = described<string>({
  kind: "text",
  checks: [{
    pattern: "^[^\\x00-\\x1f\\x7f]{1,1024}$",
    message: "must be 1 to 1024 characters without control characters",
  }],
});

export const HttpData = z.object({
  url: z.string(),
  method: z.enum(["GET", "HEAD"]),
  status_code: z.number().int().optional(),
  expected_status: z.number().int(),
  latency_ms: z.number().nonnegative(),
  content_length: z.number().int().optional(),
  contains: z.boolean().optional(),
  error: z.string().optional(),
  matches: z.boolean(),
});

export const TcpData = z.object({
  host: z.string(),
  port: z.number().int(),
  reachable: z.boolean(),
  latency_ms: z.number().nonnegative(),
  error: z.string().optional(),
});

export const DiskSpaceData = z.object({
  mount: z.string(),
  usage_percent: z.number(),
  threshold: z.number(),
  healthy: z.boolean(),
});

export const MemoryData = z.object({
  usage_percent: z.number(),
  threshold: z.number(),
  healthy: z.boolean(),
});

export const LoadData = z.object({
  load1: z.number(),
  load5: z.number(),
  load15: z.number(),
  threshold: z.number().optional(),
  healthy: z.boolean(),
});

export const ProcessData = z.object({
  name: z.string(),
  running: z.boolean(),
  pid: z.number().int(),
  count: z.number().int().nonnegative(),
});

/** The data as a result when `healthy`, else a failure carrying it. */
export function verdict(
  healthy: boolean,
  data: unknown,
  why: string,
): ActionOutput {
  if (healthy) return dataOutput(data);
  throw new ActionError(`unhealthy: ${why}`, true, JSON.stringify(data));
}

/** Makes the `health` backend; `process` runs pgrep. */
export function healthBackend(
  paths: HealthPaths,
  opts: HealthOptions = {},
): BackendDef {
  const machine = opts.host ?? realHost;
  const pgrep = paths.pgrep;
  const actions: BackendDef["actions"] = {
    http: defineAction({
      params: z.strictObject({
        url,
        method: method.default("GET"),
        expected_status: intText(100, 599).default(200),
        timeout: duration().default(10_000),
        contains: contains.optional(),
      }),
      data: HttpData,
      run: async (p, ctx) => {
        const m = p.method as "GET" | "HEAD";
        const base = {
          url: p.url,
          method: m,
          expected_status: p.expected_status,
        };
        const t0 = performance.now();
        let res: Response;
        try {
          res = await fetch(p.url, {
            method: m,
            signal: AbortSignal.any([
              ctx.signal,
              AbortSignal.timeout(p.timeout),
            ]),
          });
        } catch (e) {
          const data = {
            ...base,
            latency_ms: since(t0),
            error: message(e),
            matches: false,
          };
          return verdict(false, data, `${m} ${p.url}: ${data.error}`);
        }
        const body = m === "GET" && p.contains !== undefined
          ? await readSome(res, MAX_BODY_BYTES)
          : (await res.body?.cancel(), undefined);
        const header = res.headers.get("content-length");
        const found = body &&
          new TextDecoder().decode(body).includes(p.contains!);
        const statusOk = res.status === p.expected_status;
        const data = {
          ...base,
          status_code: res.status,
          latency_ms: since(t0),
          ...(header !== null && /^\d+$/.test(header)
            ? { content_length: Number(header) }
            : {}),
          ...(body ? { contains: found === true } : {}),
          matches: statusOk && (body ? found === true : true),
        };
        const why = !statusOk
          ? `${m} ${p.url} answered ${res.status}, expected ${p.expected_status}`
          : `${m} ${p.url}: the body does not contain ${
            JSON.stringify(p.contains)
          }`;
        return verdict(data.matches, data, why);
      },
    }),
    tcp: defineAction({
      params: z.strictObject({
        host: host(),
        port: port(),
        timeout: duration().default(5000),
      }),
      data: TcpData,
      run: async (p, ctx) => {
        const t0 = performance.now();
        try {
          await reach(p.host, p.port, p.timeout, ctx.signal);
        } catch (e) {
          const data = {
            host: p.host,
            port: p.port,
            reachable: false,
            latency_ms: since(t0),
            error: message(e),
          };
          return verdict(false, data, `${p.host}:${p.port}: ${data.error}`);
        }
        return dataOutput({
          host: p.host,
          port: p.port,
          reachable: true,
          latency_ms: since(t0),
        });
      },
    }),
    disk_space: defineAction({
      params: z.strictObject({
        mount: absolutePath().default("/"),
        threshold_percent: percentage.default(90),
      }),
      data: DiskSpaceData,
      run: async (p) => {
        const d = await machine.disk(p.mount);
        const healthy = d.usage_percent < p.threshold_percent;
        return verdict(
          healthy,
          {
            mount: d.mount,
            usage_percent: d.usage_percent,
            threshold: p.threshold_percent,
            healthy,
          },
          `${d.mount} is ${d.usage_percent}% full (threshold ${p.threshold_percent}%)`,
        );
      },
    }),
    memory: defineAction({
      params: z.strictObject({ threshold_percent: percentage.default(90) }),
      data: MemoryData,
      run: (p) => {
        const { usage_percent } = machine.memory();
        const healthy = usage_percent < p.threshold_percent;
        return Promise.resolve().then(() =>
          verdict(
            healthy,
            { usage_percent, threshold: p.threshold_percent, healthy },
            `memory is ${usage_percent}% used (threshold ${p.threshold_percent}%)`,
          )
        );
      },
    }),
    load: defineAction({
      params: z.strictObject({ threshold: loadThreshold.optional() }),
      data: LoadData,
      run: (p) => {
        const l = machine.load();
        const healthy = p.threshold === undefined || l.load1 < p.threshold;
        return Promise.resolve().then(() =>
          verdict(
            healthy,
            {
              ...l,
              ...(p.threshold === undefined ? {} : { threshold: p.threshold }),
              healthy,
            },
            `load1 is ${l.load1} (threshold ${p.threshold})`,
          )
        );
      },
    }),
  };
  if (opts.withoutProcess) {
    return { name: "health", actions };
  }
  actions.process = defineAction({
    params: z.strictObject({ name: processName }),
    data: ProcessData,
    run: async (p, ctx) => {
      // -x: the whole name, as the kernel keeps it (15 characters); -i: any case.
      const comm = p.name.slice(0, 15);
      const r = await ctx.exec(
        { argv: [pgrep, "-i", "-x", "--", comm] },
        ctx.signal,
      );
      // pgrep: 0 found, 1 none; anything else is pgrep failing.
      if (r.code !== 0 && r.code !== 1) {
        throw new ActionError(failedRun("pgrep", r), true, execOutput(r));
      }
      const pids = r.stdout.split("\n").filter((l) => /^\d+$/.test(l.trim()))
        .map((l) => Number(l.trim()));
      const data = {
        name: p.name,
        running: pids.length > 0,
        pid: pids[0] ?? 0,
        count: pids.length,
      };
      return verdict(
        data.running,
        data,
        `no process named ${p.name} is running`,
      );
    },
  });
  return {
    name: "health",
    requires: binaryPaths(BACKEND_TABLE.health.binaries, paths),
    actions,
  };
}
