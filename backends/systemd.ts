/**
 * The `systemd` backend: unit control through systemctl. Unit names are
 * checked against systemd's character rules and put after "--", so a name
 * can never be read as a systemctl option.
 *
 * A name without a unit-type suffix gets ".service", the same completion
 * systemctl itself applies; doing it here makes argv and output show the
 * exact unit acted on.
 *
 * Before anything runs, the unit is held against the worker's deny list
 * (its safety net): a task never reboots, powers off or suspends the node,
 * nor stops the worker that would have to report it.
 */
import { z } from "zod";
import {
  BACKEND_TABLE,
  type BinariesOf,
  binaryPaths,
  WORKER_UNIT,
} from "../models/backend_table.ts";
import { execOutput, failedRun, lastLine } from "./output.ts";
import { described, reshaped } from "./params.ts";
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

/** systemctl's completion: a name without a known unit-type suffix is a service. */
export function completeUnit(name: string): string {
  const dot = name.lastIndexOf(".");
  const known = dot > 0 && UNIT_SUFFIXES.includes(name.slice(dot + 1));
  return known ? name : `${name}.service`;
}

/** A unit name, completed to "<name>.service" when it has no known suffix. */
export const unitName = reshaped(
  described<string>({
    kind: "text",
    checks: [
      { pattern: "^[\\s\\S]", message: "must not be empty" },
      { pattern: "^[^/]*$", message: 'must not contain "/"' },
      { pattern: "^(?!-)", message: 'must not start with "-"' },
      {
        pattern: UNIT_CHARS.source,
        message: '%s may only contain letters, digits and ":_.\\@-"',
      },
      {
        // Completion adds ".service" (8 characters) to a name without a suffix.
        pattern: `^(?:.{0,${MAX_UNIT - 8}}|(?=.{0,${MAX_UNIT}}$).*\\.(?:${
          UNIT_SUFFIXES.join("|")
        }))$`,
        message: `must be at most ${MAX_UNIT} characters, with its suffix`,
      },
    ],
  }),
  completeUnit,
);

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

/**
 * The power states, each denied as its target and as the service a bare
 * name completes to ("systemctl start reboot" means reboot.service).
 * shutdown.target conflicts with every ordinary service, so starting it
 * stops them all; exit.target powers off outside containers; sleep states
 * cut the node off as surely as a power-off does.
 */
const POWER_STATES = [
  "reboot",
  "poweroff",
  "halt",
  "kexec",
  "soft-reboot",
  "emergency",
  "rescue",
  "ctrl-alt-del",
  "shutdown",
  "exit",
  "sleep",
  "suspend",
  "hibernate",
  "hybrid-sleep",
  "suspend-then-hibernate",
];
/** The services that carry a transition out: starting one needs no target. */
const TRANSITIONS = [
  "reboot",
  "poweroff",
  "halt",
  "kexec",
  "soft-reboot",
  "exit",
  "suspend",
  "hibernate",
  "hybrid-sleep",
  "suspend-then-hibernate",
];

/** Units no task may touch, whatever the config says. */
export const BUILTIN_DENY_UNITS: readonly string[] = [
  ...POWER_STATES.flatMap((s) => [`${s}.target`, `${s}.service`]),
  ...TRANSITIONS.map((s) => `systemd-${s}.service`),
  // SysV aliases systemd still ships: 0 is poweroff, 1 rescue, 6 reboot.
  "runlevel0.target",
  "runlevel1.target",
  "runlevel6.target",
];

/** The config keys a deny rule comes from, named in refusals and self-check. */
export const DENY_UNITS_KEY = "worker.systemd.deny_units";
export const OWN_UNIT_KEY = "worker.systemd.own_unit";

export interface DenyRule {
  /** A unit name, or a glob with "*" and "?" matched against the full name. */
  unit: string;
  /** The only actions still allowed on matching units. */
  allows: readonly string[];
  from: "built-in" | typeof DENY_UNITS_KEY | typeof OWN_UNIT_KEY;
}

export interface SystemdOptions {
  /** More units (names, or globs with "*" and "?") no action may touch. */
  denyUnits?: readonly string[];
  /**
   * The unit the worker runs as. Stopping or disabling it from a task cuts
   * the node off from GRID, with no worker left to report it or undo it.
   * @default "gridw.service"
   */
  ownUnit?: string;
}

