/**
 * The API over the in-memory stand-ins of testing.ts, for unit tests with
 * `app.request()`: a runner rig, tokens over a memory bucket, and a memory
 * audit trail. One token of each scope is made up front.
 */
import type { TokenScope } from "../models/auth.ts";
import { type ApiDeps, createApi, type NodeAdmin } from "./api.ts";
import { MemoryAuditLog } from "./audit.ts";
import type { JobHistory } from "./job_log.ts";
import type { Peers } from "./peers.ts";
import type { Registry } from "./registry.ts";
import { MemoryBucket, OFFLINE_AFTER_MS, runnerRig } from "./testing.ts";
import { TokenStore } from "./tokens.ts";

export interface ApiRigOptions {
  auth?: boolean;
  corsOrigins?: string[];
  maxBody?: number;
  nodeAdmin?: NodeAdmin;
}

export async function apiRig(opts: ApiRigOptions = {}) {
  const rig = await runnerRig({ nodes: ["web-01", "web-02"] });
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
    offlineAfterMs: OFFLINE_AFTER_MS,
    isOnline: (id: string, now?: number) => fleet.isOnline(id, now),
  } as unknown as Registry;
  const peers = {
    all: new Map(),
    alive: () => true,
  } as unknown as Peers;
  const history = {
    results: () => Promise.reject(new Error("no job history in unit tests")),
  } as unknown as JobHistory;
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
    tokens.stop();
    await rig.runner.stop(false);
    rig.store.stop();
  };
  return { ...rig, app, deps, tokens, audit, token, call, enrolled, stop };
}
