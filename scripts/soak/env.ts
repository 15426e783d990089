/**
 * What the soak runs and where: a copy of the code under test, the commit
 * it is at, and the machine (for the report).
 */
import { join } from "node:path";
import { ROOT } from "../../testing/mod.ts";

const SOURCES = ["controller", "worker", "lib", "models", "backends"];

/** Copies what the controller and worker run (and deno.json/lock) to `to`. */
export function snapshot(from: string, to: string): void {
  const copy = (a: string, b: string) => {
    Deno.mkdirSync(b, { recursive: true });
    for (const e of Deno.readDirSync(a)) {
      if (e.isDirectory) copy(join(a, e.name), join(b, e.name));
      else if (e.isFile) Deno.copyFileSync(join(a, e.name), join(b, e.name));
    }
  };
  for (const d of SOURCES) copy(join(from, d), join(to, d));
  for (const f of ["deno.json", "deno.lock"]) {
    Deno.copyFileSync(join(from, f), join(to, f));
  }
}

/** The commit the tree is at, and whether the code under test differs from it. */
export function codeVersion(): string {
  const git = (...args: string[]) => {
    try {
      const out = new Deno.Command("git", {
        args: ["-C", ROOT, ...args],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
    } catch {
      return "";
    }
  };
  const head = git("rev-parse", "--short", "HEAD") || "unknown commit";
  const dirty = git(
    "status",
    "--porcelain",
    "--",
    ...SOURCES,
    "deno.json",
    "deno.lock",
  ).split("\n").filter(Boolean).length;
  return dirty ? `${head} with ${dirty} uncommitted changes` : head;
}

export async function machine(): Promise<Record<string, string>> {
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return "";
    }
  };
  const cpu = /model name\s*:\s*(.+)/.exec(read("/proc/cpuinfo"))?.[1] ?? "?";
  const mem = /MemTotal:\s*(\d+)/.exec(read("/proc/meminfo"))?.[1];
  let nats = "?";
  try {
    const out = await new Deno.Command("/usr/sbin/nats-server", {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    nats = new TextDecoder().decode(out.stdout).trim();
  } catch { /* not there */ }
  return {
    cpu: `${cpu.trim()}, ${navigator.hardwareConcurrency} cores`,
    memory: mem ? `${(Number(mem) / 1024 / 1024).toFixed(1)} GiB` : "?",
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    "nats-server": nats,
  };
}

export function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(
      " ",
    );
  } catch {
    return "?";
  }
}
