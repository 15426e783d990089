import assert from "node:assert/strict";
import { runChecked } from "./data_testing.ts";
import {
  cpuTimes,
  fsName,
  type Host,
  mountPoint,
  parseMounts,
} from "./host.ts";
import { runAction } from "./run.ts";
import { sysinfoBackend } from "./sysinfo.ts";
import { fakeContext, recordingExec } from "./testing.ts";

const real = sysinfoBackend();

Deno.test("sysinfo - every action reports this machine as its data schema says", async () => {
  const exec = recordingExec();
  const ctx = fakeContext({ exec });
  const os = await runChecked(real, "os", {}, ctx);
  const d = os.data as Record<string, unknown>;
  assert.equal(d.hostname, Deno.hostname());
  assert.equal(d.os, Deno.build.os);
  assert.deepEqual(JSON.parse(os.output), d);
  const cpu = (await runChecked(real, "cpu", {}, ctx)).data as {
    count: number;
  };
  assert.ok(cpu.count >= 1);
  const mem = (await runChecked(real, "memory", {}, ctx)).data as {
    total: number;
    used: number;
  };
  assert.ok(mem.total > 0 && mem.used <= mem.total);
  const disk = (await runChecked(real, "disk", {}, ctx)).data as {
    mount: string;
    total: number;
  };
  assert.equal(disk.mount, "/");
  assert.ok(disk.total > 0);
  await runChecked(real, "load", {}, ctx);
  const up = (await runChecked(real, "uptime", {}, ctx)).data as {
    uptime_seconds: number;
    boot_time: string;
  };
  assert.ok(up.uptime_seconds > 0);
  assert.ok(Date.parse(up.boot_time) < Date.now());
  assert.deepEqual(exec.calls, [], "sysinfo runs no program");
});

Deno.test("sysinfo - disk reports the filesystem holding a path, not the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const d = (await runChecked(real, "disk", { mount: dir })).data as {
      mount: string;
      fs_type: string;
      device: string;
    };
    assert.ok(dir.startsWith(d.mount), `${dir} under ${d.mount}`);
    assert.notEqual(d.fs_type, "unknown");
    assert.notEqual(d.device, d.fs_type === "tmpfs" ? "" : d.fs_type);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sysinfo - bad mount params are refused before anything is read", async () => {
  const table: [string, RegExp][] = [
    ["relative/path", /must be an absolute path/],
    ["/etc/../root", /"\." or "\.\." segments/],
    ["/a//b", /"\/\/"/],
    ["/a\nb", /control characters/],
    ["", /must be an absolute path/],
  ];
  for (const [mount, want] of table) {
    const r = await runAction(
      { sysinfo: real },
      { backend: "sysinfo", action: "disk", params: { mount } },
      fakeContext(),
    );
    assert.equal(r.status, "failed", mount);
    assert.match(r.error!, want, mount);
    assert.equal(r.retryable, false);
  }
  const none = await runAction(
    { sysinfo: real },
    { backend: "sysinfo", action: "load", params: { x: "1" } },
    fakeContext(),
  );
  assert.match(none.error!, /param "x": is not a param of this action/);
});

Deno.test("sysinfo - a missing mount fails and says so", async () => {
  const r = await runAction(
    { sysinfo: real },
    {
      backend: "sysinfo",
      action: "disk",
      params: { mount: "/nonexistent-grid-test/x" },
    },
    fakeContext(),
  );
  assert.equal(r.status, "failed");
  assert.equal(r.error, "/nonexistent-grid-test/x does not exist");
  assert.equal(r.retryable, false);
});

Deno.test("sysinfo - reports what the host says, through a fake host", async () => {
  const host: Host = {
    hostname: () => "h1",
    osRelease: () => "6.1.0",
    uptime: () => ({ uptime_seconds: 60, boot_time: "2026-01-01T00:00:00Z" }),
    memory: () => ({
      total: 100,
      used: 40,
      free: 50,
      available: 60,
      swap_total: 0,
      swap_used: 0,
      usage_percent: 40,
    }),
    load: () => ({ load1: 1.5, load5: 1, load15: 0.5 }),
    cpu: () => Promise.resolve({ count: 4, model: "m", usage_percent: 12.5 }),
    disk: (path) =>
      Promise.resolve({
        mount: path,
        device: "/dev/sda1",
        fs_type: "ext4",
        total: 10,
        used: 5,
        free: 5,
        usage_percent: 50,
      }),
  };
  const b = sysinfoBackend({ host });
  const os = await runChecked(b, "os");
  assert.equal(
    os.output,
    JSON.stringify({
      hostname: "h1",
      os: Deno.build.os,
      arch: Deno.build.arch,
      kernel: "6.1.0",
      uptime_seconds: 60,
      boot_time: "2026-01-01T00:00:00Z",
    }),
  );
  assert.deepEqual((await runChecked(b, "cpu")).data, {
    count: 4,
    model: "m",
    usage_percent: 12.5,
  });
  assert.equal(
    ((await runChecked(b, "disk", { mount: "/var" })).data as {
      device: string;
    }).device,
    "/dev/sda1",
  );
  assert.deepEqual((await runChecked(b, "load")).data, {
    load1: 1.5,
    load5: 1,
    load15: 0.5,
  });
});

Deno.test("sysinfo - CPU times, filesystem names, mount table and mount points", async () => {
  assert.deepEqual(
    cpuTimes([
      { times: { user: 100, nice: 0, sys: 50, idle: 800, irq: 50 } },
      { times: { user: 10, nice: 0, sys: 0, idle: 90, irq: 0 } },
    ]),
    { busy: 210, total: 1100 },
  );
  assert.equal(fsName(0xef53), "ext4");
  assert.equal(fsName(0x58465342), "xfs");
  assert.equal(
    fsName(0x9123683e - 2 ** 32),
    "btrfs",
    "signed 32-bit types too",
  );
  assert.equal(fsName(0x1234), "0x1234");
  const mounts = parseMounts(
    "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/my\\040disk xfs rw 0 0\n\n",
  );
  assert.deepEqual(mounts[1], {
    device: "/dev/sdb1",
    mount: "/mnt/my disk",
    fs_type: "xfs",
  });
  assert.equal(await mountPoint("/"), "/");
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.mkdir(`${dir}/a/b`, { recursive: true });
    const m = await mountPoint(`${dir}/a/b`);
    assert.ok(`${dir}/a/b`.startsWith(m), m);
    assert.equal(await mountPoint(dir), m, "same device, same mount");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "sysinfo - works with the worker's grants: read, and its sys names, no /proc",
  permissions: {
    read: true,
    sys: [
      "cpus",
      "hostname",
      "osRelease",
      "osUptime",
      "systemMemoryInfo",
      "loadavg",
      "statfs",
    ],
  },
  fn: async () => {
    await assert.rejects(
      () => Deno.readTextFile("/proc/self/mounts"),
      Deno.errors.NotCapable,
      "the premise: /proc needs --allow-all",
    );
    for (const action of ["os", "cpu", "memory", "load", "uptime"]) {
      await runChecked(real, action);
    }
    const d = (await runChecked(real, "disk")).data as Record<string, unknown>;
    assert.equal(d.mount, "/");
    assert.equal(d.device, undefined, "no /proc: no device name");
    assert.notEqual(d.fs_type, "");
  },
});
