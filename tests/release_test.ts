/**
 * The release (`deno task build`, release/): what can be checked on a
 * machine where deno compile has no runtime to build on is checked here
 * without one. The permission sets go through a real deno compile on a
 * stand-in runtime and are read back from the binaries; the release layout
 * is assembled from stand-ins for the binaries; the units are verified by
 * systemd-analyze when it is here, structurally always; install.sh installs
 * into a temp root. The real build runs only where a local runtime is
 * (DENORT_BIN, or deno's cache).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./harness.ts";
import { VERSION } from "../models/mod.ts";
import { ControllerConfig, WorkerConfig } from "../models/config.ts";
import { parseConfig } from "../lib/config_file.ts";
import {
  compileArgs,
  compileProgram,
  type Program,
  programsFrom,
  readDenoJson,
} from "../release/compile.ts";
import {
  checkEmbedded,
  embeddedPermissions,
  readCompileMetadata,
} from "../release/embedded.ts";
import {
  findBuildNatsServer,
  natsServerVersion,
} from "../release/nats_server.ts";
import { resolveRuntime, runtimeLocation } from "../release/runtime.ts";
import {
  assembleRelease,
  packRelease,
  parseSums,
  RELEASE_SOURCES,
  releaseFiles,
  releaseName,
  sha256File,
} from "../release/layout.ts";

const TARGET = Deno.build.target;
const dec = new TextDecoder();

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-release-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

function which(name: string): string | undefined {
  for (
    const dir of (Deno.env.get("PATH") ?? "").split(":").concat([
      "/usr/bin",
      "/usr/sbin",
    ])
  ) {
    try {
      if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
    } catch { /* not here */ }
  }
  return undefined;
}

const programs = async () => programsFrom(await readDenoJson(ROOT));
const mode = (path: string) => Deno.statSync(path).mode! & 0o7777;

/** The nats-server to ship: this machine's if it has one, else a stand-in. */
async function natsServerFor(
  dir: string,
): Promise<{ file: string; version: string }> {
  try {
    const file = findBuildNatsServer();
    return { file, version: await natsServerVersion(file) };
  } catch {
    const file = join(dir, "nats-server.stand-in");
    await Deno.writeTextFile(file, "#!/bin/sh\necho 'nats-server: v0.0.0'\n", {
      mode: 0o755,
    });
    return { file, version: "v0.0.0" };
  }
}

/** A release directory whose three programs are shell scripts. */
async function standInRelease(
  tmp: string,
): Promise<{ dir: string; outDir: string }> {
  const bins = join(tmp, "bins");
  await Deno.mkdir(bins);
  const built = [];
  for (const p of await programs()) {
    const file = join(bins, p.name);
    await Deno.writeTextFile(
      file,
      `#!/bin/sh\necho "${p.name} ${VERSION} (stand-in)"\n`,
      { mode: 0o755 },
    );
    built.push({ ...p, file });
  }
  const outDir = join(tmp, "dist");
  const dir = await assembleRelease({
    outDir,
    version: VERSION,
    target: TARGET,
    deno: Deno.version.deno,
    commit: "0000000000000000000000000000000000000000",
    programs: built,
    natsServer: await natsServerFor(tmp),
  });
  return { dir, outDir };
}

// ---- permission sets ----

