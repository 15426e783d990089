/** `token create`, `token list`, `token revoke`. */
import type { TokenView } from "../../models/auth.ts";
import type { Command } from "../args.ts";
import { type Context, EXIT, printJson } from "../context.ts";
import { formatAgo, type ViewOptions } from "../render.ts";
import { renderTable } from "../table.ts";

type Cmd<K extends Command["kind"]> = Extract<Command, { kind: K }>;

export async function tokenCreate(
  ctx: Context,
  cmd: Cmd<"token create">,
): Promise<number> {
  const reply = await ctx.api.createToken({
    name: cmd.name,
    scope: cmd.scope,
    ...(cmd.ttl === undefined ? {} : { ttl: cmd.ttl }),
  });
  if (ctx.output === "json") {
    printJson(ctx.io, reply.raw);
    return EXIT.ok;
  }
  const t = reply.data;
  const expires = t.expires_at ? `, expires ${t.expires_at}` : "";
  // The token alone on stdout, so `$(gridc token create ...)` captures it.
  ctx.io.stderr(
    `Token "${t.name}" created (scope ${t.scope}${expires}). It will not be shown again: store it now.\n`,
  );
  ctx.io.stdout(`${t.token}\n`);
  return EXIT.ok;
}

export async function tokenList(ctx: Context): Promise<number> {
  const reply = await ctx.api.listTokens();
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else ctx.io.stdout(renderTokens(reply.data.tokens, ctx.view()));
  return EXIT.ok;
}

export async function tokenRevoke(
  ctx: Context,
  cmd: Cmd<"token revoke">,
): Promise<number> {
  const reply = await ctx.api.revokeToken(cmd.name);
  if (ctx.output === "json") printJson(ctx.io, reply.raw);
  else {
    ctx.io.stdout(
      `Token "${reply.data.name}" revoked: every controller refuses it within seconds\n`,
    );
  }
  return EXIT.ok;
}

export function renderTokens(
  tokens: readonly TokenView[],
  opts: ViewOptions,
): string {
  if (tokens.length === 0) return "No tokens.\n";
  return renderTable(
    [
      { header: "NAME", max: 40 },
      { header: "SCOPE" },
      { header: "CREATED" },
      { header: "BY", max: 40 },
      { header: "EXPIRES", flex: true },
    ],
    tokens.map((t) => [
      t.name,
      t.scope,
      formatAgo(t.created_at, opts.now),
      t.created_by,
      t.expires_at
        ? Date.parse(t.expires_at) <= opts.now
          ? { text: `expired ${t.expires_at}`, style: "red" }
          : t.expires_at
        : "never",
    ]),
    opts,
  );
}
