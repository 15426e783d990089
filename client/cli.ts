/**
 * gridc as a function: argv and injected I/O in, exit status out. Every
 * failure ends here as one line on stderr.
 */
import { VERSION } from "../models/mod.ts";
import { ApiClient, ApiError, DEFAULT_API, normalizeBaseUrl } from "./api.ts";
import { type Command, parseCli, UsageError } from "./args.ts";
import { jobCancel, jobGet, jobList, jobRun } from "./commands/job.ts";
import { nodeInfo, nodeList, status } from "./commands/node.ts";
import {
  type Context,
  EXIT,
  type Io,
  lineWidth,
  printJson,
  useColor,
} from "./context.ts";
import { helpText } from "./help.ts";

export async function runCli(argv: readonly string[], io: Io): Promise<number> {
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
    const base = apiBase(inv.api, io.env.GRID_API);
    const ctx: Context = {
      api: new ApiClient(base, io.fetch ? { fetch: io.fetch } : {}),
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
      io.stderr(`gridc: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof ApiError) {
      io.stderr(`gridc: ${e.message}\n`);
      return EXIT.api;
    }
    const why = e instanceof Error ? e.message : String(e);
    io.stderr(`gridc: unexpected error: ${why.split("\n")[0]}\n`);
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

function dispatch(
  ctx: Context,
  cmd: Exclude<Command, { kind: "help" | "version" }>,
): Promise<number> {
  switch (cmd.kind) {
    case "job run":
      return jobRun(ctx, cmd);
    case "job get":
      return jobGet(ctx, cmd);
    case "job list":
      return jobList(ctx, cmd);
    case "job cancel":
      return jobCancel(ctx, cmd);
    case "node list":
      return nodeList(ctx);
    case "node info":
      return nodeInfo(ctx, cmd);
    case "status":
      return status(ctx);
  }
}
