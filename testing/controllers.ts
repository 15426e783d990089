/**
 * Several controllers on loopback, each with its own nats-server (routed
 * into one JetStream cluster, see `clusterConfig`) or sharing one, and
 * workers that may list several servers: their processes (see
 * `ControllerProcs`), and what their APIs and servers say, waited on with
 * deadlines. The cluster tests and the soak script run on it.
 */
import type { Member } from "./configs.ts";
import {
  authHeaders,
  enrollTo,
  httpRequest,
  type Json,
  jsonOr,
  readBootstrapToken,
} from "./http.ts";
import { jetstreamState, waitReplicasCurrent } from "./jetstream.ts";
import { ControllerProcs } from "./set_procs.ts";
import { keysDirOf } from "./nats.ts";
import { waitFor } from "./wait.ts";

const TERMINAL = ["completed", "failed", "cancelled"];

export class ControllerSet extends ControllerProcs {
  /** The job `waitJob` waits for, or last waited for. */
  waitingFor?: string;
  /** Each member's bootstrap admin token, once its controller wrote it. */
  readonly #tokens = new Map<Member, string>();

  /**
   * The admin token `m`'s controller bootstrapped (or found: members
   * whose stores share a parent dir share the file); undefined before.
   */
  token(m: Member): string | undefined {
    let t = this.#tokens.get(m);
    if (t === undefined) {
      t = readBootstrapToken(m.file);
      if (t !== undefined) this.#tokens.set(m, t);
    }
    return t;
  }

  /** Enrolls worker `id` through the first controller that answers, once. */
  protected override async enroll(id: string, groups: string[]): Promise<void> {
    const m = this.members.find((m) => m.proc?.running) ?? this.members[0]!;
    await enrollTo(
      `http://127.0.0.1:${m.api}`,
      this.token(m),
      id,
      groups,
      this.credsFile(id),
    );
  }

  /** Until every running controller's API answers; throws at once if one exits. */
  async readyAll(timeoutMs = 60_000): Promise<void> {
    const starting = this.members.filter((m) => m.proc);
    const up = new Set<Member>();
    const exited = await waitFor(
      `${starting.map((m) => m.name)} API`,
      async () => {
        for (const m of starting) {
          if (up.has(m)) continue;
          if (!m.proc!.running) return m;
          if (await this.#answers(m)) up.add(m);
        }
        return up.size === starting.length && "up";
      },
      timeoutMs,
      250,
    );
    if (exited !== "up") {
      throw new Error(
        `${exited.name} exited (code ${exited.proc?.exitCode})`,
      );
    }
  }

  /** Until its API answers; throws at once if it exits. */
  async ready(m: Member, timeoutMs = 60_000): Promise<void> {
    const up = await waitFor(
      `${m.name} API`,
      async () => {
        if (!m.proc?.running) return "exited";
        return await this.#answers(m) && "up";
      },
      timeoutMs,
      250,
    );
    if (up === "exited") {
      throw new Error(`${m.name} exited (code ${m.proc?.exitCode})`);
    }
  }

  /** Its API answers GET /status with 2xx. */
  async #answers(m: Member): Promise<boolean | undefined> {
    const token = this.token(m);
    if (token === undefined) return false;
    const r = await fetch(`${this.url(m)}/status`, {
      headers: authHeaders(token),
      signal: AbortSignal.timeout(3000),
    }).catch(() => undefined);
    await r?.body?.cancel();
    return r?.ok;
  }

  /** One API request with `m`'s admin token; the answer's JSON (or `{error: text}`). */
  async api(
    m: Member,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 15_000,
  ): Promise<{ status: number; json: Json }> {
    const r = await httpRequest(
      `${this.url(m)}${path}`,
      method,
      body,
      timeoutMs,
      this.token(m),
    );
    return {
      status: r.status,
      json: jsonOr(r.text, (text) => ({ error: text.slice(0, 200) })),
    };
  }

  async get(m: Member, path: string): Promise<Json> {
    return (await this.api(m, "GET", path)).json;
  }

