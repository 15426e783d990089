/**
 * The end of a run, counted: every accepted job as each controller sees
 * it (lost: 404; stuck: not finished), and each job read in full for its
 * outcome, errors and time from submit to finish, and whether it failed
 * while every worker it targeted was up (no fault excuses that).
 */
import type { Json } from "../../testing/mod.ts";
import type { Soak } from "./soak.ts";
import type { Sub, TaskStart } from "./types.ts";
import { TERMINAL } from "./util.ts";

export interface Final {
  lost: { id: string; sub: Sub; where: string }[];
  stuck: { id: string; sub: Sub; where: string }[];
  dups: [string, TaskStart[]][];
  /** Failed, though it would not without faults, while all its targets were up. */
  failedAlive: { id: string; sub: Sub; error: string }[];
  /** Job ids found on a controller that no 202 answered (a submit whose answer was lost). */
  orphans: string[];
  /** Per controller, id → status. */
  views: Map<string, Map<string, string>>;
  byKind: Map<string, Map<string, number>>;
  statuses: Map<string, number>;
  unexpected: Map<string, number>;
  resultErrors: Map<string, number>;
  latencies: number[];
  details: number;
  drainMs: number;
  /** Why the drain ended, when it did not drain: "" if it did. */
  drainNote: string;
}

export async function analyse(
  soak: Soak,
  drainMs: number,
  drainNote: string,
): Promise<Final> {
  const views = new Map<string, Map<string, string>>();
  for (const m of soak.controllers) {
    try {
      views.set(m.name, await soak.listJobs(m));
    } catch (e) {
      soak.anomaly(`could not list jobs on ${m.name}: ${e}`);
    }
  }
  const lost: Final["lost"] = [];
  const stuck: Final["stuck"] = [];
  for (const [id, sub] of soak.subs) {
    const missing: string[] = [];
    const open: string[] = [];
    for (const [name, view] of views) {
      const st = view.get(id);
      if (st === undefined) {
        // Not listed: ask for it directly before calling it lost.
        const m = soak.controllers.find((c) => c.name === name)!;
        const r = await soak.set.api(m, "GET", `/job/${id}`).catch(() =>
          undefined
        );
        if (r?.status === 404) missing.push(name);
        else if (r && !TERMINAL.has(r.json.status)) {
          open.push(`${name}:${r.json.status}`);
        }
      } else if (!TERMINAL.has(st)) open.push(`${name}:${st}`);
    }
    if (missing.length > 0) {
      lost.push({
        id,
        sub,
        where: `404 on ${missing.join(",")}${
          missing.length < views.size ? " (known to the others)" : ""
        }`,
      });
    } else if (open.length > 0) {
      stuck.push({ id, sub, where: open.join(" ") });
    }
  }
  const orphans = new Set<string>();
  for (const view of views.values()) {
    for (const id of view.keys()) if (!soak.subs.has(id)) orphans.add(id);
  }

  // Each job in full, for outcomes, errors and times.
  const byKind = new Map<string, Map<string, number>>();
  const statuses = new Map<string, number>();
  const unexpected = new Map<string, number>();
  const resultErrors = new Map<string, number>();
  const latencies: number[] = [];
  const failedAlive: Final["failedAlive"] = [];
  const bump = (m: Map<string, number>, k: string) =>
    m.set(k, (m.get(k) ?? 0) + 1);
  const ids = [...soak.subs.keys()];
  let details = 0;
  const deadline = Date.now() + 5 * 60_000;
  const next = async (): Promise<void> => {
    for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
      const sub = soak.subs.get(id)!;
      const m = soak.nextLive();
      if (!m || Date.now() > deadline) return;
      let j: Json;
      try {
        const r = await soak.set.api(m, "GET", `/job/${id}`, undefined, 30_000);
        if (r.status !== 200) continue;
        j = r.json;
      } catch {
        continue;
      }
      details++;
      const kind = byKind.get(sub.kind) ?? new Map<string, number>();
      byKind.set(sub.kind, kind);
      bump(kind, j.status);
      bump(statuses, j.status);
      if (TERMINAL.has(j.status) && j.status !== sub.expect) {
        bump(
          unexpected,
          `${sub.kind}: ${j.status}${j.error ? ` (${j.error})` : ""}`,
        );
      }
      if (j.finished_at) {
        latencies.push(Date.parse(j.finished_at) - Date.parse(j.created_at));
      }
      if (
        j.status === "failed" && sub.expect !== "failed" &&
        allUp(
          soak,
          sub.targets,
          Date.parse(j.created_at),
          Date.parse(j.finished_at),
        )
      ) {
        const error = String(j.error ?? "");
        failedAlive.push({ id, sub, error });
        soak.anomaly(
          `job ${id} (${sub.kind}) failed while every node it targeted (${
            sub.targets.join(",")
          }) was up: ${error}`,
        );
      }
      for (const byNode of Object.values(j.results ?? {}) as Json[]) {
        for (const r of Object.values(byNode) as Json[]) {
          if (!r.error) continue;
          const e = String(r.error).replace(/\d+(\.\d+)?/g, "N").slice(0, 90);
          bump(resultErrors, e);
        }
      }
    }
  };
  await Promise.all([next(), next(), next(), next()]);
  latencies.sort((a, b) => a - b);
  return {
    lost,
    stuck,
    dups: soak.duplicates(),
    failedAlive,
    orphans: [...orphans],
    views,
    byKind,
    statuses,
    unexpected,
    resultErrors,
    latencies,
    details,
    drainMs,
    drainNote,
  };
}

/**
 * How long after a worker comes back it may still be judged offline: it
 * connects, heartbeats, and controllers see it (offline_after is 10 s).
 */
const BACK_MARGIN_MS = 15_000;

/** Whether every worker in `ids` was up from `from` to `to`. */
function allUp(soak: Soak, ids: string[], from: number, to: number): boolean {
  if (!Number.isFinite(from)) return false;
  const end = Number.isFinite(to) ? to : Date.now();
  return ids.every((id) => {
    const w = soak.workers.find((w) => w.id === id);
    if (!w) return false;
    return w.downs.every((d) =>
      d.from > end || (d.to ?? Infinity) + BACK_MARGIN_MS < from
    );
  });
}
