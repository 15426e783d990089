/**
 * The faults the soak injects, one at a time, each kind once per round in
 * a seeded order: SIGKILL of a controller and its nats-server (a host
 * crash), of a controller's nats-server alone, of a worker (preferably one
 * running a task); JetStream quorum lost (two of the three nats-servers
 * frozen for a few seconds, then killed and restarted by their
 * controllers); a worker restarted with its clock minutes off (or a skewed
 * one set right again). Each is healed before the next.
 */
import { type Json, sleep } from "../../testing/mod.ts";
import type { Soak } from "./soak.ts";
import type { Controller, FaultRecord } from "./types.ts";
import { between, fmtSecs, pick, prng, say } from "./util.ts";

/** Injects a fault every `faultEvery` seconds until `signal` aborts. */
export async function faultLoop(
  soak: Soak,
  signal: AbortSignal,
): Promise<void> {
  const rand = prng(soak.o.seed ^ 0x5eed);
  let bag: string[] = [];
  for (;;) {
    await sleep(
      between(rand, soak.o.faultEvery[0], soak.o.faultEvery[1]) * 1000,
      signal,
    );
    if (signal.aborted) return;
    await heal(soak);
    // Each kind once per round, in random order.
    if (bag.length === 0) {
      bag = ["controller", "nats-server", "worker", "quorum", "clock-skew"];
      for (let i = bag.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [bag[i], bag[j]] = [bag[j]!, bag[i]!];
      }
    }
    const kind = bag.pop()!;
    const f: FaultRecord = { at: Date.now(), kind, target: "", detail: "" };
    soak.faults.push(f);
    try {
      if (kind === "controller") await crashController(soak, f, rand);
      else if (kind === "nats-server") await killNatsServer(soak, f, rand);
      else if (kind === "quorum") await loseQuorum(soak, f, rand);
      else if (kind === "clock-skew") await skewWorker(soak, f, rand);
      else await killWorker(soak, f, rand);
    } catch (e) {
      f.error = String(e);
      soak.anomaly(`fault ${kind} ${f.target}: ${e}`);
      await heal(soak);
    }
  }
}

/** Restarts whatever is down that we did not take down on purpose. */
export async function heal(soak: Soak): Promise<void> {
  for (const m of soak.controllers) {
    if (m.proc?.running) continue;
    say(`restarting ${m.name}, which is down`);
    await soak.set.killChildren(m);
    soak.startController(m);
    await soak.readyController(m).catch((e) =>
      soak.anomaly(`${m.name} did not come back: ${e}`)
    );
  }
  for (const [i, w] of soak.workers.entries()) {
    if (w.proc?.running) continue;
    say(`restarting ${w.id}, which is down`);
    await soak.startWorker(w, i);
  }
}

/** SIGKILL a controller and its nats-server (a host crash), restart it later. */
async function crashController(
  soak: Soak,
  f: FaultRecord,
  rand: () => number,
): Promise<void> {
  const m = pick(rand, soak.controllers);
  const down = between(rand, 3000, 12000);
  f.target = m.name;
  const kids = m.proc!.children();
  const jobs = await owned(soak, m);
  f.detail = `SIGKILL controller pid ${m.proc!.pid} and nats-server pid ${
    kids.join(",") || "-"
  } (owned ${jobs} running jobs); restart after ${fmtSecs(down)}`;
  say(`FAULT ${f.kind} ${m.name}: ${f.detail}`);
  m.up = false;
  await soak.set.crash(m);
  await sleep(down);
  soak.startController(m);
  await soak.readyController(m);
  f.backAfterMs = Date.now() - f.at;
  say(`${m.name} back after ${fmtSecs(f.backAfterMs)}`);
}

/** How many running jobs a peer says `m` owns ("?" when none answers). */
async function owned(soak: Soak, m: Controller): Promise<number | string> {
  const peer = soak.live().find((p) => p !== m) ?? m;
  try {
    const r = await soak.set.api(
      peer,
      "GET",
      "/controllers",
      undefined,
      3000,
    );
    return (r.json as Json[]).find((c) => c.id === m.name)
      ?.jobs ?? 0;
  } catch {
    return "?";
  }
}

/** SIGKILL only a controller's nats-server; the controller restarts it. */
async function killNatsServer(
  soak: Soak,
  f: FaultRecord,
  rand: () => number,
): Promise<void> {
  const m = pick(rand, soak.controllers);
  f.target = `${m.name}/nats-server`;
  const kids = m.proc!.children();
  if (kids.length === 0) {
    throw new Error(`${m.name} has no nats-server child`);
  }
  f.detail = `SIGKILL nats-server pid ${kids.join(",")}; ${m.name} restarts it`;
  say(`FAULT ${f.kind} ${m.name}: ${f.detail}`);
  await soak.set.killNatsServer(m);
  f.backAfterMs = Date.now() - f.at;
  say(`${m.name}'s nats-server back after ${fmtSecs(f.backAfterMs)}`);
}

