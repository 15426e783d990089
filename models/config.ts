/** Controller and worker configuration files. Durations are Go-style strings. */
import { z } from "zod";
import {
  BACKEND_NAMES,
  type BackendName,
  BINARY_KEYS,
  type BinaryKey,
  DEFAULT_BACKENDS,
  DEFAULT_BINARIES,
  DEFAULT_RKE2_INSTALLER_DIRS,
  WORKER_UNIT,
} from "./backend_table.ts";
import {
  type DurationLimits,
  outsideLimits,
  parseDuration,
  TASK_TIMEOUT,
} from "./duration.ts";
import { NodeId, Token } from "./names.ts";
import { Labels } from "./selector.ts";

/**
 * A duration string in a config file, turned into milliseconds; with
 * `limits`, one outside them stops the program (a heartbeat of 0 would
 * spin, a timeout of 0 fail everything at once).
 */
export function durationMs(fallback: string, limits?: DurationLimits) {
  return z.string({ error: 'must be a duration such as "5s"' }).default(
    fallback,
  ).transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `"${s}" is not a duration (use e.g. "500ms", "15s", "1m30s")`,
      });
      return z.NEVER;
    }
    const why = limits && outsideLimits(ms, limits);
    if (why) {
      ctx.addIssue({ code: "custom", message: `${why}, got "${s}"` });
      return z.NEVER;
    }
    return ms;
  });
}

const HEARTBEAT: DurationLimits = {
  minMs: 100,
  maxMs: 3_600_000,
  text: "from 100ms to 1h",
};
const LIVENESS: DurationLimits = {
  minMs: 1000,
  maxMs: 86_400_000,
  text: "from 1s to 24h",
};
/** GRID_CMD keeps commands 24 h: no wait on the worker needs longer. */
const UP_TO_A_DAY: DurationLimits = {
  minMs: 0,
  maxMs: 86_400_000,
  text: "from 0 to 24h",
};

/** Kept under an hour, a job could vanish before anyone looked. */
const HISTORY_AGE: DurationLimits = {
  minMs: 3_600_000,
  maxMs: 87_600 * 3_600_000,
  text: "from 1h to 87600h (10 years)",
};

const Port = z.number().int().min(0).max(65535);
const positive = (fallback: number) =>
  z.number().int("must be a whole number").min(1, "must be at least 1")
    .default(fallback);

/** One URL or a list of them. */
const Urls = z.union([z.string(), z.array(z.string()).min(1)]).transform((
  u,
) => (Array.isArray(u) ? u : u.split(",").map((s) => s.trim()))).pipe(
  z.array(
    z.string().regex(
      /^(nats|tls):\/\/[^\s/]+$|^[^\s/:]+:\d+$/,
      'must look like "nats://host:4222"',
    ),
  ),
);

/** Certificate, key and (for verifying peers) CA files, PEM. */
const TlsFiles = z.object({
  cert: z.string().min(1),
  key: z.string().min(1),
  ca: z.string().min(1).optional(),
}).strict();

