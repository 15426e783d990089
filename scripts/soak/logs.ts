/**
 * What the processes' log files say, read after the run: how jobs changed
 * hands between controllers, the lines about one job, and the warnings.
 */
import { join } from "node:path";
import type { Soak } from "./soak.ts";

/** A process's whole log, or undefined when it has none. */
function readLog(soak: Soak, name: string): string | undefined {
  try {
    return Deno.readTextFileSync(join(soak.dir, "logs", `${name}.log`));
  } catch {
    return undefined;
  }
}

/** Each process's name and log lines: the controllers, then the workers. */
function* everyLog(soak: Soak): Generator<[string, string[]]> {
  for (
    const name of [
      ...soak.controllers.map((m) => m.name),
      ...soak.workers.map((w) => w.id),
    ]
  ) {
    const text = readLog(soak, name);
    if (text !== undefined) yield [name, text.split("\n")];
  }
}

/** From the controllers' logs: how jobs changed hands. */
export function ownership(soak: Soak): {
  takeovers: number;
  fenced: number;
  adoptions: number;
  finishedTwice: [string, string[]][];
} {
  const finishedBy = new Map<string, Set<string>>();
  let takeovers = 0;
  let fenced = 0;
  let adoptions = 0;
  for (const m of soak.controllers) {
    const text = readLog(soak, m.name);
    if (text === undefined) continue;
    for (const l of text.split("\n")) {
      if (l.includes("taking over a job")) takeovers++;
      else if (l.includes("lost ownership of a job")) fenced++;
      else if (l.includes("adopted running jobs")) adoptions++;
      else {
        const f = /job finished job=(\S+)/.exec(l);
        if (!f) continue;
        const by = finishedBy.get(f[1]!) ?? new Set<string>();
        by.add(m.name);
        finishedBy.set(f[1]!, by);
      }
    }
  }
  return {
    takeovers,
    fenced,
    adoptions,
    finishedTwice: [...finishedBy].filter(([, by]) => by.size > 1).map((
      [id, by],
    ) => [id, [...by].sort()]),
  };
}

/** The last lines of one process's log. */
export function tail(soak: Soak, name: string, lines: number): string {
  const text = readLog(soak, name);
  if (text === undefined) return `--- ${name}: no log ---`;
  return `--- ${name} ---\n${
    text.trimEnd().split("\n").slice(-lines).join("\n")
  }`;
}

/**
 * Lines of every log that mention `needle` (and pass `keep`), in time
 * order; past `max`, the first and last ones.
 */
export function grepLogs(
  soak: Soak,
  needle: string,
  max = 50,
  keep: (proc: string, line: string) => boolean = () => true,
): string[] {
  const out: string[] = [];
  for (const [name, lines] of everyLog(soak)) {
    for (const l of lines) {
      if (!l.includes(needle) || !keep(name, l)) continue;
      out.push(`${name}: ${l.length > 240 ? `${l.slice(0, 240)}…` : l}`);
    }
  }
  // By timestamp only: lines of one process keep their order within a millisecond.
  const at = (l: string) => l.slice(l.indexOf(": ") + 2).slice(0, 24);
  out.sort((a, b) => at(a).localeCompare(at(b)));
  if (out.length <= max) return out;
  const head = Math.floor(max / 4);
  return [
    ...out.slice(0, head),
    `… ${out.length - max} lines left out …`,
    ...out.slice(out.length - (max - head)),
  ];
}

/** WARN/ERROR lines of every log, normalised and counted. */
export function logWarnings(
  soak: Soak,
): { count: number; who: string; line: string }[] {
  const counts = new Map<string, { count: number; who: Set<string> }>();
  for (const [name, lines] of everyLog(soak)) {
    for (const l of lines) {
      if (!/ (WARN|ERROR) /.test(l)) continue;
      const norm = l.replace(/^\S+ /, "")
        .replace(/\b[0-9a-f]{16}\b/g, "<job>")
        .replace(/\d+/g, "N")
        .slice(0, 170);
      const c = counts.get(norm) ?? { count: 0, who: new Set() };
      c.count++;
      c.who.add(name.startsWith("c") ? name : "workers");
      counts.set(norm, c);
    }
  }
  return [...counts].map(([line, c]) => ({
    line,
    count: c.count,
    who: [...c.who].sort().join(","),
  })).sort((a, b) => b.count - a.count);
}