Deno.test("release: each program is built from its dev task's entry with its permission set", async () => {
  const config = await readDenoJson(ROOT);
  const ps = programsFrom(config);
  assert.deepEqual(
    ps.map((p) => [p.name, p.task, p.entry, p.permissionSet]),
    [
      ["grid", "controller", "controller/main.ts", "controller"],
      ["gridw", "worker", "worker/main.ts", "worker"],
      ["gridc", "gridc", "client/main.ts", "client"],
    ],
  );
  for (const p of ps) {
    assert.equal(p.permissions, config.permissions![p.permissionSet]);
    const args = compileArgs(p, { target: TARGET, output: "/tmp/x" });
    for (
      const flag of [
        "--frozen",
        "--exclude-unused-npm",
        `-P=${p.permissionSet}`,
      ]
    ) {
      assert.ok(args.includes(flag), `${p.name}: deno compile ${flag}`);
    }
    assert.equal(args.at(-1), p.entry);
    // What a binary may run is named by absolute path, never by PATH lookup.
    const runs = p.permissions.run;
    if (Array.isArray(runs)) {
      for (const r of runs) assert.ok(r.startsWith("/"), `${p.name} runs ${r}`);
    } else {assert.ok(
        runs === undefined,
        `${p.name}: run must be a list of paths`,
      );}
  }
  // grid carries the web dashboard's files; the others carry none.
  for (const p of ps) {
    const args = compileArgs(p, { target: TARGET, output: "/tmp/x" });
    const at = args.indexOf("--include");
    if (p.name === "grid") assert.equal(args[at + 1], "web");
    else assert.equal(at, -1, `${p.name} carries no extra files`);
  }
  // The shipped nats-server is installed where the controller may run it.
  const grid = ps.find((p) => p.name === "grid")!;
  assert.ok(
    (grid.permissions.run as string[]).includes("/opt/grid/bin/nats-server"),
  );
  assert.equal(ps.find((p) => p.name === "gridc")!.permissions.run, undefined);
  // The build task exists and runs the build script.
  const build = config.tasks?.build;
  const command = typeof build === "string" ? build : build?.command;
  assert.match(command ?? "", /scripts\/build\.ts/);
});

Deno.test("release: a task granting more than its permission set is refused", () => {
  const config = {
    permissions: { client: { net: true } },
    tasks: {
      controller: "deno run -P=client controller/main.ts",
      worker: "deno run -P=client worker/main.ts",
      gridc: "deno run -P=client --allow-env client/main.ts",
    },
  };
  assert.throws(() => programsFrom(config), /grants "--allow-env"/);
  config.tasks.gridc = "deno run -P=nope client/main.ts";
  assert.throws(() => programsFrom(config), /permission set "nope"/);
});

Deno.test("release: deno compile embeds exactly each dev permission set", async () => {
  const standIn = which("true");
  if (!standIn) return console.warn("no ELF stand-in runtime (true): skipped");
  await withTemp(async (tmp) => {
    // Any ELF will do to build on: the binaries cannot run, but they carry
    // what deno compile embeds, which is what is checked.
    const runtime = join(tmp, "denort-stand-in");
    await Deno.copyFile(standIn, runtime);
    const ps = await programs();
    const results = await Promise.all(ps.map(async (p) => {
      const output = join(tmp, p.name);
      const res = await compileProgram(p, {
        root: ROOT,
        target: TARGET,
        output,
        env: { DENORT_BIN: runtime },
      });
      return { p, output, res };
    }));
    for (const { p, output, res } of results) {
      assert.ok(res.ok, `${p.name}: ${res.stderr}`);
      const meta = readCompileMetadata(await Deno.readFile(output));
      assert.ok(meta, `${p.name}: embedded metadata found`);
      assert.deepEqual(checkEmbedded(p, meta), []);
      assert.equal(meta.entrypoint_key, p.entry);
      assert.equal((meta.permissions as { prompt: boolean }).prompt, false);
    }
    // The controller's binary carries the dashboard it serves.
    const gridBytes = await Deno.readFile(
      results.find((r) => r.p.name === "grid")!.output,
    );
    const marker = new TextEncoder().encode(
      await Deno.readTextFile(join(ROOT, "web", "app.js")),
    );
    assert.ok(contains(gridBytes, marker), "grid embeds web/app.js");
    // The check notices a difference.
    const grid = results.find((r) => r.p.name === "grid")!;
    const meta = readCompileMetadata(await Deno.readFile(grid.output))!;
    const wider: Program = {
      ...grid.p,
      permissions: { ...grid.p.permissions, write: true },
    };
    assert.match(checkEmbedded(wider, meta).join("\n"), /allow_write/);
  });
});

