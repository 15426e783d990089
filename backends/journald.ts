/**
 * The `journald` backend: a unit's recent log lines, the boot list and the
 * journal's disk usage, through journalctl. Every value reaches journalctl
 * as `--option=value` in one argv element and is checked first, so none can
 * become an option of its own; journalctl never pages (--no-pager) and
 * reads no stdin.
 */
import { z } from "zod";
import { execOutput, failedRun } from "./output.ts";
import { described, intText } from "./params.ts";
import {
  type ActionContext,
  ActionError,
  type BackendDef,
  defineAction,
} from "./types.ts";

export interface JournaldPaths {
  journalctl: string;
}

/** The reference's rule for unit names, at systemd's length limit. */
const unit = described<string>({
  kind: "text",
  checks: [{
    pattern: "^[A-Za-z0-9][A-Za-z0-9._@\\\\:-]{0,254}$",
    message:
      "%s is not a unit name (a letter or digit first, then letters, digits and ._@\\:-)",
  }],
});

/**
 * What journalctl's --since takes: "YYYY-MM-DD[ HH:MM[:SS]]", the words
 * it knows, or a relative "-1h" / "2 hours ago" style span.
 */
const since = described<string>({
  kind: "text",
  checks: [{
    pattern: "^(?:\\d{4}-\\d{2}-\\d{2}(?:[ T]\\d{2}:\\d{2}(?::\\d{2})?)?" +
      "|\\d{2}:\\d{2}(?::\\d{2})?|now|today|yesterday" +
      "|[-+]?\\d+ ?(?:s|sec|m|min|h|hour|hours|d|day|days|w|week|weeks)(?: ago)?)$",
    message:
      '%s is not a time journalctl takes (e.g. "2026-01-31 12:00", "yesterday", "-1h", "30 min ago")',
  }],
});

const PRIORITIES = [
  "emerg",
  "alert",
  "crit",
  "err",
  "warning",
  "notice",
  "info",
  "debug",
];
const priority = described<string>({
  kind: "enum",
  values: [...PRIORITIES, "0", "1", "2", "3", "4", "5", "6", "7"],
  message: `%s is not a syslog priority (${PRIORITIES.join(", ")} or 0-7)`,
});

export const BOOT = z.object({
  index: z.number().int(),
  boot_id: z.string(),
  first: z.string(),
  last: z.string(),
});
export const BootsData = z.array(BOOT);
export const DiskUsageData = z.object({ bytes: z.number() });

async function journalctl(
  ctx: ActionContext,
  bin: string,
  what: string,
  args: string[],
): Promise<string> {
  const r = await ctx.exec({ argv: [bin, ...args, "--no-pager"] }, ctx.signal);
  const output = execOutput(r);
  if (r.code !== 0) {
    throw new ActionError(failedRun(`journalctl ${what}`, r), true, output);
  }
  return output;
}

const UNITS: Record<string, number> = {
  B: 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/** "Archived and active journals take up 1.2G in the file system." → bytes. */
export function parseDiskUsage(text: string): number | undefined {
  const m = /take up ([\d.]+)([BKMGT])/.exec(text);
  return m ? Math.round(Number(m[1]) * UNITS[m[2]!]!) : undefined;
}

/**
 * `--list-boots` as a table: "IDX BOOT-ID FIRST... LAST..." with the two
 * times in journalctl's "Day YYYY-MM-DD HH:MM:SS TZ" form, whatever the
 * version (the JSON form is newer than some supported systemds).
 */
export function parseBoots(text: string): z.infer<typeof BootsData> {
  const out: z.infer<typeof BootsData> = [];
  const time =
    "\\w{3} \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} [A-Za-z0-9+_/]+";
  const re = new RegExp(
    `^\\s*(-?\\d+)\\s+([0-9a-f]{32})\\s+(${time})\\s*[—-]?\\s*(${time})`,
  );
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (m) {
      out.push({
        index: Number(m[1]),
        boot_id: m[2]!,
        first: m[3]!,
        last: m[4]!,
      });
    }
  }
  return out;
}

/** Makes the `journald` backend (logs, tail, boots, disk_usage). */
export function journaldBackend(paths: JournaldPaths): BackendDef {
  const bin = paths.journalctl;
  const lines = (u: string, n: number) => [
    `--unit=${u}`,
    `--lines=${n}`,
    "--output=short-iso",
  ];
  return {
    name: "journald",
    requires: [bin],
    actions: {
      logs: defineAction({
        params: z.strictObject({
          unit,
          lines: intText(1, 500).default(100),
          since: since.optional(),
          priority: priority.optional(),
        }),
        run: async (p, ctx) => ({
          output: await journalctl(ctx, bin, `logs ${p.unit}`, [
            ...lines(p.unit, p.lines),
            ...(p.since ? [`--since=${p.since}`] : []),
            ...(p.priority ? [`--priority=${p.priority}`] : []),
          ]),
        }),
      }),
      tail: defineAction({
        params: z.strictObject({ unit, lines: intText(1, 200).default(50) }),
        run: async (p, ctx) => ({
          output: await journalctl(
            ctx,
            bin,
            `tail ${p.unit}`,
            lines(p.unit, p.lines),
          ),
        }),
      }),
      boots: defineAction({
        params: z.strictObject({}),
        data: BootsData,
        run: async (_p, ctx) => {
          const output = await journalctl(ctx, bin, "--list-boots", [
            "--list-boots",
          ]);
          return { output, data: parseBoots(output) };
        },
      }),
      disk_usage: defineAction({
        params: z.strictObject({}),
        data: DiskUsageData,
        run: async (_p, ctx) => {
          const output = await journalctl(ctx, bin, "--disk-usage", [
            "--disk-usage",
          ]);
          const bytes = parseDiskUsage(output);
          if (bytes === undefined) {
            throw new ActionError(
              "journalctl --disk-usage printed no size",
              false,
              output,
            );
          }
          return { output, data: { bytes } };
        },
      }),
    },
  };
}
