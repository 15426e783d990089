/**
 * Facts about the machine the worker runs on, read through Deno's and
 * node's APIs (no programs are run). `sysinfo` reports them and `health`
 * judges them, so both read them the same way; a `Host` stands in for the
 * machine in tests.
 *
 * Nothing here needs /proc: Deno lets only --allow-all read it, and the
 * worker never has that. Only a disk's device name comes from
 * /proc/self/mounts, when it can be read; without it the device is left
 * out.
 */
import { statfs } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname } from "node:path";
import { sleep } from "./abort.ts";
import { resolvePath } from "./paths.ts";
import { ActionError } from "./types.ts";

export interface Memory {
  total: number;
  used: number;
  free: number;
  available: number;
  swap_total: number;
  swap_used: number;
  usage_percent: number;
}

export interface Disk {
  /** The mount point holding the path asked about. */
  mount: string;
  /** What is mounted there ("/dev/sda1"); absent when /proc is out of reach. */
  device?: string;
  fs_type: string;
  total: number;
  used: number;
  /** Bytes an unprivileged user may still write. */
  free: number;
  usage_percent: number;
}

export interface Load {
  load1: number;
  load5: number;
  load15: number;
}

export interface Uptime {
  uptime_seconds: number;
  /** RFC 3339, UTC. */
  boot_time: string;
}

export interface Cpu {
  count: number;
  model: string;
  usage_percent: number;
}

export interface Host {
  hostname(): string;
  osRelease(): string;
  uptime(): Uptime;
  memory(): Memory;
  load(): Load;
  cpu(signal: AbortSignal): Promise<Cpu>;
  disk(path: string): Promise<Disk>;
}

/** One decimal place: percentages are for reading, not arithmetic. */
export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

export function percent(part: number, whole: number): number {
  return whole > 0 ? round1((part / whole) * 100) : 0;
}

/** Busy and total CPU time over every CPU, in ms, as node:os counts it. */
export function cpuTimes(
  list: readonly { times: Record<string, number> }[],
): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of list) {
    const t = c.times;
    const sum = Object.values(t).reduce((a, b) => a + b, 0);
    total += sum;
    busy += sum - (t.idle ?? 0);
  }
  return { busy, total };
}

/** statfs(2) f_type values of the filesystems a node is likely to have. */
const FS_MAGIC: Record<number, string> = {
  0xef53: "ext4",
  0x58465342: "xfs",
  0x9123683e: "btrfs",
  0x2fc12fc1: "zfs",
  0x01021994: "tmpfs",
  0x794c7630: "overlay",
  0x6969: "nfs",
  0xff534d42: "cifs",
  0xfe534d42: "smb2",
  0x01021997: "9p",
  0x65735546: "fuse",
  0x00c36400: "ceph",
  0xf2f52010: "f2fs",
  0x4d44: "vfat",
  0x2011bab0: "exfat",
  0x5346544e: "ntfs",
  0x73717368: "squashfs",
  0x9660: "iso9660",
  0x858458f6: "ramfs",
};

/** The filesystem's name from statfs's type number ("0x1234" when unknown). */
export function fsName(type: number): string {
  const t = type >>> 0;
  return FS_MAGIC[t] ?? `0x${t.toString(16)}`;
}

/**
 * The mount point holding `real` (a real path): the highest directory
 * above it on the same device. A bind mount of a directory of the same
 * filesystem is not told apart from it.
 */
export async function mountPoint(real: string): Promise<string> {
  const dev = (await Deno.stat(real)).dev;
  let at = real;
  while (at !== "/") {
    const up = dirname(at);
    if ((await Deno.stat(up)).dev !== dev) break;
    at = up;
  }
  return at;
}

export interface MountEntry {
  device: string;
  mount: string;
  fs_type: string;
}

/** /proc/self/mounts, with the kernel's octal escapes ("\040") undone. */
export function parseMounts(text: string): MountEntry[] {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return text.split("\n").flatMap((line) => {
    const [device, mount, fs_type] = line.split(" ");
    return device && mount && fs_type
      ? [{ device: unescape(device), mount: unescape(mount), fs_type }]
      : [];
  });
}

/** The mount table, or undefined where Deno may not read /proc. */
function readMounts(): MountEntry[] | undefined {
  try {
    return parseMounts(Deno.readTextFileSync("/proc/self/mounts"));
  } catch {
    return undefined;
  }
}

/** The machine this process runs on. */
export const realHost: Host = {
  hostname: () => Deno.hostname(),
  osRelease: () => Deno.osRelease(),
  uptime() {
    const s = Deno.osUptime();
    return {
      uptime_seconds: s,
      boot_time: new Date(Math.floor(Date.now() / 1000 - s) * 1000)
        .toISOString().replace(/\.\d{3}Z$/, "Z"),
    };
  },
  memory() {
    const m = Deno.systemMemoryInfo();
    // "used" as free(1) counts it: what is not available to new work.
    const used = m.total - m.available;
    return {
      total: m.total,
      used,
      free: m.free,
      available: m.available,
      swap_total: m.swapTotal,
      swap_used: m.swapTotal - m.swapFree,
      usage_percent: percent(used, m.total),
    };
  },
  load() {
    const [load1 = 0, load5 = 0, load15 = 0] = Deno.loadavg();
    return { load1, load5, load15 };
  },
  async cpu(signal) {
    // Usage is a rate: two samples of the CPU times a short while apart.
    const first = cpus();
    const a = cpuTimes(first);
    await sleep(250, signal);
    const b = cpuTimes(cpus());
    return {
      count: first.length || navigator.hardwareConcurrency,
      model: first[0]?.model?.trim() || "unknown",
      usage_percent: percent(b.busy - a.busy, b.total - a.total),
    };
  },
  async disk(path) {
    const real = await resolvePath(path);
    const s = await statfs(real).catch((e) => {
      if (
        e instanceof Error && /ENOENT|NotFound/.test(`${e.name} ${e.message}`)
      ) {
        throw new ActionError(`${path} does not exist`, false);
      }
      throw e;
    });
    const mount = await mountPoint(real);
    const total = s.blocks * s.bsize;
    const used = (s.blocks - s.bfree) * s.bsize;
    const free = s.bavail * s.bsize;
    const device = readMounts()?.findLast((m) => m.mount === mount)?.device;
    return {
      mount,
      ...(device ? { device } : {}),
      fs_type: fsName(s.type),
      total,
      used,
      free,
      // As df(1) reckons it: blocks kept for root count as neither.
      usage_percent: percent(used, used + free),
    };
  },
};
