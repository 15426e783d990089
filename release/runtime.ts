/**
 * The runtime deno compile builds each binary on ("denort"): a local one
 * named by DENORT_BIN, deno's cached copy, or a download. A machine that can
 * reach none of them is told how to supply one, rather than shown deno
 * compile's network error.
 */
import { join } from "node:path";
import { BuildError, isFile } from "./compile.ts";

export type Runtime =
  /** DENORT_BIN names a local runtime. */
  | { kind: "local"; path: string }
  /** deno compile has the runtime in its cache. */
  | { kind: "cached"; path: string }
  /** deno compile will download it, and can. */
  | { kind: "download"; url: string }
  /** deno compile would have to download it and cannot: `help` says what to do. */
  | { kind: "unavailable"; url: string; help: string };

export interface RuntimeQuery {
  target: string;
  denoVersion: string;
  /** deno's cache directory (`deno info --json` → denoDir). */
  denoDir: string;
  /** DENORT_BIN, if set. */
  denortBin?: string;
  /** Whether `url` answers; only asked when nothing local is found. */
  probe: (url: string) => Promise<{ ok: boolean; reason: string }>;
}

/** Where deno compile fetches the runtime, and where it caches it. */
export function runtimeLocation(
  q: Pick<RuntimeQuery, "target" | "denoVersion" | "denoDir">,
): { url: string; cache: string } {
  const file = `denort-${q.target}.zip`;
  return {
    url: `https://dl.deno.land/release/v${q.denoVersion}/${file}`,
    cache: join(q.denoDir, "dl", "release", `v${q.denoVersion}`, file),
  };
}

/**
 * Finds the runtime deno compile will use: DENORT_BIN, else its cache, else
 * a download, which is probed first so that a machine without access gets
 * directions instead of deno compile's network error.
 */
export async function resolveRuntime(q: RuntimeQuery): Promise<Runtime> {
  if (q.denortBin) {
    if (!isFile(q.denortBin)) {
      throw new BuildError(
        `DENORT_BIN=${q.denortBin}: no such file. It must name the denort ` +
          `executable of Deno ${q.denoVersion} for ${q.target}.`,
        2,
      );
    }
    return { kind: "local", path: q.denortBin };
  }
  const { url, cache } = runtimeLocation(q);
  if (isFile(cache)) return { kind: "cached", path: cache };
  const answer = await q.probe(url);
  if (answer.ok) return { kind: "download", url };
  return { kind: "unavailable", url, help: runtimeHelp(q, answer.reason) };
}

/** The directions printed when deno compile cannot get its runtime. */
export function runtimeHelp(
  q: Pick<RuntimeQuery, "target" | "denoVersion" | "denoDir">,
  reason: string,
): string {
  const { url, cache } = runtimeLocation(q);
  return [
    `deno compile builds each binary on the Deno runtime "denort" ` +
    `(Deno ${q.denoVersion}, ${q.target}), which it downloads from`,
    `  ${url}`,
    `and this machine cannot reach it (${reason}).`,
    ``,
    `Point the build at a local runtime instead:`,
    `  1. where that URL is reachable, download the zip and unzip it: it holds`,
    `     one file, denort (it must be Deno ${q.denoVersion}, the version that compiles)`,
    `  2. copy denort to this machine and run`,
    `       DENORT_BIN=/path/to/denort deno task build`,
    `or put the zip itself where deno compile looks before downloading:`,
    `  ${cache}`,
  ].join("\n");
}

/** Asks whether `url` answers, within `timeoutMs`. */
export async function probeUrl(
  url: string,
  timeoutMs = 5000,
): Promise<{ ok: boolean; reason: string }> {
  try {
    const res = await fetch(url, {
      method: "HEAD",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.ok
      ? { ok: true, reason: `HTTP ${res.status}` }
      : { ok: false, reason: `HTTP ${res.status}` };
  } catch (e) {
    // fetch says "fetch failed"; the why (DNS, refused, timeout) is the cause.
    let why: unknown = e;
    while (why instanceof Error && why.cause instanceof Error) why = why.cause;
    const msg = why instanceof Error ? why.message : String(why);
    return {
      ok: false,
      reason: msg.split("\n")[0]!.replace(/^.*?: (?=\w+ error)/, "").slice(
        0,
        200,
      ),
    };
  }
}

/** deno's cache directory. */
export async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) throw new BuildError("deno info --json failed");
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}
