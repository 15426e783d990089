/** The machine and software a run was made on, for the report. */
import { ROOT } from "../testing/mod.ts";
import type { Machine } from "./results.ts";

export async function machine(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const dec = new TextDecoder();
  const run = async (cmd: string, args: string[]) => {
    try {
      const o = await new Deno.Command(cmd, {
        args,
        cwd: ROOT,
        stdout: "piped",
        stderr: "null",
      }).output();
      return dec.decode(o.stdout).trim();
    } catch {
      return "";
    }
  };
  const lock =
    JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).imports ?? {};
  return {
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "?",
    cores: navigator.hardwareConcurrency,
    memGiB: Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024 / 1024,
    kernel: Deno.osRelease(),
    deno:
      `${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`,
    natsServer: await run("/usr/sbin/nats-server", ["--version"]),
    natsClient: String(lock["@nats-io/transport-node"] ?? "?"),
    commit: await run("git", ["rev-parse", "--short", "HEAD"]),
    dirty:
      (await run("git", ["status", "--porcelain"])).split("\n").filter(Boolean)
        .length,
    date: new Date().toISOString(),
    load: (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ")
      .slice(0, 3).join(" "),
  };
}

/**
 * The soft limit on open files this process (and so the controller and
 * its nats-server, which inherit it) has; Infinity when it cannot be read.
 */
export function openFileLimit(): number {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}
