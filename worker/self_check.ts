/**
 * `gridw --self-check`: what this worker may run, proven from inside its
 * own sandbox. Allowed programs are queried (never run); programs that must
 * be refused are actually tried, and must fail with NotCapable. The
 * systemd deny list shown is the one the built backend enforces.
 */
import type { BackendDef } from "../backends/types.ts";
import { describeBackends } from "../backends/mod.ts";
import {
  DENY_UNITS_KEY,
  type DenyRule,
  enforcedDenyList,
} from "../backends/systemd.ts";
import {
  type BackendBinaries,
  workerPrograms,
} from "../models/backend_table.ts";
import { describeNeeds, type Narrowed } from "./sandbox.ts";

export interface SelfCheck {
  allowed: Record<string, string>;
  refused: Record<string, "refused" | "absent" | "RAN">;
  net: string;
  write: string;
  backends: Record<string, string[]>;
  /** Units the systemd backend refuses; null when it is not usable here. */
  systemd_deny: readonly DenyRule[] | null;
  /** Per enabled backend, what it may do; and what the worker dropped. */
  sandbox?: Narrowed;
  ok: boolean;
}

/** Programs a worker must never be able to start. */
const MUST_REFUSE = ["/bin/sh", "/bin/bash", "/bin/ls", "/usr/bin/env"];

/** Checks the programs a worker with these `binaries` runs, and the backends it got. */
export function selfCheck(
  binaries: BackendBinaries,
  backends: Map<string, BackendDef>,
  sandbox?: Narrowed,
): SelfCheck {
  const allowed: Record<string, string> = {};
  for (const p of workerPrograms(binaries)) {
    allowed[p] = Deno.permissions.querySync({ name: "run", command: p }).state;
  }
  const refused: SelfCheck["refused"] = {};
  // What the worker dropped at start is tried too: a disabled backend's
  // program must be refused by Deno, not merely left unused.
  const dropped = sandbox?.dropped.run ?? [];
  for (const p of [...MUST_REFUSE, Deno.execPath(), ...dropped]) {
    refused[p] = tryRun(p);
  }
  const check: SelfCheck = {
    allowed,
    refused,
    net: Deno.permissions.querySync({ name: "net" }).state,
    write: Deno.permissions.querySync({ name: "write" }).state,
    backends: describeBackends(backends),
    systemd_deny: enforcedDenyList(backends.get("systemd")) ?? null,
    ...(sandbox ? { sandbox } : {}),
    ok: Object.values(refused).every((r) => r !== "RAN"),
  };
  return check;
}

function tryRun(path: string): "refused" | "absent" | "RAN" {
  try {
    new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return "RAN";
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) return "refused";
    if (e instanceof Deno.errors.NotFound) return "absent";
    return "RAN";
  }
}

export function formatSelfCheck(c: SelfCheck): string {
  const lines = ["run permission (allowed programs):"];
  for (const [p, s] of Object.entries(c.allowed)) {
    lines.push(`  ${s.padEnd(8)} ${p}`);
  }
  lines.push("programs that must be refused:");
  for (const [p, s] of Object.entries(c.refused)) {
    lines.push(`  ${s.padEnd(8)} ${p}`);
  }
  lines.push(`network: ${c.net}   write: ${c.write}`);
  lines.push("usable backends:");
  for (const [b, actions] of Object.entries(c.backends)) {
    lines.push(`  ${b.padEnd(8)} ${actions.join(", ")}`);
  }
  if (c.sandbox) lines.push(...formatSandbox(c.sandbox));
  lines.push(...formatDenyList(c.systemd_deny));
  lines.push(
    c.ok
      ? "sandbox: ok"
      : "sandbox: BROKEN — a program outside the allow-list ran",
  );
  return lines.join("\n");
}

/** Per enabled backend what it may do, then what the worker let go. */
function formatSandbox(n: Narrowed): string[] {
  const lines = ["enabled backends may (worker.backends):"];
  for (const [b, needs] of Object.entries(n.backends)) {
    lines.push(`  ${b.padEnd(8)} ${describeNeeds(needs)}`);
  }
  const { run, write, sys } = n.dropped;
  lines.push(
    `dropped at start: run ${run.join(" ") || "-"}; write ${
      write.join(" ") || "-"
    }; sys ${sys.join(" ") || "-"}`,
  );
  if (n.unscoped.length) {
    lines.push(`unscoped, not narrowed: ${n.unscoped.join(", ")}`);
  }
  return lines;
}

/** The deny list by where each rule comes from, units wrapped to fit. */
function formatDenyList(rules: readonly DenyRule[] | null): string[] {
  if (!rules) return ["systemd deny list: none (no systemd backend here)"];
  const lines = [`systemd deny list (${DENY_UNITS_KEY} adds to it):`];
  const groups = Map.groupBy(rules, (r) => `${r.from}, ${allowed(r)}`);
  for (const [from, group] of groups) {
    lines.push(`  ${from}:`);
    let line = "   ";
    for (const r of group) {
      if (line.length > 4 && line.length + r.unit.length > 78) {
        lines.push(line);
        line = "   ";
      }
      line += ` ${r.unit}`;
    }
    lines.push(line);
  }
  return lines;
}

function allowed(r: DenyRule): string {
  return r.allows.length
    ? `every action but ${r.allows.join(", ")} refused`
    : "every action refused";
}
