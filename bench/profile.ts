/**
 * A CPU profile of another Deno process through its inspector (Chrome
 * DevTools Protocol): start the process with `--inspect=127.0.0.1:PORT`,
 * then `start()` / `stop()` around the part to profile. `stop()` returns the
 * `.cpuprofile` JSON (loadable in Chrome DevTools) and a self-time summary.
 */
import { ROOT } from "../testing/mod.ts";
import type { Env } from "./env.ts";
import { log, memMiB } from "./lib.ts";
import type { BenchResults } from "./results.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileLine {
  what: string;
  ms: number;
  pct: number;
}

export class Inspector {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, (v: unknown) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data));
      if (m.id !== undefined) {
        this.#pending.get(m.id)?.(m.result ?? m.error);
        this.#pending.delete(m.id);
      }
    };
  }

  /** Connects to the inspector whose URL the process printed ("Debugger listening on ws://…"). */
  static async connect(wsUrl: string): Promise<Inspector> {
    const ws = new WebSocket(wsUrl);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) =>
        reject(new Error(`inspector: ${(e as ErrorEvent).message}`));
    });
    return new Inspector(ws);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#id;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async start(intervalUs = 500): Promise<void> {
    await this.call("Profiler.enable");
    await this.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.call("Profiler.start");
  }

  async stop(): Promise<CpuProfile> {
    const r = await this.call("Profiler.stop") as { profile: CpuProfile };
    return r.profile;
  }

  close(): void {
    this.#ws.close();
  }
}

/** Self time by function and by module, largest first. */
export function summarize(p: CpuProfile, top = 20): {
  totalMs: number;
  idleMs: number;
  byFunction: ProfileLine[];
  byModule: ProfileLine[];
} {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute it to sample i.
    const d = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + d);
  }
  const totalMs = (p.endTime - p.startTime) / 1000;
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let idleMs = 0;
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || "(anonymous)";
    if (name === "(idle)") {
      idleMs += t;
      continue;
    }
    const file = shortUrl(n.callFrame.url);
    const key = file ? `${name} (${file}:${n.callFrame.lineNumber + 1})` : name;
    fn.set(key, (fn.get(key) ?? 0) + t);
    const m = file ? moduleOf(file) : name;
    mod.set(m, (mod.get(m) ?? 0) + t);
  }
  const busy = totalMs - idleMs;
  const lines = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([what, ms]) => ({
      what,
      ms,
      pct: busy > 0 ? (100 * ms) / busy : 0,
    }));
  return { totalMs, idleMs, byFunction: lines(fn), byModule: lines(mod) };
}

function shortUrl(url: string): string {
  if (!url) return "";
  const npm = /registry\.npmjs\.org\/(@?[^/]+(?:\/[^/]+)?)\/[^/]+\/(.*)$/.exec(
    url,
  );
  if (npm) return `npm:${npm[1]}/${npm[2]}`;
  const root = `file://${ROOT}`;
  return url.startsWith(root)
    ? url.slice(root.length)
    : url.replace(/^file:\/\//, "");
}

function moduleOf(file: string): string {
  if (file.startsWith("npm:")) {
    const parts = file.slice(4).split("/");
    return `npm:${
      parts[0]!.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]
    }`;
  }
  if (file.startsWith("ext:") || file.startsWith("node:")) {
    return file.split("/")[0]!;
  }
  return file;
}

/**
 * Runs `fn`, with the controller's CPU profiled when the run profiles
 * (--profile): the profile is written to a file and summed up in `results`.
 */
export async function profiled<T>(
  env: Env,
  name: string,
  results: BenchResults,
  fn: () => Promise<T>,
): Promise<T> {
  if (!env.inspector) return await fn();
  await env.inspector.start();
  try {
    return await fn();
  } finally {
    const prof = await env.inspector.stop();
    const file = `${env.opts.profile}/controller-${name}.cpuprofile`;
    await Deno.mkdir(env.opts.profile!, { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(prof));
    // Is the resident memory live data or garbage not yet collected?
    const heap = async () => {
      const h = await env.inspector!.call("Runtime.getHeapUsage") as {
        usedSize: number;
        totalSize: number;
      };
      return {
        used: h.usedSize / 2 ** 20,
        total: h.totalSize / 2 ** 20,
        rss: memMiB(env.ctlPid).rss,
      };
    };
    const before = await heap();
    await env.inspector.call("HeapProfiler.collectGarbage");
    const afterGc = await heap();
    results.profiles.push({
      name,
      file,
      heap: { before, afterGc },
      ...summarize(prof, 15),
    });
    log(`profile ${name} written to ${file}`);
  }
}