/** SIGKILL a worker (preferably one running a task), restart it later. */
async function killWorker(
  soak: Soak,
  f: FaultRecord,
  rand: () => number,
): Promise<void> {
  let busy: string[] = [];
  const m = soak.nextLive();
  if (m) {
    try {
      const r = await soak.set.api(m, "GET", "/nodes", undefined, 3000);
      busy = (r.json as Json[]).filter((n) => n.running).map((n) => n.id);
    } catch { /* pick any */ }
  }
  const candidates = soak.workers.filter((w) => w.up);
  const preferred = candidates.filter((w) => busy.includes(w.id));
  const w = pick(
    rand,
    preferred.length > 0 && rand() < 0.7 ? preferred : candidates,
  );
  const idx = soak.workers.indexOf(w);
  const down = between(rand, 2000, 15000);
  f.target = w.id;
  f.detail = `SIGKILL worker pid ${w.proc!.pid}${
    busy.includes(w.id) ? " (running a task)" : ""
  }; restart after ${fmtSecs(down)}`;
  say(`FAULT ${f.kind} ${w.id}: ${f.detail}`);
  soak.markDown(w);
  await w.proc!.stop("SIGKILL");
  await sleep(down);
  await soak.startWorker(w, idx);
  await soak.waitWorkersOnline([w.id]);
  f.backAfterMs = Date.now() - f.at;
  say(`${w.id} back after ${fmtSecs(f.backAfterMs)}`);
}

/**
 * Two of the three nats-servers stop answering for a few seconds (SIGSTOP:
 * to the cluster, hosts gone), so JetStream has no quorum; then they are
 * SIGKILLed and their controllers start them again, to catch up with the
 * third. Jobs pause meanwhile; none may fail for it.
 */
async function loseQuorum(
  soak: Soak,
  f: FaultRecord,
  rand: () => number,
): Promise<void> {
  const live = soak.controllers.filter((m) => m.proc?.running);
  if (live.length < 3) throw new Error("not all three controllers are up");
  const spared = pick(rand, live);
  const hit = live.filter((m) => m !== spared);
  const pids = hit.flatMap((m) => m.proc!.children());
  if (pids.length < 2) throw new Error("a controller has no nats-server");
  const down = between(rand, 3000, 8000);
  f.target = hit.map((m) => `${m.name}/nats-server`).join("+");
  f.detail = `SIGSTOP nats-server pids ${
    pids.join(",")
  } (no JetStream quorum) for ${
    fmtSecs(down)
  }, then SIGKILL; their controllers restart them`;
  say(`FAULT ${f.kind} ${f.target}: ${f.detail}`);
  try {
    for (const pid of pids) Deno.kill(pid, "SIGSTOP");
    await sleep(down);
  } finally {
    // Killed next; but a stopped process must never outlive the soak.
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGCONT");
      } catch { /* gone */ }
    }
  }
  await Promise.all(hit.map((m) => soak.set.killNatsServer(m)));
  f.backAfterMs = Date.now() - f.at;
  say(`${f.target} back after ${fmtSecs(f.backAfterMs)}`);
}

/**
 * Restarts a worker with its wall clock 2-10 minutes fast or slow (a
 * preload the soak passes: scripts/soak/clock_skew.ts), or a skewed one
 * with its clock right again. Liveness is judged by the server's time, so
 * it must stay online and its jobs must not fail.
 */
async function skewWorker(
  soak: Soak,
  f: FaultRecord,
  rand: () => number,
): Promise<void> {
  const candidates = soak.workers.filter((w) => w.up);
  if (candidates.length === 0) throw new Error("no worker is up");
  const w = pick(rand, candidates);
  const idx = soak.workers.indexOf(w);
  const was = w.skewMs;
  w.skewMs = was !== 0
    ? 0
    : Math.round(between(rand, 120, 600)) * 1000 * (rand() < 0.5 ? -1 : 1);
  f.target = w.id;
  f.detail = `restart with its clock ${
    w.skewMs === 0
      ? "right again"
      : `${w.skewMs > 0 ? "+" : "-"}${fmtSecs(Math.abs(w.skewMs))}`
  }${was !== 0 ? ` (was ${fmtSecs(Math.abs(was))} off)` : ""}`;
  say(`FAULT ${f.kind} ${w.id}: ${f.detail}`);
  soak.markDown(w);
  await w.proc!.stop("SIGTERM");
  await soak.startWorker(w, idx);
  // Past offline_after (10 s), online only on the new incarnation's word.
  await sleep(12_000);
  await soak.waitWorkersOnline([w.id], 20_000);
  f.backAfterMs = Date.now() - f.at;
  say(`${w.id} online ${fmtSecs(f.backAfterMs)} after its restart`);
}