Deno.test("release: embedded permissions follow deno's rules for true, lists and absence", () => {
  const e = embeddedPermissions({
    net: true,
    run: ["/usr/bin/x"],
    read: { allow: ["/etc"], deny: ["/etc/shadow"] },
  });
  assert.deepEqual(e.allow_net, []);
  assert.deepEqual(e.allow_run, ["/usr/bin/x"]);
  assert.deepEqual(e.allow_read, ["/etc"]);
  assert.deepEqual(e.deny_read, ["/etc/shadow"]);
  assert.equal(e.allow_write, null);
  assert.equal(e.allow_env, null);
  assert.ok(!("allow_import" in e));
  assert.equal(e.prompt, false);
});

// ---- the runtime deno compile needs ----

Deno.test("release: without a reachable runtime the build says how to use DENORT_BIN", async () => {
  await withTemp(async (tmp) => {
    const q = {
      target: TARGET,
      denoVersion: Deno.version.deno,
      denoDir: tmp,
      probe: () => Promise.resolve({ ok: false, reason: "dns error" }),
    };
    const { url, cache } = runtimeLocation(q);
    assert.equal(
      url,
      `https://dl.deno.land/release/v${Deno.version.deno}/denort-${TARGET}.zip`,
    );
    const r = await resolveRuntime(q);
    assert.equal(r.kind, "unavailable");
    if (r.kind !== "unavailable") return;
    assert.match(r.help, /DENORT_BIN=\/path\/to\/denort deno task build/);
    assert.ok(r.help.includes(url) && r.help.includes(cache));
    assert.match(r.help, /dns error/);

    // DENORT_BIN wins and must exist; a cached runtime needs no network.
    const local = join(tmp, "denort");
    await Deno.writeFile(local, new Uint8Array([0x7f]));
    assert.deepEqual(await resolveRuntime({ ...q, denortBin: local }), {
      kind: "local",
      path: local,
    });
    await assert.rejects(
      resolveRuntime({ ...q, denortBin: join(tmp, "missing") }),
      /DENORT_BIN=.*no such file/,
    );
    await Deno.mkdir(join(cache, ".."), { recursive: true });
    await Deno.writeFile(cache, new Uint8Array());
    assert.deepEqual(await resolveRuntime(q), { kind: "cached", path: cache });
    assert.equal(
      (await resolveRuntime({
        ...q,
        denoDir: join(tmp, "empty"),
        probe: () => Promise.resolve({ ok: true, reason: "HTTP 200" }),
      })).kind,
      "download",
    );
  });
});

Deno.test("release: deno task build stops with directions, not an obscure error", async () => {
  await withTemp(async (tmp) => {
    const out = join(tmp, "dist");
    // A stand-in nats-server, so that only the runtime decides the outcome.
    const nats = join(tmp, "nats-server");
    await Deno.writeTextFile(nats, "#!/bin/sh\necho 'nats-server: v0.0.0'\n", {
      mode: 0o755,
    });
    const build = (env: Record<string, string>) =>
      run(Deno.execPath(), [
        "run",
        "-A",
        "scripts/build.ts",
        "--out",
        out,
        "--nats-server",
        nats,
      ], { env });

    const missing = await build({ DENORT_BIN: join(tmp, "no-denort") });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /DENORT_BIN=.*no such file/);

    // A runtime that is not denort: the binaries compile but do not run.
    const standIn = which("true");
    if (standIn) {
      const fake = join(tmp, "fake-denort");
      await Deno.copyFile(standIn, fake);
      const bad = await build({ DENORT_BIN: fake });
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(
        bad.stderr,
        /--version printed .* is DENORT_BIN the denort of Deno/,
      );
    }
    assert.ok(!(await exists(out)), "a failed build leaves no release behind");
  });
});

// ---- the release layout ----

