/** `backend list`, `backend describe NAME`. */
import { BACKEND_NAMES } from "../../models/backend_table.ts";
import type { Command } from "../args.ts";
import { type Context, diag, EXIT, printJson } from "../context.ts";
import { renderBackend, renderBackends } from "../render_backend.ts";

export async function backendList(ctx: Context): Promise<number> {
  const reply = await ctx.api.listBackends();
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderBackends(reply.data, ctx.view()));
  return EXIT.ok;
}

export async function backendDescribe(
  ctx: Context,
  cmd: Extract<Command, { kind: "backend describe" }>,
): Promise<number> {
  const reply = await ctx.api.listBackends();
  const b = reply.data.find((x) => x.name === cmd.name);
  if (!b) {
    const online = reply.data.map((x) => x.name).join(", ") || "none";
    const why = (BACKEND_NAMES as string[]).includes(cmd.name)
      ? `no online node offers backend "${cmd.name}" (enable it in a worker's worker.backends)`
      : `unknown backend "${cmd.name}"`;
    // As a missing node or job: the controller has no such thing (exit 4).
    diag(ctx.io, `${why}; online: ${online}`);
    return EXIT.api;
  }
  if (ctx.output === "json") printJson(ctx.io, b);
  else ctx.io.stdout(renderBackend(b, ctx.view()));
  return EXIT.ok;
}
