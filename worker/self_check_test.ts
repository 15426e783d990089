/**
 * `gridw --self-check` run as the worker is, with its own permission set
 * and a config file: the systemd deny list it prints is the one the
 * backend it built enforces, config entries included.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../testing/mod.ts";
import type { DenyRule } from "../backends/systemd.ts";
import { formatSelfCheck, type SelfCheck } from "./self_check.ts";

async function selfCheckJson(config: string): Promise<SelfCheck> {
  const dir = await Deno.makeTempDir({ prefix: "grid-selfcheck-" });
  try {
    const file = join(dir, "gridw.yaml");
    await Deno.writeTextFile(file, config);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "-P=worker",
        "worker/main.ts",
        "--self-check",
        "--json",
        "-c",
        file,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    return JSON.parse(dec.decode(out.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("self-check: lists the systemd deny list the worker enforces, config included", async () => {
  const check = await selfCheckJson(`nats:
  name: w1
worker:
  systemd:
    deny_units: ["nats*", nginx]
    own_unit: grid-worker
`);
  assert.ok(check.backends.systemd, "this host has systemctl");
  const deny = check.systemd_deny!;
  const find = (unit: string) => deny.find((r) => r.unit === unit);
  for (const unit of ["reboot.target", "poweroff.target", "halt.target"]) {
    assert.deepEqual(find(unit), { unit, allows: [], from: "built-in" });
  }
  for (const unit of ["kexec.target", "emergency.target", "rescue.target"]) {
    assert.deepEqual(find(unit), { unit, allows: [], from: "built-in" });
  }
  assert.deepEqual(find("nats*"), {
    unit: "nats*",
    allows: [],
    from: "worker.systemd.deny_units",
  });
  assert.deepEqual(find("nginx.service")?.from, "worker.systemd.deny_units");
  assert.deepEqual(find("grid-worker.service"), {
    unit: "grid-worker.service",
    allows: ["status"],
    from: "worker.systemd.own_unit",
  });
  assert.equal(find("gridw.service"), undefined);
});

Deno.test("self-check: the text form shows the deny list by where it comes from", () => {
  const rule = (
    unit: string,
    from: DenyRule["from"],
    allows: string[] = [],
  ): DenyRule => ({ unit, allows, from });
  const check: SelfCheck = {
    allowed: {},
    refused: {},
    net: "granted",
    write: "prompt",
    backends: {},
    systemd_deny: [
      rule("reboot.target", "built-in"),
      rule("poweroff.target", "built-in"),
      rule("nats*", "worker.systemd.deny_units"),
      rule("gridw.service", "worker.systemd.own_unit", ["status"]),
    ],
    ok: true,
  };
  const text = formatSelfCheck(check);
  assert.match(
    text,
    new RegExp(
      [
        "systemd deny list \\(worker\\.systemd\\.deny_units adds to it\\):",
        "  built-in, every action refused:",
        "    reboot\\.target poweroff\\.target",
        "  worker\\.systemd\\.deny_units, every action refused:",
        "    nats\\*",
        "  worker\\.systemd\\.own_unit, every action but status refused:",
        "    gridw\\.service",
      ].join("\n"),
    ),
  );
  assert.match(
    formatSelfCheck({ ...check, systemd_deny: null }),
    /systemd deny list: none \(no systemd backend here\)/,
  );
});

Deno.test("self-check: the text lists per enabled backend what it may do, and what was dropped", async () => {
  const check = await selfCheckJson(
    "nats:\n  name: t1\nworker:\n  backends: [ping, systemd]\n",
  );
  const text = formatSelfCheck(check);
  assert.match(text, /\nenabled backends may \(worker\.backends\):\n/);
  assert.match(
    text,
    /\n {2}ping {5}run -; read -; write -; net no\n/,
  );
  assert.match(
    text,
    /\n {2}systemd {2}run \/usr\/bin\/systemctl; read -; write -; net no\n/,
  );
  assert.match(text, /\ndropped at start: run [^\n]*\/usr\/bin\/apt-get/);
  assert.match(text, /\nunscoped, not narrowed: read, net\n/);
  assert.deepEqual(Object.keys(check.sandbox!.backends), ["ping", "systemd"]);
});