  async post(
    m: Member,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> {
    return await this.api(m, "POST", path, body);
  }

  /**
   * Until a controller lists every one of `ids` online: `via` one member,
   * or whichever `via()` names at each poll (by default the running ones
   * in turn).
   */
  async waitOnline(
    ids: string[],
    via?: Member | (() => Member | undefined),
    timeoutMs = 60_000,
    intervalMs = 250,
  ): Promise<void> {
    let turn = 0;
    const pick = typeof via === "function"
      ? via
      : via
      ? () => via
      : () => this.running()[turn++ % Math.max(1, this.running().length)];
    await waitFor(
      `workers ${ids.join(",")} online`,
      async () => {
        const m = pick();
        if (!m) return false;
        const r = await this.api(m, "GET", "/nodes");
        // A bare array (the reference's shape), or {nodes} from older controllers.
        const nodes: Json[] = Array.isArray(r.json) ? r.json : r.json.nodes;
        return ids.every((id) =>
          nodes.some((n) => n.id === id && n.status === "online")
        );
      },
      timeoutMs,
      intervalMs,
    );
  }

  /**
   * Until the job is completed, failed or cancelled, as `m` sees it; then
   * the job with its results. It polls the job list: each GET /job/:id
   * opens a JetStream consumer, and in a cluster every one of those is a
   * meta-leader proposal, load a 2-core box running elections can do without.
   */
  async waitJob(m: Member, id: string, timeoutMs = 60_000): Promise<Json> {
    this.waitingFor = id;
    await waitFor(
      `job ${id} via ${m.name}`,
      async () => {
        const jobs: Json[] = await this.get(m, "/jobs?limit=1000");
        const j = jobs.find((j) => j.id === id);
        return j && TERMINAL.includes(j.status);
      },
      timeoutMs,
      250,
    );
    return await this.get(m, `/job/${id}`);
  }

  /**
   * Until every stream (and KV bucket) has a leader and all its replicas
   * current, as `via`'s server sees them.
   */
  async waitReplicasCurrent(via: Member, timeoutMs = 60_000): Promise<void> {
    await waitReplicasCurrent(
      this.natsUrl(via),
      keysDirOf(this.dir),
      timeoutMs,
    );
  }

  /**
   * Until the set is quiet after a change: every running controller sees
   * `workers` online and every running peer online, and its own server
   * answers for JetStream with every stream's replicas current.
   */
  async waitSettled(workers: string[], timeoutMs = 60_000): Promise<void> {
    const names = () => this.running().map((m) => m.name);
    for (const m of this.running()) {
      await this.waitOnline(workers, m, timeoutMs);
      await waitFor(
        `${m.name} to see ${names()} online`,
        async () => {
          const controllers: Json[] = await this.get(m, "/controllers");
          return names().every((n) =>
            (controllers as Json[]).some((c) =>
              c.id === n && c.status === "online"
            )
          );
        },
        timeoutMs,
        250,
      );
      await this.waitReplicasCurrent(m, timeoutMs);
    }
  }

  /**
   * Streams and consumers as the running servers see them, consumers
   * labelled with the controller that opened them (see `jetstreamState`).
   */
  async jetstreamState(): Promise<string> {
    return await jetstreamState(
      this.running().map((m) => this.natsUrl(m)),
      keysDirOf(this.dir),
      () => {
        const job = this.waitingFor;
        if (job === undefined) return [];
        return this.running().map((m) => ({
          name: m.name,
          read: () => this.api(m, "GET", `/job/${job}`, undefined, 10_000),
        }));
      },
    );
  }
}

/**
 * How many times each worker started each step of `job`, every
 * incarnation, from their `task started` log lines: worker → step → count.
 */
export function stepStarts(
  set: ControllerSet,
  job: string,
): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const id of set.workers.keys()) out.set(id, new Map());
  for (const p of set.history) {
    const byStep = out.get(p.name);
    if (!byStep) continue; // a controller
    for (const l of p.log) {
      const m = /task started job=(\S+) step=(\d+) /.exec(l);
      if (m?.[1] !== job) continue;
      byStep.set(Number(m[2]), (byStep.get(Number(m[2])) ?? 0) + 1);
    }
  }
  return out;
}
