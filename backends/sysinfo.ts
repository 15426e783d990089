/**
 * The `sysinfo` backend: what the machine is and how loaded it is, as data
 * (os, cpu, memory, disk, load, uptime). Read-only and runs no programs.
 * Each action's output is its data as compact JSON, the form jobs written
 * for the reference parse.
 */
import { z } from "zod";
import { type Host, realHost } from "./host.ts";
import { absolutePath } from "./paths.ts";
import { dataOutput } from "./data.ts";
import { type BackendDef, defineAction } from "./types.ts";

const bytes = z.number().int().nonnegative();
const pct = z.number().min(0).max(100);

export const UptimeData = z.object({
  uptime_seconds: z.number().nonnegative(),
  boot_time: z.string(),
});

export const OsData = z.object({
  hostname: z.string(),
  os: z.string(),
  arch: z.string(),
  kernel: z.string(),
  ...UptimeData.shape,
});

export const CpuData = z.object({
  count: z.number().int().positive(),
  model: z.string(),
  usage_percent: pct,
});

export const MemoryData = z.object({
  total: bytes,
  used: bytes,
  free: bytes,
  available: bytes,
  swap_total: bytes,
  swap_used: bytes,
  usage_percent: pct,
});

export const DiskData = z.object({
  mount: z.string(),
  /** Absent where /proc cannot be read (a sandboxed worker). */
  device: z.string().optional(),
  fs_type: z.string(),
  total: bytes,
  used: bytes,
  free: bytes,
  usage_percent: pct,
});

export const LoadData = z.object({
  load1: z.number().nonnegative(),
  load5: z.number().nonnegative(),
  load15: z.number().nonnegative(),
});

export interface SysinfoOptions {
  /** The machine to report on; a seam for tests. @default realHost */
  host?: Host;
}

/** Makes the `sysinfo` backend (os, cpu, memory, disk, load, uptime). */
export function sysinfoBackend(opts: SysinfoOptions = {}): BackendDef {
  const host = opts.host ?? realHost;
  const none = z.strictObject({});
  return {
    name: "sysinfo",
    actions: {
      os: defineAction({
        params: none,
        data: OsData,
        run: () =>
          Promise.resolve(dataOutput({
            hostname: host.hostname(),
            os: Deno.build.os,
            arch: Deno.build.arch,
            kernel: host.osRelease(),
            ...host.uptime(),
          })),
      }),
      cpu: defineAction({
        params: none,
        data: CpuData,
        run: async (_p, ctx) => dataOutput(await host.cpu(ctx.signal)),
      }),
      memory: defineAction({
        params: none,
        data: MemoryData,
        run: () => Promise.resolve(dataOutput(host.memory())),
      }),
      disk: defineAction({
        // Any path works: the filesystem holding it is reported.
        params: z.strictObject({ mount: absolutePath().default("/") }),
        data: DiskData,
        run: async (p) => dataOutput(await host.disk(p.mount)),
      }),
      load: defineAction({
        params: none,
        data: LoadData,
        run: () => Promise.resolve(dataOutput(host.load())),
      }),
      uptime: defineAction({
        params: none,
        data: UptimeData,
        run: () => Promise.resolve(dataOutput(host.uptime())),
      }),
    },
  };
}
