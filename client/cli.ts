/**
 * gridc as a function: argv and injected I/O in, exit status out. Every
 * failure ends here as one line on stderr.
 */
import { VERSION } from "../models/mod.ts";
import { ApiClient, ApiError, DEFAULT_API, normalizeBaseUrl } from "./api.ts";
import { type Command, parseCli, UsageError } from "./args.ts";
import {
  jobCancel,
  jobGet,
  jobList,
  jobPlan,
  jobResume,
  jobRun,
} from "./commands/job.ts";
import { jobLogs } from "./commands/logs.ts";
import {
  controllers,
  nodeEnroll,
  nodeInfo,
  nodeList,
  nodeRevoke,
  status,
} from "./commands/node.ts";
import { tokenCreate, tokenList, tokenRevoke } from "./commands/token.ts";
import { audit } from "./commands/audit.ts";
import {
  authHint,
  findToken,
  type FoundToken,
  tokensFile,
} from "./credentials.ts";
import {
  type Context,
  diag,
  EXIT,
  type Io,
  lineWidth,
  printJson,
  useColor,
} from "./context.ts";
import { helpText } from "./help.ts";
import { backendDescribe, backendList } from "./commands/backend.ts";

export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  // Kept for the message when the controller refuses the token.
  let found: FoundToken | undefined;
  let base = DEFAULT_API;
  try {
    const inv = parseCli(argv);
    const { command } = inv;
    if (command.kind === "help") {
      io.stdout(helpText(command.topic));
      return EXIT.ok;
    }
    if (command.kind === "version") {
      if (inv.output === "json") {
        const nats = io.natsServerVersion;
        printJson(io, {
          gridc: VERSION,
          deno: io.denoVersion,
          ...(nats ? { nats_server: nats } : {}),
        });
      } else {
        const nats = io.natsServerVersion;
        const release = nats ? `, nats-server ${nats} in this release` : "";
        io.stdout(`gridc ${VERSION} (deno ${io.denoVersion}${release})\n`);
      }
      return EXIT.ok;
    }
    base = apiBase(inv.api, io.env.GRID_API);
    found = await findToken(io, base, inv.token);
    const fetch = await trustingFetch(io, inv.ca ?? io.env.GRID_CA);
    const ctx: Context = {
      api: new ApiClient(base, {
        ...(fetch ? { fetch } : {}),
        ...(found.token === undefined ? {} : { token: found.token }),
      }),
      io,
      output: inv.output,
      view: () => ({
        width: lineWidth(io),
        color: useColor(io, io.tty.stdout),
        now: io.now(),
      }),
      progress: io.tty.stderr && io.env.TERM !== "dumb",
      pollMs: io.pollMs ?? 250,
    };
    return await dispatch(ctx, command);
  } catch (e) {
    if (e instanceof UsageError) {
      diag(io, e.message);
      return EXIT.usage;
    }
    if (e instanceof ApiError) {
      const refused = e.status === 401 || e.status === 403;
      const hint = refused
        ? `; ${
          authHint(
            e.status!,
            found ?? { from: "none" },
            base,
            tokensFile(io.env),
          )
        }`
        : "";
      diag(io, `${e.message}${hint}`);
      return EXIT.api;
    }
    const why = e instanceof Error ? e.message : String(e);
    diag(io, `unexpected error: ${why.split("\n")[0]}`);
    return EXIT.api;
  }
}

/** -a wins over GRID_API, which wins over the default. */
function apiBase(flag: string | undefined, env: string | undefined): string {
  const [text, from] = flag !== undefined
    ? [flag, "-a"]
    : env
    ? [env, "GRID_API"]
    : [DEFAULT_API, "default"];
  const base = normalizeBaseUrl(text);
  if (base === undefined) {
    throw new UsageError(
      `${from} "${text}": not an http(s) URL such as ${DEFAULT_API}`,
    );
  }
  return base;
}

/** The fetch to use: one trusting the CA in `caFile` when given. */
async function trustingFetch(
  io: Io,
  caFile: string | undefined,
): Promise<typeof fetch | undefined> {
  if (caFile === undefined || caFile === "") return io.fetch;
  let pem: string;
  try {
    pem = await io.readFile(caFile);
  } catch (e) {
    throw new UsageError(
      `--ca ${caFile}: cannot read it: ${(e as Error).message}`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(`--ca ${caFile}: not a PEM certificate`);
  }
  if (!io.fetchTrusting) return io.fetch;
  return io.fetchTrusting(pem);
}

function dispatch(
  ctx: Context,
  cmd: Exclude<Command, { kind: "help" | "version" }>,
): Promise<number> {
  switch (cmd.kind) {
    case "job run":
      return jobRun(ctx, cmd);
    case "job plan":
      return jobPlan(ctx, cmd);
    case "job get":
      return jobGet(ctx, cmd);
    case "job logs":
      return jobLogs(ctx, cmd);
    case "job list":
      return jobList(ctx, cmd);
    case "job cancel":
      return jobCancel(ctx, cmd);
    case "job resume":
      return jobResume(ctx, cmd);
    case "node list":
      return nodeList(ctx);
    case "node info":
      return nodeInfo(ctx, cmd);
    case "node enroll":
      return nodeEnroll(ctx, cmd);
    case "node revoke":
      return nodeRevoke(ctx, cmd);
    case "token create":
      return tokenCreate(ctx, cmd);
    case "token list":
      return tokenList(ctx);
    case "token revoke":
      return tokenRevoke(ctx, cmd);
    case "audit":
      return audit(ctx, cmd);
    case "backend list":
      return backendList(ctx);
    case "backend describe":
      return backendDescribe(ctx, cmd);
    case "controllers":
      return controllers(ctx);
    case "status":
      return status(ctx);
  }
}