export const ControllerConfig = z.object({
  api: z.object({
    /** Loopback unless set: binding beyond it is an explicit choice. */
    host: z.string().default("127.0.0.1"),
    port: Port.default(8765),
    max_body: z.number().int().min(1024).default(1024 * 1024),
    auth: z.object({
      /** false only for throwaway rigs on loopback: every request is admin. */
      enabled: z.boolean().default(true),
      /** Default: admin.token beside nats.jetstream.store_dir (set below). */
      bootstrap_token_file: z.string().min(1).optional(),
    }).strict().prefault({}),
    tls: z.object({
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
    }).strict().optional().superRefine((t, ctx) => {
      if (t && (t.cert === undefined) !== (t.key === undefined)) {
        ctx.addIssue({
          code: "custom",
          path: [t.cert === undefined ? "cert" : "key"],
          message:
            "is required: give both api.tls.cert and api.tls.key, or neither",
        });
      }
    }),
    /** Browser origins allowed to call the API (CORS); none by default. */
    cors_origins: z.array(
      z.string().regex(
        /^https?:\/\/[^\s/]+$/,
        'must be an origin such as "https://ops.example.com" (no path)',
      ),
    ).default([]),
  }).strict().prefault({}).superRefine((a, ctx) => {
    if (!a.auth.enabled && !isLoopback(a.host)) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "enabled"],
        message:
          `may be false only when api.host is a loopback address (127.0.0.1, ::1, localhost), not "${a.host}"`,
      });
    }
  }),
  nats: z.object({
    name: Token.default("controller"),
    server: z.object({
      /** false: use an existing NATS cluster at nats.client.urls. */
      enabled: z.boolean().default(true),
      /** Loopback unless set: workers elsewhere need an explicit address (and TLS). */
      host: z.string().default("127.0.0.1"),
      port: Port.default(4222),
      binary: z.string().optional(),
    }).strict().prefault({}),
    client: z.object({
      urls: Urls.optional(),
    }).strict().prefault({}),
    /**
     * The keys GRID's NATS trusts (operator, accounts, route secret).
     * Default: nats-auth/ beside nats.jetstream.store_dir (set below).
     * Every controller of a cluster needs the same file: copy the dir.
     */
    auth: z.object({
      dir: z.string().min(1).optional(),
    }).strict().prefault({}),
    /** TLS for client connections and cluster routes. */
    tls: TlsFiles.optional(),
    /** Routes to peer controllers' servers: together they form one JetStream cluster. */
    cluster: z.object({
      name: Token.default("grid"),
      host: z.string().default("0.0.0.0"),
      port: Port.default(6222),
      routes: z.array(
        z.string().regex(
          /^nats(-route)?:\/\/[^\s/]+$/,
          'must look like "nats://host:6222"',
        ),
      ).default([]),
    }).strict().optional(),
    jetstream: z.object({
      store_dir: z.string().default("/var/lib/grid/jetstream"),
      replicas: z.union([z.literal(1), z.literal(3)], {
        error: "must be 1 or 3",
      }).default(1),
    }).strict().prefault({}),
  }).strict().prefault({}).superRefine((n, ctx) => {
    if (!n.server.enabled && !n.client.urls) {
      ctx.addIssue({
        code: "custom",
        path: ["client", "urls"],
        message: "is required when nats.server.enabled is false",
      });
    }
  }),
  controller: z.object({
    heartbeat_interval: durationMs("5s", HEARTBEAT),
    stale_threshold: durationMs("30s", LIVENESS),
  }).strict().prefault({}),
  scheduler: z.object({
    max_concurrent: positive(5),
    max_pending: positive(100),
    task_timeout: durationMs("5m", TASK_TIMEOUT),
  }).strict().prefault({}),
  nodes: z.object({
    offline_after: durationMs("15s", LIVENESS),
  }).strict().prefault({}),
  /**
   * How long and how many finished jobs are kept (records, claims and
   * results: docs/DESIGN.md "History"). Pending and running jobs are never
   * removed, nor counted here.
   */
  history: z.object({
    /** After it finished; results are kept a week longer (lib/topology.ts). */
    max_age: durationMs("720h", HISTORY_AGE),
    /** The newest this many finished jobs are kept. */
    max_jobs: positive(100_000),
  }).strict().prefault({}),
}).strict().transform((c) => ({
  ...c,
  api: {
    ...c.api,
    auth: {
      ...c.api.auth,
      // Beside the store, so it lives where the controller's state does.
      bootstrap_token_file: c.api.auth.bootstrap_token_file ??
        `${parentDir(c.nats.jetstream.store_dir)}/admin.token`,
    },
  },
  nats: {
    ...c.nats,
    auth: {
      dir: c.nats.auth.dir ??
        `${parentDir(c.nats.jetstream.store_dir)}/nats-auth`,
    },
  },
}));
export type ControllerConfig = z.infer<typeof ControllerConfig>;

/** Whether `host` only takes connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The directory holding `path` (models may not import node:path). */
function parentDir(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "" : trimmed.slice(0, i);
}

/**
 * "host:port", "[v6]:port", ":port" or "port": where to listen, as
 * Deno.serve takes it. Without a host it is loopback, so exposing it is a
 * choice.
 */
