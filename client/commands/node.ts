/** `node list`, `node info`, `node enroll`, `node revoke`, `controllers`, `status`. */
import { formatLabels } from "../../models/selector.ts";
import { type Command, UsageError } from "../args.ts";
import { type Context, EXIT, printJson, type PrivateFile } from "../context.ts";
import {
  renderControllers,
  renderNode,
  renderNodes,
  renderStatus,
} from "../render.ts";

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

export async function controllers(ctx: Context): Promise<number> {
  const reply = await ctx.api.listControllers();
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderControllers(reply.data, ctx.view()));
  return EXIT.ok;
}

export async function status(ctx: Context): Promise<number> {
  const reply = await ctx.api.status();
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderStatus(reply.data, ctx.view()));
  return EXIT.ok;
}

export async function nodeEnroll(
  ctx: Context,
  cmd: Extract<Command, { kind: "node enroll" }>,
): Promise<number> {
  const path = cmd.out ?? `./${cmd.id}.creds`;
  // Claimed before asking: credentials the controller made must land
  // somewhere, and an existing file is never replaced.
  let file: PrivateFile;
  try {
    file = await ctx.io.createPrivateFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(
        `${path} exists: gridc does not overwrite credentials (remove it, or use --out)`,
      );
    }
    throw new UsageError(`${path}: cannot create it: ${(e as Error).message}`);
  }
  let reply;
  try {
    reply = await ctx.api.enrollNode(cmd.id, cmd.groups, cmd.labels);
  } catch (e) {
    await file.discard();
    throw e;
  }
  await file.write(reply.data.creds);
  if (ctx.output === "json") {
    const { creds: _, ...rest } = reply.data;
    printJson(ctx.io, { ...rest, creds_file: path });
    return EXIT.ok;
  }
  const groups = reply.data.groups.join(", ") || "none";
  const labels = reply.data.labels && Object.keys(reply.data.labels).length
    ? `; labels: ${formatLabels(reply.data.labels)}`
    : "";
  ctx.io.stdout(
    `Node "${reply.data.id}" enrolled (groups: ${groups}${labels}); credentials written to ${path} (mode 0600).\nCopy it to the node and point nats.client.credentials in its gridw.yaml at it.\n`,
  );
  return EXIT.ok;
}

export async function nodeRevoke(
  ctx: Context,
  cmd: Extract<Command, { kind: "node revoke" }>,
): Promise<number> {
  const reply = await ctx.api.revokeNode(cmd.id);
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else {
    ctx.io.stdout(
      `Node "${reply.data.id}" revoked: its credentials no longer work\n`,
    );
  }
  return EXIT.ok;
}
