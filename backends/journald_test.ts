import assert from "node:assert/strict";
import { journaldBackend, parseBoots, parseDiskUsage } from "./journald.ts";
import { runAction } from "./run.ts";
import { assertRefused, call } from "./sys_testing.ts";
import { fakeContext, recordingExec } from "./testing.ts";

const J = "/t/journalctl";
const journald = journaldBackend({ journalctl: J });

const BOOTS_252 =
  `-1 0a1b2c3d4e5f60718293a4b5c6d7e8f9 Mon 2026-11-30 08:00:01 UTC—Tue 2026-12-01 07:59:59 UTC
 0 ffeeddccbbaa99887766554433221100 Tue 2026-12-01 08:00:05 UTC—Wed 2026-12-02 03:00:00 UTC
`;
const BOOTS_255 =
  `IDX BOOT ID                          FIRST ENTRY                 LAST ENTRY
  0 ffeeddccbbaa99887766554433221100 Tue 2026-12-01 08:00:05 UTC Wed 2026-12-02 03:00:00 UTC
`;

Deno.test("journald - argv for every action: values inside --option=value", async () => {
  const table: [string, Record<string, string>, string[]][] = [
    ["logs", { unit: "nginx" }, [
      "--unit=nginx",
      "--lines=100",
      "--output=short-iso",
    ]],
    [
      "logs",
      {
        unit: "getty@tty1.service",
        lines: "500",
        since: "2026-12-01 10:00",
        priority: "err",
      },
      [
        "--unit=getty@tty1.service",
        "--lines=500",
        "--output=short-iso",
        "--since=2026-12-01 10:00",
        "--priority=err",
      ],
    ],
    ["logs", { unit: "ssh", since: "1 hour ago", priority: "3" }, [
      "--unit=ssh",
      "--lines=100",
      "--output=short-iso",
      "--since=1 hour ago",
      "--priority=3",
    ]],
    ["tail", { unit: "cron.service" }, [
      "--unit=cron.service",
      "--lines=50",
      "--output=short-iso",
    ]],
    ["tail", { unit: "cron", lines: "200" }, [
      "--unit=cron",
      "--lines=200",
      "--output=short-iso",
    ]],
    ["boots", {}, ["--list-boots"]],
    ["disk_usage", {}, ["--disk-usage"]],
  ];
  for (const [action, params, args] of table) {
    const r = await call(journald, action, params, {
      stdout: "Archived and active journals take up 8.0M in the file system.\n",
    });
    assert.deepEqual(r.calls, [{ argv: [J, ...args, "--no-pager"] }], action);
  }
});

Deno.test("journald - boots and disk usage come back as data", async () => {
  assert.deepEqual(parseBoots(BOOTS_252), [
    {
      index: -1,
      boot_id: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
      first: "Mon 2026-11-30 08:00:01 UTC",
      last: "Tue 2026-12-01 07:59:59 UTC",
    },
    {
      index: 0,
      boot_id: "ffeeddccbbaa99887766554433221100",
      first: "Tue 2026-12-01 08:00:05 UTC",
      last: "Wed 2026-12-02 03:00:00 UTC",
    },
  ]);
  assert.deepEqual(parseBoots(BOOTS_255), parseBoots(BOOTS_252).slice(1));
  const boots = await call(journald, "boots", {}, { stdout: BOOTS_255 });
  assert.equal((boots.data as unknown[]).length, 1);

  assert.equal(parseDiskUsage("take up 0B in"), 0);
  assert.equal(parseDiskUsage("take up 1.5G in"), 1610612736);
  const du = await call(journald, "disk_usage", {}, {
    stdout: "Archived and active journals take up 8.0M in the file system.\n",
  });
  assert.deepEqual(du.data, { bytes: 8388608 });
});

Deno.test("journald - journalctl failing fails the task with its words", async () => {
  const exec = recordingExec({ code: 1, stderr: "Failed to open journal\n" });
  const r = await runAction(
    { journald },
    { backend: "journald", action: "logs", params: { unit: "nginx" } },
    fakeContext({ exec }),
  );
  assert.equal(r.status, "failed");
  assert.match(
    r.error ?? "",
    /^journalctl logs nginx failed \(exit code 1\): Failed to open journal/,
  );
  assert.match(r.output, /Failed to open journal/);
});

Deno.test("journald - the real journalctl answers disk_usage", async () => {
  const bin = "/usr/bin/journalctl";
  try {
    await Deno.stat(bin);
  } catch {
    console.log("skipped: no journalctl here");
    return;
  }
  const { createExec } = await import("./exec.ts");
  const def = journaldBackend({ journalctl: bin }).actions.disk_usage!;
  const out = await def.run({}, fakeContext({ exec: createExec() }));
  assert.equal(typeof (out.data as { bytes: number }).bytes, "number");
});

Deno.test("journald - injection attempts and bad values are refused", () => {
  assertRefused(journald, [
    ["logs", {}, /param "unit": is required/],
    ["logs", { unit: "-f" }, /param "unit": "-f" is not a unit name/],
    ["logs", { unit: "--follow" }, /param "unit"/],
    ["logs", { unit: "nginx --merge" }, /param "unit"/],
    ["logs", { unit: "a/b" }, /param "unit"/],
    ["logs", { unit: "a*" }, /param "unit"/],
    ["logs", { unit: "a\n--follow" }, /param "unit"/],
    ["logs", { unit: "nginx", lines: "501" }, /param "lines"/],
    ["logs", { unit: "nginx", lines: "0" }, /param "lines"/],
    ["logs", { unit: "nginx", since: "--follow" }, /param "since"/],
    ["logs", { unit: "nginx", since: "yesterday; x" }, /param "since"/],
    ["logs", { unit: "nginx", priority: "8" }, /param "priority"/],
    ["logs", { unit: "nginx", priority: "-f" }, /param "priority"/],
    ["logs", { unit: "nginx", follow: "1" }, /param "follow": is not a param/],
    ["tail", { unit: "nginx", lines: "201" }, /param "lines"/],
    [
      "tail",
      { unit: "nginx", since: "today" },
      /param "since": is not a param/,
    ],
    ["boots", { x: "1" }, /param "x"/],
  ]);
});