const ListenAddress = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+)?:)?(\d{1,5})$/.exec(String(v));
  const port = Number(m?.[2]);
  if (!m || port > 65535) {
    ctx.addIssue({
      code: "custom",
      message:
        `"${v}" is not an address to listen on (use e.g. "127.0.0.1:9102", "[::1]:9102" or "9102")`,
    });
    return z.NEVER;
  }
  return { hostname: (m[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
});

/** A unit name as systemctl takes it; with `glob`, "*" and "?" too. */
const unitField = (glob: boolean) =>
  z.string().max(255, "must be at most 255 characters").regex(
    glob ? /^(?!-)[A-Za-z0-9:_.\\@*?-]+$/ : /^(?!-)[A-Za-z0-9:_.\\@-]+$/,
    `must be a unit name${
      glob ? ' or a glob with "*" and "?"' : ""
    } (letters, digits and ":_.\\@-", not starting with "-")`,
  );

export const WorkerConfig = z.object({
  nats: z.object({
    name: NodeId,
    client: z.object({
      urls: Urls.default(["nats://127.0.0.1:4222"]),
      /** This node's NATS identity: the .creds file `gridc node enroll` wrote. */
      credentials: z.string().min(1).optional(),
      /** A private CA to trust for the server's certificate. */
      tls: z.object({ ca: z.string().min(1) }).strict().optional(),
    }).strict().prefault({}),
  }).strict(),
  worker: z.object({
    groups: z.array(Token).default([]).refine(
      (g) => new Set(g).size === g.length,
      "must not list a group twice",
    ),
    /** `{role: web}`: what selectors match; kept only as far as enrolled. */
    labels: Labels.optional(),
    heartbeat_interval: durationMs("5s", HEARTBEAT),
    /** Commands sent while the worker was away are run on return if younger than this. */
    catchup_window: durationMs("10m", UP_TO_A_DAY),
    /** On SIGTERM, how long the running task may go on before it is aborted. */
    drain_timeout: durationMs("30s", UP_TO_A_DAY),
    /** Where to serve Prometheus metrics ("host:port"; a bare port is loopback); off unless set. */
    metrics: ListenAddress.optional(),
    /** Directories an rke2 `installer` param may point into. */
    rke2_installer_dirs: z.array(
      z.string().startsWith("/", "must be an absolute path"),
    )
      .default([...DEFAULT_RKE2_INSTALLER_DIRS]),
    /** Absolute paths of the programs the system backends run. */
    binaries: z.object(
      Object.fromEntries(
        BINARY_KEYS.map((k) => [
          k,
          z.string().startsWith("/", "must be an absolute path")
            .default(DEFAULT_BINARIES[k]),
        ]),
      ) as Record<BinaryKey, z.ZodDefault<z.ZodString>>,
    ).strict().prefault({}),
    /** The systemd backend's deny list; its built-in entries always apply. */
    systemd: z.object({
      /** More units no action may touch: names, or globs with "*" and "?". */
      deny_units: z.array(unitField(true)).default([]),
      /** The unit gridw runs as: a task may only read its status. */
      own_unit: unitField(false).default(WORKER_UNIT),
    }).strict().prefault({}),
    /**
     * The backends this node offers; the worker keeps only the permissions
     * these need (models/backend_table.ts).
     */
    backends: z.array(
      z.string().refine((b) => (BACKEND_NAMES as string[]).includes(b), {
        error: (iss) =>
          `unknown backend ${JSON.stringify(iss.input)} (known: ${
            BACKEND_NAMES.join(", ")
          })`,
      }),
    ).default([...DEFAULT_BACKENDS]).refine(
      (b) => new Set(b).size === b.length,
      "must not list a backend twice",
    ).transform((b) => b as BackendName[]),
    /** What the `file` and `config` backends may write. */
    file: z.object({
      /** Directories (absolute) writes must lie in; none unless set. */
      allowed_paths: z.array(
        z.string().regex(
          /^\/(?!.*(?:^|\/)\.\.?(?:\/|$))/,
          'must be an absolute path without "." or ".." parts',
        ).transform((p) => p.replace(/\/+$/, "")).refine(
          (p) => p !== "",
          "must not be / (that would let a task write anywhere)",
        ),
      ).default([]),
    }).strict().prefault({}),
  }).strict().prefault({}),
}).strict();
export type WorkerConfig = z.infer<typeof WorkerConfig>;