const GLOB = /[*?]/;
const PATTERN_CHARS = /^(?!-)[A-Za-z0-9:_.\\@*?-]+$/;

/**
 * The deny list in the order it is checked. A configured name is completed
 * as a task's unit is, so "nginx" denies nginx.service; a glob is taken as
 * written, so "nats*" covers every unit type.
 */
export function denyRules(opts: SystemdOptions = {}): DenyRule[] {
  const configured = (opts.denyUnits ?? []).map((u) => {
    if (!PATTERN_CHARS.test(u)) {
      throw new RangeError(`${DENY_UNITS_KEY}: bad unit ${JSON.stringify(u)}`);
    }
    return GLOB.test(u) ? u : completeUnit(u);
  });
  const own = opts.ownUnit ?? WORKER_UNIT;
  if (GLOB.test(own) || !PATTERN_CHARS.test(own)) {
    throw new RangeError(`${OWN_UNIT_KEY}: bad unit ${JSON.stringify(own)}`);
  }
  return [
    ...BUILTIN_DENY_UNITS.map((unit): DenyRule => ({
      unit,
      allows: [],
      from: "built-in",
    })),
    ...configured.map((unit): DenyRule => ({
      unit,
      allows: [],
      from: DENY_UNITS_KEY,
    })),
    { unit: completeUnit(own), allows: ["status"], from: OWN_UNIT_KEY },
  ];
}

/** Whether `unit` matches `pattern`, case-sensitively as systemd does. */
function matches(pattern: string, unit: string): boolean {
  if (!GLOB.test(pattern)) return pattern === unit;
  const body = [...pattern].map((c) =>
    c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.\\]/, "\\$&")
  ).join("");
  return new RegExp(`^${body}$`).test(unit);
}

/** Throws the refusal when a rule forbids `action` on `unit`. */
function checkDenied(
  rules: readonly DenyRule[],
  action: string,
  unit: string,
): void {
  const rule = rules.find((r) =>
    !r.allows.includes(action) && matches(r.unit, unit)
  );
  if (!rule) return;
  const why = rule.from === "built-in"
    ? "built in: it can reboot, power off, suspend or isolate the node; config cannot lift it"
    : rule.from === DENY_UNITS_KEY
    ? `matches ${JSON.stringify(rule.unit)} in ${DENY_UNITS_KEY}`
    : `it is the worker's own unit (${OWN_UNIT_KEY}): only "status" is allowed on it, so no task can cut the node off from GRID`;
  throw new ActionError(
    `refused: ${action} ${unit} — ${unit} is on this worker's systemd deny list (${why}); nothing was run. ${DENY_UNITS_KEY} in the worker config adds units to the list`,
    false,
  );
}

/** The deny list each systemd backend enforces, for `gridw --self-check`. */
const ENFORCED = new WeakMap<BackendDef, readonly DenyRule[]>();

/** The deny list `backend` enforces; undefined if it is not a systemd backend. */
export function enforcedDenyList(
  backend: BackendDef | undefined,
): readonly DenyRule[] | undefined {
  return backend && ENFORCED.get(backend);
}

/** Makes the `systemd` backend (start, stop, restart, enable, disable, status). */
export function systemdBackend(
  paths: SystemdPaths,
  opts: SystemdOptions = {},
): BackendDef {
  const bin = paths.systemctl;
  const rules = denyRules(opts);
  const params = z.strictObject({ unit: unitName });
  const guarded = (
    action: string,
    run: (ctx: ActionContext, unit: string) => Promise<ActionOutput>,
  ) =>
    defineAction({
      params,
      run: async (p, ctx) => {
        checkDenied(rules, action, p.unit);
        return await run(ctx, p.unit);
      },
    });
  const verb = (v: string) =>
    guarded(v, (ctx, unit) => systemctl(ctx, bin, v, unit));
  const backend: BackendDef = {
    name: "systemd",
    requires: binaryPaths(BACKEND_TABLE.systemd.binaries, paths),
    actions: {
      start: verb("start"),
      stop: verb("stop"),
      restart: verb("restart"),
      enable: verb("enable"),
      disable: verb("disable"),
      status: guarded("status", (ctx, unit) => unitStatus(ctx, bin, unit)),
    },
  };
  ENFORCED.set(backend, rules);
  return backend;
}