Deno.test("release: the layout, its manifest, tarball and checksums", async () => {
  await withTemp(async (tmp) => {
    const { dir, outDir } = await standInRelease(tmp);
    const name = releaseName(VERSION, TARGET);
    assert.equal(dir, join(outDir, name));
    const withCopyright = await exists(join(dir, "nats-server.copyright"));
    const files = [];
    for await (const e of Deno.readDir(dir)) files.push(e.name);
    assert.deepEqual(files.sort(), releaseFiles(withCopyright));
    for (const f of ["grid", "gridw", "gridc", "nats-server", "install.sh"]) {
      assert.equal(mode(join(dir, f)), 0o755, f);
    }
    for (
      const f of [
        "grid.yaml",
        "gridw.yaml",
        "grid.service",
        "gridw.service",
        "release.json",
      ]
    ) {
      assert.equal(mode(join(dir, f)), 0o644, f);
    }

    // The nats-server shipped is the build machine's, and its version recorded.
    const nats = await natsServerFor(tmp);
    assert.equal(
      await sha256File(join(dir, "nats-server")),
      await sha256File(nats.file),
    );
    const manifest = JSON.parse(
      await Deno.readTextFile(join(dir, "release.json")),
    );
    assert.equal(manifest.version, VERSION);
    assert.equal(manifest.target, TARGET);
    assert.equal(manifest.deno, Deno.version.deno);
    assert.equal(manifest.nats_server, nats.version);
    for (const p of await programs()) {
      assert.deepEqual(manifest.programs[p.name], {
        entry: p.entry,
        permission_set: p.permissionSet,
        permissions: p.permissions,
      });
    }

    // The example configs are valid configs, with JetStream in the unit's state dir.
    const grid = parseConfig(
      await Deno.readTextFile(join(dir, "grid.yaml")),
      "grid.yaml",
      ControllerConfig,
    );
    assert.ok(grid.nats.jetstream.store_dir.startsWith("/var/lib/grid/"));
    // Where grid's permissions let it write its first admin token.
    assert.ok(grid.api.auth.bootstrap_token_file.startsWith("/var/lib/grid/"));
    assert.equal(grid.api.auth.enabled, true);
    assert.equal(
      grid.nats.server.binary,
      undefined,
      "grid finds the nats-server beside it",
    );
    parseConfig(
      await Deno.readTextFile(join(dir, "gridw.yaml")),
      "gridw.yaml",
      WorkerConfig,
    );

    // SHA256SUMS inside covers every other file.
    const inner = parseSums(await Deno.readTextFile(join(dir, "SHA256SUMS")));
    assert.deepEqual(
      [...inner.keys()].sort(),
      files.filter((f) => f !== "SHA256SUMS").sort(),
    );
    for (const [f, sum] of inner) {
      assert.equal(await sha256File(join(dir, f)), sum, f);
    }

    // The tarball holds exactly the directory; dist/SHA256SUMS covers it.
    const packed = await packRelease(dir, { mtime: 1_700_000_000 });
    assert.equal(packed.tarball, join(outDir, `${name}.tar.gz`));
    const outer = parseSums(
      await Deno.readTextFile(join(outDir, "SHA256SUMS")),
    );
    assert.equal(outer.get(`${name}.tar.gz`), packed.sha256);
    const list = await run("tar", ["-tzvf", packed.tarball]);
    assert.equal(list.code, 0, list.stderr);
    const entries = list.stdout.trim().split("\n");
    assert.deepEqual(
      entries.map((l) => l.split(/\s+/).at(-1)).sort(),
      [`${name}/`, ...files.map((f) => `${name}/${f}`)].sort(),
    );
    for (const l of entries) {
      assert.match(l, /^\S+ 0\/0 /, "owned by root in the tarball");
    }
    if (which("sha256sum")) {
      const check = await run("sha256sum", ["--strict", "-c", "SHA256SUMS"], {
        cwd: outDir,
      });
      assert.equal(check.code, 0, check.stdout + check.stderr);
    }
    // Packing again gives the same bytes.
    const again = await packRelease(dir, { mtime: 1_700_000_000 });
    assert.equal(again.sha256, packed.sha256);
  });
});

// ---- systemd units ----

type Unit = Map<string, [string, string][]>;

