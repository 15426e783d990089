/** `audit`: who changed what through the API, newest first. */
import type { AuditEntry } from "../../models/auth.ts";
import type { Command } from "../args.ts";
import { type Context, EXIT, printJson } from "../context.ts";
import type { ViewOptions } from "../render.ts";
import { renderTable, type Style } from "../table.ts";

const OUTCOME_STYLE: Record<string, Style> = {
  ok: "green",
  refused: "red",
  failed: "yellow",
};

export async function audit(
  ctx: Context,
  cmd: Extract<Command, { kind: "audit" }>,
): Promise<number> {
  const reply = await ctx.api.audit({
    limit: cmd.limit ?? 50,
    ...(cmd.before === undefined ? {} : { before: cmd.before }),
  });
  if (ctx.output === "json") {
    printJson(ctx.io, reply.raw);
    return EXIT.ok;
  }
  let text = renderAudit(reply.data.entries, ctx.view());
  if (reply.data.next !== undefined) {
    const n = cmd.limit ? ` -n ${cmd.limit}` : "";
    text += `\nOlder entries: gridc audit${n} --before ${reply.data.next}\n`;
  }
  ctx.io.stdout(text);
  return EXIT.ok;
}

export function renderAudit(
  entries: readonly AuditEntry[],
  opts: ViewOptions,
): string {
  if (entries.length === 0) return "No audit entries.\n";
  return renderTable(
    [
      { header: "SEQ", align: "right" },
      { header: "AT" },
      { header: "WHO", max: 24 },
      { header: "FROM", max: 40 },
      { header: "ACTION" },
      { header: "TARGET", max: 40 },
      { header: "OUTCOME" },
      { header: "ERROR", flex: true },
    ],
    entries.map((e) => [
      String(e.seq ?? ""),
      e.at,
      e.who,
      e.from,
      e.action,
      e.target ?? "-",
      { text: e.outcome, style: OUTCOME_STYLE[e.outcome] },
      e.error ?? "",
    ]),
    opts,
  );
}
