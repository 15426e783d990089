/** `node list`, `node info`, `status`. */
import type { Command } from "../args.ts";
import { type Context, EXIT, printJson } from "../context.ts";
import { renderNode, renderNodes, renderStatus } from "../render.ts";

export async function nodeList(ctx: Context): Promise<number> {
  const reply = await ctx.api.listNodes();
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderNodes(reply.data, ctx.view()));
  return EXIT.ok;
}

export async function nodeInfo(
  ctx: Context,
  cmd: Extract<Command, { kind: "node info" }>,
): Promise<number> {
  const reply = await ctx.api.getNode(cmd.id);
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderNode(reply.data, ctx.view()));
  return EXIT.ok;
}

export async function status(ctx: Context): Promise<number> {
  const reply = await ctx.api.status();
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderStatus(reply.data, ctx.view()));
  return EXIT.ok;
}
