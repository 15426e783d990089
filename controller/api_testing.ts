/**
 * The API over the in-memory stand-ins of testing.ts, for unit tests with
 * `app.request()`: a runner rig, tokens over a memory bucket, and a memory
 * audit trail. One token of each scope is made up front.
 */
import type { TokenScope } from "../models/auth.ts";
import type { JobRecord } from "../models/job.ts";
import { type ApiDeps, createApi, type NodeAdmin } from "./api.ts";
import { MemoryAuditLog } from "./audit.ts";
import type { JobHistory } from "./job_log.ts";
import type { Peers } from "./peers.ts";
import type { Registry } from "./registry.ts";
import { MemoryBucket, OFFLINE_AFTER_MS, runnerRig } from "./testing.ts";
import { TokenStore } from "./tokens.ts";
import { ResultsStream } from "./results_stream.ts";
import { EventLogFollower } from "./job_follow.ts";
import { type FoldJob, JobRows } from "./job_rows.ts";
import type { Health } from "./health.ts";
import { Metrics } from "./metrics.ts";
import type { NatsStats } from "./nats_stats.ts";
import { initFor } from "./plan.ts";
import { applyEvent, startJob } from "./scheduler.ts";
import { loadAssets } from "./web.ts";

export interface ApiRigOptions {
  auth?: boolean;
  corsOrigins?: string[];
  maxBody?: number;
  nodeAdmin?: NodeAdmin;
  /** What `GET /nats` answers (none: no nats-server of its own). */
  natsStats?: NatsStats;
  /** Another controller's store, log, claims and clock: two rigs are two controllers. */
  shared?: Pick<
    Awaited<ReturnType<typeof runnerRig>>,
    "bucket" | "events" | "claims" | "clock"
  >;
  /** Controller id (default ctl-1). */
  id?: string;
  /** Serve the API only: its runner never starts a job. */
  passive?: boolean;
}

export async function apiRig(opts: ApiRigOptions = {}) {
  const rig = await runnerRig({
    nodes: ["web-01", "web-02"],
    ...(opts.id ? { id: opts.id } : {}),
    ...(opts.shared ?? {}),
    ...(opts.passive ? { start: false } : {}),
  });
  const tokenBucket = new MemoryBucket();
  const tokens = new TokenStore(tokenBucket, rig.clock);
  await tokens.start();
  const audit = new MemoryAuditLog();
  const enrolled: { id: string; groups: string[]; by: string }[] = [];
  const nodeAdmin: NodeAdmin = opts.nodeAdmin ?? {
    enroll: (id, groups, by) => {
      enrolled.push({ id, groups, by });
      return Promise.resolve({ creds: `creds of ${id}` });
    },
    revoke: () => Promise.resolve(),
  };
  const token: Record<TokenScope, string> = {
    read: (await tokens.create("reader", "read", "test")).token,
    operate: (await tokens.create("operator", "operate", "test")).token,
    admin: (await tokens.create("admin", "admin", "test")).token,
  };
  const fleet = rig.fleet;
  const registry = {
    nodes: fleet.nodes,
    revoked: new Map(),
    offlineAfterMs: OFFLINE_AFTER_MS,
    isOnline: (id: string, now?: number) => fleet.isOnline(id, now),
    paramsOf: (id: string) => fleet.paramsOf(id),
  } as unknown as Registry;
  const peers = {
    all: new Map(),
    alive: () => true,
  } as unknown as Peers;
  /** What GRID_RES says of itself; tests change it. */
  const resultsFacts = {
    created: rig.clock.now() - 86_400_000,
    first_seq: 1,
    last_seq: 0,
  };
  // The job's log folded from the memory log, as foldJob does from NATS.
  const foldMemory = (rec: JobRecord, keepOutput: boolean) => {
    // Results are kept either way; outputs only when asked for.
    const { state } = startJob({
      ...initFor(rec, true),
      outputBudget: keepOutput ? Infinity : 0,
    });
    if (rec.status !== "pending") {
      for (const e of rig.events.entries) {
        if (e.job === rec.id && e.event && e.seq > (rec.res_seq ?? 0)) {
          applyEvent(state, e.event, e.seq);
        }
      }
    }
    return state;
  };
  const history = {
    results: (rec: JobRecord) => Promise.resolve(foldMemory(rec, true)),
    output: (seq: number) => rig.events.output(seq),
    stored: (seq: number) => rig.events.stored(seq),
    stream: new ResultsStream(() => Promise.resolve(resultsFacts), () => 0, 0),
  } as unknown as JobHistory;
  const fold: FoldJob = (rec) => Promise.resolve(foldMemory(rec, false));
  // Rows follow running jobs on the log, as main.ts taps the runner's feed.
  const rows = new JobRows(fold);
  const untap = rig.events.follow(
    rig.events.entries.length,
    (e) => rows.observe(e),
  );
  /** What the probes say; tests flip these. */
  const healthState = { nats: true, jetstream: true, heartbeat: true };
  const health: Health = {
    natsConnected: () => healthState.nats,
    jetstream: () => Promise.resolve(healthState.jetstream),
    heartbeatCurrent: () => healthState.heartbeat,
  };
  const metrics = new Metrics(rig.clock, "ctl-1");
  const deps: ApiDeps = {
    requests: rig.runner.requests,
    store: rig.store,
    history,
    limits: { maxConcurrent: 5, maxPending: 10 },
    registry,
    peers,
    clock: rig.clock,
    controllerId: "ctl-1",
    maxBody: opts.maxBody ?? 64 * 1024,
    tokens,
    audit,
    nodeAdmin,
    follower: new EventLogFollower(rig.events),
    fold,
    rows,
    health,
    metrics,
    natsStats: () => Promise.resolve(opts.natsStats),
    web: await loadAssets(),
    auth: {
      enabled: opts.auth ?? true,
      corsOrigins: opts.corsOrigins ?? [],
    },
  };
  const app = createApi(deps);
  /** A request to the app as `scope`'s token (none: no Authorization). */
  const call = (
    method: string,
    path: string,
    init: {
      scope?: TokenScope;
      token?: string;
      body?: string;
      type?: string;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const headers: Record<string, string> = { ...init.headers };
    const t = init.token ?? (init.scope ? token[init.scope] : undefined);
    if (t !== undefined) headers.authorization = `Bearer ${t}`;
    if (init.type !== undefined) headers["content-type"] = init.type;
    return app.request(`http://127.0.0.1:8765${path}`, {
      method,
      headers,
      ...(init.body === undefined ? {} : { body: init.body }),
    });
  };
  const stop = async () => {
    untap();
    tokens.stop();
    await rig.runner.stop(false);
    rig.store.stop();
  };
  return {
    ...rig,
    app,
    deps,
    tokens,
    audit,
    token,
    call,
    enrolled,
    healthState,
    resultsFacts,
    stop,
  };
}
