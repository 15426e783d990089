/**
 * The job mix the soak submits, seeded, and the submitting: a steady rate
 * to the controllers that are up, in turn.
 */
import { type Json, sleep } from "../../testing/mod.ts";
import type { Soak } from "./soak.ts";
import type { Worker } from "./types.ts";
import { between, pick, prng } from "./util.ts";

export interface Kind {
  name: string;
  weight: number;
  /** The status it ends with when no fault touches it. */
  expect: string;
  make: (rand: () => number, n: number, w: Worker[]) => Json;
}

export const GROUPS = ["g1", "g2", "g3"];

export const KINDS: Kind[] = [
  {
    name: "echo",
    weight: 30,
    expect: "completed",
    make: (rand, n, w) => ({
      target: { scope: "node", value: pick(rand, w).id },
      tasks: [{
        backend: "ping",
        action: "echo",
        params: { message: `soak-${n}` },
      }],
    }),
  },
  {
    name: "barrier",
    weight: 20,
    expect: "completed",
    make: (rand, n) => ({
      target: { scope: "group", value: pick(rand, GROUPS) },
      tasks: [
        { backend: "ping", action: "echo", params: { message: `b-${n}` } },
        { backend: "test", action: "succeed", params: { delay: "100ms" } },
        { backend: "ping", action: "hostname" },
      ],
    }),
  },
  {
    name: "pipeline",
    weight: 15,
    expect: "completed",
    make: (rand, n) => ({
      target: { scope: "group", value: pick(rand, GROUPS) },
      tasks: [
        {
          tasks: [
            { backend: "test", action: "succeed", params: { delay: "50ms" } },
            { backend: "ping", action: "echo", params: { message: `p-${n}` } },
            { backend: "test", action: "succeed" },
          ],
        },
        { backend: "ping", action: "echo", params: { message: "after" } },
      ],
    }),
  },
  {
    name: "fail-continue",
    weight: 8,
    expect: "completed",
    make: (rand, n, w) => ({
      target: { scope: "group", value: "fleet" },
      strategy: "continue",
      tasks: [
        { backend: "ping", action: "echo", params: { message: `c-${n}` } },
        {
          backend: "test",
          action: "fail",
          params: { nodes: pick(rand, w).id, message: "planned failure" },
        },
        { backend: "ping", action: "echo", params: { message: "survivors" } },
        {
          condition: "on_failure",
          backend: "test",
          action: "succeed",
          params: { message: "cleanup" },
        },
      ],
    }),
  },
  {
    name: "fail-fast",
    weight: 5,
    expect: "failed",
    make: (rand) => ({
      target: { scope: "group", value: pick(rand, GROUPS) },
      tasks: [
        { backend: "test", action: "fail", params: { delay: "20ms" } },
        { backend: "ping", action: "echo", params: { message: "skipped" } },
        {
          condition: "always",
          backend: "ping",
          action: "echo",
          params: { message: "always" },
        },
      ],
    }),
  },
  {
    name: "sleep",
    weight: 15,
    expect: "completed",
    make: (rand, _n, w) => ({
      target: rand() < 0.5
        ? { scope: "node", value: pick(rand, w).id }
        : { scope: "group", value: pick(rand, GROUPS) },
      tasks: [{
        backend: "test",
        action: "sleep",
        params: { duration: `${Math.round(between(rand, 500, 3000))}ms` },
      }],
    }),
  },
  {
    name: "retry",
    weight: 7,
    expect: "failed",
    make: (rand, _n, w) => ({
      target: { scope: "node", value: pick(rand, w).id },
      tasks: [{
        backend: "test",
        action: "fail",
        params: { message: "fails twice" },
        max_retries: 1,
      }],
    }),
  },
];

function pickKind(rand: () => number): Kind {
  const total = KINDS.reduce((s, k) => s + k.weight, 0);
  let r = rand() * total;
  for (const k of KINDS) {
    r -= k.weight;
    if (r < 0) return k;
  }
  return KINDS[0]!;
}

/** Submits jobs at the set rate until `until`, then waits for the answers. */
export async function submitLoop(
  soak: Soak,
  until: number,
  signal: AbortSignal,
): Promise<void> {
  const rand = prng(soak.o.seed);
  const interval = 1000 / soak.o.jobsPerSec;
  let n = 0;
  let next = Date.now();
  const inflight = new Set<Promise<void>>();
  while (Date.now() < until && !signal.aborted) {
    next += interval;
    if (soak.inFlight >= 32) soak.skippedTicks++;
    else {
      const kind = pickKind(rand);
      const spec = kind.make(rand, ++n, soak.workers);
      const p = submit(soak, kind, spec);
      inflight.add(p);
      p.finally(() => inflight.delete(p));
    }
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait, signal);
    else if (wait < -5000) next = Date.now(); // fell behind: do not burst
  }
  await Promise.allSettled([...inflight]);
}

async function submit(soak: Soak, kind: Kind, spec: Json): Promise<void> {
  const m = soak.nextLive();
  soak.attempted++;
  if (!m) {
    soak.rejected.set(
      "no controller up",
      (soak.rejected.get("no controller up") ?? 0) + 1,
    );
    return;
  }
  soak.inFlight++;
  try {
    const r = await soak.set.api(m, "POST", "/job", spec);
    if (r.status === 202) {
      soak.subs.set(r.json.id, {
        id: r.json.id,
        kind: kind.name,
        expect: kind.expect,
        via: m.name,
        at: Date.now(),
        targets: targeted(spec, soak.workers),
        terminalSeen: new Set(),
      });
    } else {
      const reason = `${r.status} ${
        String(r.json.error ?? "").replace(/\d+/g, "N").slice(0, 100)
      }`;
      soak.rejected.set(reason, (soak.rejected.get(reason) ?? 0) + 1);
    }
  } catch {
    // Connection refused or timed out: the job may or may not exist.
    soak.submitErrors++;
  } finally {
    soak.inFlight--;
  }
}

/** The workers a job's target names (the soak's targets: node, group, all). */
export function targeted(spec: Json, workers: Worker[]): string[] {
  const t = spec.target ?? {};
  if (t.scope === "node") return [t.value];
  if (t.scope === "group") {
    return workers.filter((w) => w.groups.includes(t.value)).map((w) => w.id);
  }
  return workers.map((w) => w.id);
}