function parseUnit(text: string, file: string): Unit {
  const unit: Unit = new Map();
  let section: [string, string][] | undefined;
  text.split("\n").forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    if (line.trim() === "" || /^[#;]/.test(line)) return;
    const head = /^\[([A-Za-z]+)\]$/.exec(line);
    if (head) {
      assert.ok(!unit.has(head[1]!), `${where}: [${head[1]}] twice`);
      unit.set(head[1]!, section = []);
      return;
    }
    const kv = /^([A-Z][A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv, `${where}: not Key=Value: ${line}`);
    assert.ok(section, `${where}: ${kv[1]} before any [Section]`);
    assert.ok(!/\s$/.test(line), `${where}: trailing space`);
    section.push([kv[1]!, kv[2]!]);
  });
  return unit;
}

function value(unit: Unit, section: string, key: string): string | undefined {
  const values = (unit.get(section) ?? []).filter(([k]) => k === key).map((
    [, v],
  ) => v);
  assert.ok(values.length <= 1, `${section}.${key} set ${values.length} times`);
  return values[0];
}

/**
 * The directives the units may use: without systemd-analyze, a typo such as
 * ProtectSytem= would otherwise go unnoticed (systemd ignores unknown keys).
 */
const BOOLEAN = new Set([
  "NoNewPrivileges",
  "PrivateTmp",
  "PrivateDevices",
  "ProtectHome",
  "ProtectKernelTunables",
  "ProtectKernelModules",
  "ProtectKernelLogs",
  "ProtectControlGroups",
  "ProtectClock",
  "ProtectHostname",
  "RestrictNamespaces",
  "RestrictRealtime",
  "RestrictSUIDSGID",
  "RemoveIPC",
  "LockPersonality",
]);
const KNOWN: Record<string, string[]> = {
  Unit: ["Description", "Documentation", "After", "Wants", "Requires"],
  Service: [
    ...BOOLEAN,
    "Type",
    "User",
    "Group",
    "ExecStart",
    "Environment",
    "StateDirectory",
    "StateDirectoryMode",
    "UMask",
    "LimitNOFILE",
    "KillMode",
    "TimeoutStopSec",
    "Restart",
    "RestartSec",
    "RestartPreventExitStatus",
    "CapabilityBoundingSet",
    "AmbientCapabilities",
    "ProtectSystem",
    "ProtectProc",
    "RestrictAddressFamilies",
    "SystemCallArchitectures",
  ],
  Install: ["WantedBy"],
};

Deno.test("release: unit files, structurally", async () => {
  const controller = (await readDenoJson(ROOT)).permissions!.controller!;
  for (
    const [file, program, config] of [
      ["grid.service", "grid", "grid.yaml"],
      ["gridw.service", "gridw", "gridw.yaml"],
    ] as const
  ) {
    const u = parseUnit(
      await Deno.readTextFile(join(RELEASE_SOURCES, file)),
      file,
    );
    assert.deepEqual([...u.keys()], ["Unit", "Service", "Install"], file);
    assert.ok(value(u, "Unit", "Description"), `${file}: Description`);
    assert.match(value(u, "Unit", "After") ?? "", /network-online\.target/);
    assert.equal(
      value(u, "Service", "ExecStart"),
      `/opt/grid/bin/${program} -c /etc/grid/${config}`,
    );
    assert.equal(value(u, "Service", "Restart"), "on-failure");
    assert.equal(value(u, "Service", "KillMode"), "mixed");
    // A bad config (exit 2) or command line (3) is not restarted over and over.
    assert.equal(value(u, "Service", "RestartPreventExitStatus"), "2 3");
    assert.equal(value(u, "Install", "WantedBy"), "multi-user.target");
    assert.equal(
      value(u, "Service", "MemoryDenyWriteExecute"),
      undefined,
      "V8 needs W+X pages",
    );
    for (const [section, entries] of u) {
      for (const [k, v] of entries) {
        assert.ok(KNOWN[section]?.includes(k), `${file}: [${section}] ${k}`);
        if (BOOLEAN.has(k)) assert.match(v, /^(yes|no)$/, `${file}: ${k}=${v}`);
      }
    }
  }
  const grid = parseUnit(
    await Deno.readTextFile(join(RELEASE_SOURCES, "grid.service")),
    "grid.service",
  );
  assert.equal(value(grid, "Service", "User"), "grid");
  assert.equal(value(grid, "Service", "Group"), "grid");
  assert.equal(value(grid, "Service", "StateDirectory"), "grid");
  assert.equal(value(grid, "Service", "ProtectSystem"), "strict");
  assert.equal(value(grid, "Service", "NoNewPrivileges"), "yes");
  assert.equal(value(grid, "Service", "CapabilityBoundingSet"), "");
  // grid writes only /tmp (systemd gives it a private one) and its state
  // dir (the bootstrap admin token beside the store), both by its permissions.
  assert.deepEqual(controller.write, ["/tmp", "/var/lib/grid"]);
  assert.equal(value(grid, "Service", "PrivateTmp"), "yes");

  const gridw = parseUnit(
    await Deno.readTextFile(join(RELEASE_SOURCES, "gridw.service")),
    "gridw.service",
  );
  assert.equal(
    value(gridw, "Service", "User"),
    undefined,
    "gridw runs as root",
  );
  for (
    const k of [
      "ProtectSystem",
      "NoNewPrivileges",
      "RestrictSUIDSGID",
      "ProtectKernelModules",
    ]
  ) {
    assert.equal(
      value(gridw, "Service", k),
      undefined,
      `gridw: ${k} would break apt or rke2`,
    );
  }
});

// ---- install.sh ----

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("release: install.sh --prefix installs into a temp root and keeps configs", async () => {
  await withTemp(async (tmp) => {
    const { dir } = await standInRelease(tmp);
    const root = join(tmp, "root");
    const install = (...args: string[]) =>
      run(join(dir, "install.sh"), ["--prefix", root, ...args]);

    const first = await install(
      "--node-name",
      "web-01",
      "--nats-url",
      "nats://ctl-1:4222",
    );
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /release files match SHA256SUMS/);
    assert.match(first.stdout, /not creating the user grid/);

    const bin = join(root, "opt/grid/bin");
    for (const b of ["grid", "gridw", "gridc", "nats-server"]) {
      assert.equal(mode(join(bin, b)), 0o755, b);
      assert.equal(
        await sha256File(join(bin, b)),
        await sha256File(join(dir, b)),
        b,
      );
    }
    assert.ok(await exists(join(bin, "release.json")));
    for (const b of ["grid", "gridw", "gridc"]) {
      const link = join(root, "usr/local/bin", b);
      assert.equal(await Deno.readLink(link), `../../../opt/grid/bin/${b}`);
      assert.equal(
        await Deno.realPath(link),
        await Deno.realPath(join(bin, b)),
      );
      const v = await run(link, ["--version"]);
      assert.match(v.stdout, new RegExp(`^${b} ${VERSION}`));
    }
    assert.ok(!(await exists(join(root, "usr/local/bin/nats-server"))));
    assert.equal(mode(join(root, "etc/grid")), 0o750);
    assert.equal(mode(join(root, "var/lib/grid")), 0o750);
    assert.ok((await Deno.stat(join(root, "opt/grid/rke2"))).isDirectory);
    for (const u of ["grid.service", "gridw.service"]) {
      assert.equal(
        await Deno.readTextFile(join(root, "etc/systemd/system", u)),
        await Deno.readTextFile(join(dir, u)),
      );
    }
    const gridYaml = join(root, "etc/grid/grid.yaml");
    assert.equal(
      await Deno.readTextFile(gridYaml),
      await Deno.readTextFile(join(dir, "grid.yaml")),
    );
    assert.equal(mode(gridYaml), 0o640);
    const gridwYaml = join(root, "etc/grid/gridw.yaml");
    const w = parseConfig(
      await Deno.readTextFile(gridwYaml),
      gridwYaml,
      WorkerConfig,
    );
    assert.equal(w.nats.name, "web-01");
    assert.deepEqual(w.nats.client.urls, ["nats://ctl-1:4222"]);

    // Again, over an edited config and someone else's gridc: both are kept.
    await Deno.writeTextFile(gridYaml, "# mine\n", { append: true });
    const mine = await Deno.readTextFile(gridYaml);
    const gridwBefore = await Deno.readTextFile(gridwYaml);
    await Deno.remove(join(root, "usr/local/bin/gridc"));
    await Deno.writeTextFile(join(root, "usr/local/bin/gridc"), "#!/bin/sh\n");
    const second = await install("--node-name", "other");
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /kept .*etc\/grid\/grid\.yaml/);
    assert.match(second.stderr, /kept .*usr\/local\/bin\/gridc/);
    assert.equal(await Deno.readTextFile(gridYaml), mine);
    assert.equal(await Deno.readTextFile(gridwYaml), gridwBefore);
    assert.equal(
      await Deno.readTextFile(join(root, "usr/local/bin/gridc")),
      "#!/bin/sh\n",
    );

    // Bad input and a tampered release are refused before anything is written.
    const badName = await install("--node-name", "no spaces");
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /node name "no spaces" is not usable/);
    const badUrl = await install("--nats-url", "nats://a|b");
    assert.equal(badUrl.code, 1);
    const unknown = await install("--force");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown argument: --force/);
    await Deno.writeTextFile(join(dir, "gridw"), "#!/bin/sh\necho evil\n");
    const tampered = await install();
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, /do not match SHA256SUMS/);
    assert.notEqual(
      await Deno.readTextFile(join(bin, "gridw")),
      "#!/bin/sh\necho evil\n",
    );

    const help = await run(join(dir, "install.sh"), ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--prefix DIR/);

    // systemd's own check of the units as installed, where systemd-analyze is.
    const analyze = which("systemd-analyze");
    const systemUnits = "/usr/lib/systemd/system";
    if (!analyze || !(await exists(join(systemUnits, "sysinit.target")))) {
      console.warn(
        "systemd-analyze or systemd's units not here: units checked structurally only",
      );
      return;
    }
    // verify --root needs systemd's own units (sysinit.target …) in the root.
    await Deno.mkdir(join(root, "usr/lib/systemd"), { recursive: true });
    const cp = await run("cp", [
      "-a",
      systemUnits,
      join(root, "usr/lib/systemd/"),
    ]);
    assert.equal(cp.code, 0, cp.stderr);
    const verify = await run(analyze, [
      "verify",
      `--root=${root}`,
      "grid.service",
      "gridw.service",
    ]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.equal((verify.stdout + verify.stderr).trim(), "", "no warnings");
  });
});

