/**
 * The `systemd` backend: unit control through systemctl. Unit names are
 * checked against systemd's character rules and put after "--", so a name
 * can never be read as a systemctl option.
 *
 * A name without a unit-type suffix gets ".service", the same completion
 * systemctl itself applies; doing it here makes argv and output show the
 * exact unit acted on.
 */
import { z } from "zod";
import {
  BACKEND_TABLE,
  type BinariesOf,
  binaryPaths,
} from "../models/backend_table.ts";
import { execOutput, failedRun, lastLine } from "./output.ts";
import { text } from "./params.ts";
import {
  type ActionContext,
  ActionError,
  type ActionOutput,
  type BackendDef,
  defineAction,
} from "./types.ts";

export type SystemdPaths = BinariesOf<"systemd">;

export const UNIT_SUFFIXES = [
  "service",
  "socket",
  "device",
  "mount",
  "automount",
  "swap",
  "target",
  "path",
  "timer",
  "slice",
  "scope",
];
const UNIT_CHARS = /^[A-Za-z0-9:_.\\@-]+$/;
const MAX_UNIT = 255;

/** A unit name, completed to "<name>.service" when it has no known suffix. */
export const unitName = text().transform((s, ctx) => {
  const fail = (message: string) => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  if (s === "") return fail("must not be empty");
  if (s.includes("/")) return fail('must not contain "/"');
  if (s.startsWith("-")) return fail('must not start with "-"');
  if (!UNIT_CHARS.test(s)) {
    return fail(
      `${JSON.stringify(s)} may only contain letters, digits and ":_.\\@-"`,
    );
  }
  const dot = s.lastIndexOf(".");
  const known = dot > 0 && UNIT_SUFFIXES.includes(s.slice(dot + 1));
  const unit = known ? s : `${s}.service`;
  if (unit.length > MAX_UNIT) {
    return fail(`must be at most ${MAX_UNIT} characters, with its suffix`);
  }
  return unit;
});

/** systemctl's LSB status for "no such unit": a retry cannot help. */
const NO_SUCH_UNIT = 5;
const PERMANENT_RE = /not found|Access denied|authentication required/i;

/** Runs `systemctl VERB -- UNIT` and fails with systemctl's own reason. */
export async function systemctl(
  ctx: ActionContext,
  bin: string,
  verb: string,
  unit: string,
): Promise<ActionOutput> {
  const r = await ctx.exec({ argv: [bin, verb, "--", unit] }, ctx.signal);
  const output = execOutput(r);
  if (r.code === 0) return { output: output || `${verb} ${unit}: done` };
  throw new ActionError(
    failedRun(`systemctl ${verb} ${unit}`, r),
    r.code !== NO_SUCH_UNIT && !PERMANENT_RE.test(lastLine(r)),
    output,
  );
}

const STATUS_PROPS = ["ActiveState", "SubState", "LoadState", "UnitFileState"];

/**
 * Reports a unit's state. An inactive or failed unit is still a successful
 * report; a unit systemd does not know is a failure, since the name is
 * almost certainly wrong.
 */
export async function unitStatus(
  ctx: ActionContext,
  bin: string,
  unit: string,
): Promise<ActionOutput> {
  const r = await ctx.exec({
    argv: [bin, "show", `--property=${STATUS_PROPS.join(",")}`, "--", unit],
  }, ctx.signal);
  if (r.code !== 0) {
    throw new ActionError(
      failedRun(`systemctl show ${unit}`, r),
      true,
      execOutput(r),
    );
  }
  const props = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const lines = STATUS_PROPS.map((k) => `${k}=${props.get(k) ?? ""}`);
  const active = props.get("ActiveState") || "unknown";
  const sub = props.get("SubState") || "unknown";
  if (props.get("LoadState") === "not-found") {
    throw new ActionError(
      `Unit ${unit} not found`,
      false,
      [...lines, `${unit} is not loaded (not-found)`].join("\n"),
    );
  }
  const summary = active === "active"
    ? `${unit} is active (${sub})`
    : `${unit} is not running: ${active} (${sub})`;
  return { output: [...lines, summary].join("\n") };
}

/** Makes the `systemd` backend (start, stop, restart, enable, disable, status). */
export function systemdBackend(paths: SystemdPaths): BackendDef {
  const bin = paths.systemctl;
  const params = z.strictObject({ unit: unitName });
  const verb = (v: string) =>
    defineAction({
      params,
      run: (p, ctx) => systemctl(ctx, bin, v, p.unit),
    });
  return {
    name: "systemd",
    requires: binaryPaths(BACKEND_TABLE.systemd.binaries, paths),
    actions: {
      start: verb("start"),
      stop: verb("stop"),
      restart: verb("restart"),
      enable: verb("enable"),
      disable: verb("disable"),
      status: defineAction({
        params,
        run: (p, ctx) => unitStatus(ctx, bin, p.unit),
      }),
    },
  };
}