Deno.test("release: install.sh passes shellcheck", async () => {
  const shellcheck = which("shellcheck");
  const syntax = await run("sh", ["-n", join(RELEASE_SOURCES, "install.sh")]);
  assert.equal(syntax.code, 0, syntax.stderr);
  if (!shellcheck) {
    return console.warn("shellcheck not here: syntax checked only");
  }
  const out = await run(shellcheck, [
    "--shell=sh",
    join(RELEASE_SOURCES, "install.sh"),
  ]);
  assert.equal(out.code, 0, out.stdout);
});

// ---- the real build, where it can work ----

function localRuntime(): boolean {
  if (Deno.env.get("DENORT_BIN")) return true;
  try {
    const info = new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const denoDir = JSON.parse(dec.decode(info.stdout)).denoDir;
    const { cache } = runtimeLocation({
      target: TARGET,
      denoVersion: Deno.version.deno,
      denoDir,
    });
    return Deno.statSync(cache).isFile;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "release: deno task build compiles three binaries that say their versions",
  ignore: !localRuntime(),
  fn: async () => {
    await withTemp(async (tmp) => {
      const out = join(tmp, "dist");
      const build = await run(Deno.execPath(), [
        "run",
        "-A",
        "scripts/build.ts",
        "--out",
        out,
      ], {
        env: Deno.env.get("DENORT_BIN")
          ? { DENORT_BIN: Deno.env.get("DENORT_BIN")! }
          : {},
      });
      assert.equal(build.code, 0, build.stderr);
      const dir = join(out, releaseName(VERSION, TARGET));
      for (const p of await programs()) {
        const v = await run(join(dir, p.name), ["--version"]);
        assert.equal(v.code, 0, v.stderr);
        assert.match(v.stdout, new RegExp(`^${p.name} ${VERSION}\\b`));
        assert.ok(v.stdout.includes(`deno ${Deno.version.deno}`), v.stdout);
      }
      assert.ok(
        await exists(join(out, `${releaseName(VERSION, TARGET)}.tar.gz`)),
      );
    });
  },
});

/** Whether `hay` holds `needle` somewhere. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (
    let i = hay.indexOf(needle[0]!);
    i >= 0 && i + needle.length <= hay.length;
    i = hay.indexOf(needle[0]!, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}
