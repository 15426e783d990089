import assert from "node:assert/strict";
import { createExec } from "./exec.ts";
import {
  PACKAGE_MANAGERS,
  packageBackend,
  type PackageManager,
} from "./package.ts";
import { parseInfo, parseList } from "./package_argv.ts";
import { runAction } from "./run.ts";
import { assertRefused, call } from "./sys_testing.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";

const PATHS = {
  "apt-get": "/t/apt-get",
  dnf: "/t/dnf",
  yum: "/t/yum",
  apk: "/t/apk",
};
const HELPERS = { "dpkg-query": "/t/dpkg-query", "apt-cache": "/t/apt-cache" };
const pkg = (pm: PackageManager) => packageBackend(PATHS, pm, HELPERS);
const KEEP = [
  "-o",
  "Dpkg::Options::=--force-confdef",
  "-o",
  "Dpkg::Options::=--force-confold",
];
const DEB = { DEBIAN_FRONTEND: "noninteractive" };
const FMT = "--showformat=${db:Status-Abbrev}\\t${Package}\\t${Version}\\n";

function run(
  pm: PackageManager,
  action: string,
  params: Record<string, string>,
  reply: Reply = {},
) {
  const exec = recordingExec(reply);
  return runAction(
    { package: pkg(pm) },
    { backend: "package", action, params },
    fakeContext({ exec }),
  ).then((o) => ({ ...o, calls: exec.calls }));
}

type Row = [string, Record<string, string>, string[]];

const TABLES: Record<PackageManager, Row[]> = {
  "apt-get": [
    ["install", { name: "nginx" }, [
      "/t/apt-get",
      "-y",
      "-q",
      ...KEEP,
      "install",
      "--",
      "nginx",
    ]],
    ["install", { name: "nginx", version: "1.22.1-9+deb12u1" }, [
      "/t/apt-get",
      "-y",
      "-q",
      ...KEEP,
      "install",
      "--",
      "nginx=1.22.1-9+deb12u1",
    ]],
    ["remove", { name: "g++" }, [
      "/t/apt-get",
      "-y",
      "-q",
      "remove",
      "--",
      "g++",
    ]],
    ["update", {}, ["/t/apt-get", "-y", "-q", "update"]],
    ["upgrade", {}, ["/t/apt-get", "-y", "-q", ...KEEP, "upgrade"]],
    ["info", { name: "nginx" }, ["/t/dpkg-query", "--status", "--", "nginx"]],
    ["list", {}, ["/t/dpkg-query", "--show", FMT]],
    ["list", { pattern: "libc6*" }, [
      "/t/dpkg-query",
      "--show",
      FMT,
      "--",
      "libc6*",
    ]],
    ["search", { name: "nginx" }, ["/t/apt-cache", "search", "--", "nginx"]],
  ],
  dnf: [
    ["install", { name: "nginx" }, ["/t/dnf", "install", "-y", "--", "nginx"]],
    ["install", { name: "nginx", version: "1.20.1-14.el9" }, [
      "/t/dnf",
      "install",
      "-y",
      "--",
      "nginx-1.20.1-14.el9",
    ]],
    ["remove", { name: "NetworkManager" }, [
      "/t/dnf",
      "remove",
      "-y",
      "--",
      "NetworkManager",
    ]],
    ["update", {}, ["/t/dnf", "check-update"]],
    ["upgrade", {}, ["/t/dnf", "upgrade", "-y"]],
    ["info", { name: "nginx" }, ["/t/dnf", "info", "--", "nginx"]],
    ["list", {}, ["/t/dnf", "list", "installed"]],
    ["list", { pattern: "py*" }, ["/t/dnf", "list", "installed", "--", "py*"]],
    ["search", { name: "nginx" }, ["/t/dnf", "search", "--", "nginx"]],
  ],
  yum: [
    ["install", { name: "nginx", version: "1:1.20.1" }, [
      "/t/yum",
      "install",
      "-y",
      "--",
      "nginx-1:1.20.1",
    ]],
    ["remove", { name: "nginx" }, ["/t/yum", "remove", "-y", "--", "nginx"]],
    ["update", {}, ["/t/yum", "check-update"]],
    ["upgrade", {}, ["/t/yum", "upgrade", "-y"]],
    ["info", { name: "nginx" }, ["/t/yum", "info", "--", "nginx"]],
    ["list", {}, ["/t/yum", "list", "installed"]],
    ["search", { name: "nginx" }, ["/t/yum", "search", "--", "nginx"]],
  ],
  apk: [
    ["install", { name: "nginx" }, ["/t/apk", "add", "--", "nginx"]],
    ["install", { name: "nginx", version: "1.24.0-r7" }, [
      "/t/apk",
      "add",
      "--",
      "nginx=1.24.0-r7",
    ]],
    ["remove", { name: "nginx" }, ["/t/apk", "del", "--", "nginx"]],
    ["update", {}, ["/t/apk", "update"]],
    ["upgrade", {}, ["/t/apk", "upgrade"]],
    ["info", { name: "nginx" }, ["/t/apk", "info", "--", "nginx"]],
    ["list", {}, ["/t/apk", "list", "--installed"]],
    ["list", { pattern: "ngin?" }, [
      "/t/apk",
      "list",
      "--installed",
      "--",
      "ngin?",
    ]],
    ["search", { name: "nginx" }, ["/t/apk", "search", "--", "nginx"]],
  ],
};

Deno.test("package - argv of every action on every manager, run once", async () => {
  for (const pm of PACKAGE_MANAGERS) {
    const b = pkg(pm);
    assert.deepEqual(b.requires, [PATHS[pm]]);
    assert.deepEqual(Object.keys(b.actions), [
      "install",
      "remove",
      "update",
      "upgrade",
      "info",
      "list",
      "search",
    ]);
    const covered = new Set<string>();
    for (const [action, params, argv] of TABLES[pm]) {
      const r = await call(b, action, params, { stdout: "ok\n" });
      const want = pm === "apt-get" ? { argv, env: DEB } : { argv };
      assert.deepEqual(
        r.calls,
        [want],
        `${pm} ${action} ${JSON.stringify(params)}`,
      );
      covered.add(action);
    }
    assert.equal(covered.size, 7, `${pm} covers every action`);
  }
});

Deno.test("package - list reads each manager's answer; an empty match is an answer", async () => {
  assert.deepEqual(
    parseList(
      "apt-get",
      "ii \tbash\t5.2.15-2+b8\nun \tlibc6-amd64\t\nrc \told\t1.0\nhi \theld\t2\n",
    ),
    [{ name: "bash", version: "5.2.15-2+b8" }, { name: "held", version: "2" }],
  );
  assert.deepEqual(
    parseList(
      "dnf",
      "Installed Packages\nbash.x86_64      5.1.8-9.el9     @baseos\nnginx.x86_64  1:1.20.1-14.el9  @appstream\n",
    ),
    [{ name: "bash", version: "5.1.8-9.el9" }, {
      name: "nginx",
      version: "1:1.20.1-14.el9",
    }],
  );
  assert.deepEqual(
    parseList(
      "apk",
      "busybox-1.36.1-r15 x86_64 {busybox} (GPL-2.0-only) [installed]\nlibc-utils-0.7.2-r5 x86_64 {libc-dev} (BSD) [installed]\n",
    ),
    [{ name: "busybox", version: "1.36.1-r15" }, {
      name: "libc-utils",
      version: "0.7.2-r5",
    }],
  );

  const r = await call(pkg("apt-get"), "list", {}, {
    stdout: "ii \tbash\t5.2\n",
  });
  assert.deepEqual(r.data, [{ name: "bash", version: "5.2" }]);
  assert.equal(r.output, "bash\t5.2");
  assert.equal(r.calls.length, 1);

  const none = await run("apt-get", "list", { pattern: "zz*" }, {
    code: 1,
    stderr: "dpkg-query: no packages found matching zz*\n",
  });
  assert.equal(none.status, "success", none.error);
  assert.equal(none.output, "no installed package matches");

  const broken = await run("apt-get", "list", {}, {
    code: 2,
    stderr: "dpkg-query: error: db\n",
  });
  assert.equal(broken.status, "failed");
});

Deno.test("package - info: dpkg-query first, apt-cache for a package not installed", async () => {
  const installed = await call(pkg("apt-get"), "info", { name: "bash" }, {
    stdout:
      "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b8\n",
  });
  assert.deepEqual(installed.data, {
    name: "bash",
    installed: true,
    version: "5.2.15-2+b8",
  });
  assert.equal(installed.calls.length, 1);

  const notInstalled = await call(
    pkg("apt-get"),
    "info",
    { name: "hello" },
    (req) =>
      req.argv[0] === "/t/dpkg-query"
        ? { code: 1, stderr: "package 'hello' is not installed" }
        : { stdout: "Package: hello\nVersion: 2.10-3\n" },
  );
  assert.deepEqual(notInstalled.data, {
    name: "hello",
    installed: false,
    version: "2.10-3",
  });
  assert.deepEqual(notInstalled.calls.map((c) => c.argv[0]), [
    "/t/dpkg-query",
    "/t/apt-cache",
  ]);

  const unknown = await run("apt-get", "info", { name: "nosuch" }, {
    code: 100,
    stderr: "E: No packages found",
  });
  assert.equal(unknown.status, "failed");
  assert.match(
    unknown.error ?? "",
    /^apt-cache show nosuch failed \(exit code 100\): E: No packages found/,
  );
  assert.equal(unknown.calls.length, 2);

  assert.deepEqual(
    parseInfo(
      "dnf",
      "nginx",
      "Installed Packages\nName : nginx\nVersion : 1.20.1\nRelease : 14.el9\n",
      0,
    ),
    { name: "nginx", installed: true, version: "1.20.1-14.el9" },
  );
  assert.deepEqual(
    parseInfo(
      "apk",
      "nginx",
      "nginx-1.24.0-r7 description:\nHTTP server\n\nnginx-1.24.0-r7 installed size:\n1 MiB\n",
      0,
    ),
    { name: "nginx", installed: true, version: "1.24.0-r7" },
  );
});

Deno.test("package - failures: locks retry, unknown packages do not; dnf's 100 is success", async () => {
  const locked = await run("apt-get", "install", { name: "nginx" }, {
    code: 100,
    stderr: "E: Could not get lock /var/lib/dpkg/lock-frontend",
  });
  assert.equal(locked.status, "failed");
  assert.match(locked.error ?? "", /locked by another process/);
  assert.equal(locked.retryable, true);

  const missing = await run("dnf", "install", { name: "nope" }, {
    code: 1,
    stderr: "No match for argument: nope\nError: Unable to find a match: nope",
  });
  assert.equal(missing.status, "failed");
  assert.match(
    missing.error ?? "",
    /^dnf install -y nope failed \(exit code 1\): Error: Unable to find a match/,
  );
  assert.equal(missing.retryable, false);

  for (const pm of ["dnf", "yum"] as const) {
    const avail = await run(pm, "update", {}, {
      code: 100,
      stdout: "bash.x86_64 5.2 baseos\n",
    });
    assert.equal(avail.status, "success", avail.error);
    const bad = await run(pm, "update", {}, {
      code: 1,
      stderr: "Error: Failed to download metadata",
    });
    assert.equal(bad.status, "failed");
  }
  const apk100 = await run("apk", "update", {}, { code: 100 });
  assert.equal(apk100.status, "failed");
});

Deno.test("package - names and versions are held to each manager's rules", () => {
  const everywhere: [string, Record<string, string>, RegExp][] = [
    ["install", {}, /param "name": is required/],
    ["install", { name: "-y" }, /param "name": "-y" is not an? /],
    ["install", { name: "--allow-unauthenticated" }, /param "name"/],
    ["install", { name: "nginx; rm -rf /" }, /param "name"/],
    ["install", { name: "nginx curl" }, /param "name"/],
    ["install", { name: "nginx\n-y" }, /param "name"/],
    ["install", { name: "../x" }, /param "name"/],
    ["install", { name: "nginx", version: "-1" }, /param "version"/],
    ["install", { name: "nginx", version: "1.0 -y" }, /param "version"/],
    [
      "install",
      { name: "nginx", options: "x" },
      /param "options": is not a param/,
    ],
    [
      "remove",
      { name: "nginx", version: "1" },
      /param "version": is not a param/,
    ],
    ["list", { pattern: "-x" }, /param "pattern"/],
    ["list", { pattern: "a b" }, /param "pattern"/],
    ["list", { pattern: "a;b" }, /param "pattern"/],
    ["search", { name: "--names-only" }, /param "name"/],
    ["update", { name: "x" }, /param "name": is not a param/],
  ];
  for (const pm of PACKAGE_MANAGERS) assertRefused(pkg(pm), everywhere);
  assertRefused(pkg("apt-get"), [
    ["install", { name: "Nginx" }, /"Nginx" is not a Debian package name/],
    ["install", { name: "x" }, /param "name"/],
    [
      "install",
      { name: "nginx", version: "1.20.1-14.el9_2" },
      /not a Debian version/,
    ],
  ]);
  assertRefused(pkg("dnf"), [
    ["install", { name: ".hidden" }, /is not an RPM package name/],
    ["install", { name: "nginx", version: "1.0-" }, /is not an RPM version/],
  ]);
  assertRefused(pkg("apk"), [
    [
      "install",
      { name: "nginx", version: "1.24.0-14" },
      /is not an Alpine version/,
    ],
  ]);
  // What one manager takes, another may not: each form judges by its own.
  assert.equal(
    pkg("dnf").actions.install!.params.safeParse({ name: "NetworkManager" })
      .success,
    true,
  );
});

/**
 * The package the real test installs and removes: tiny, depending on libc6
 * only, and not `hello`, which tests/sandbox_test.ts installs through apt
 * and may be doing at this very moment in a parallel run.
 */
const REAL = "figlet";

async function dpkgStatus(name: string): Promise<string> {
  const out = await new Deno.Command("dpkg-query", {
    args: ["--show", "--showformat=${db:Status-Abbrev}", "--", name],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Why the real apt-get test cannot run here, or undefined when it can. */
async function aptUnusable(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "not running as root";
  try {
    await Deno.stat("/usr/bin/apt-get");
  } catch {
    return "apt-get is not installed";
  }
  const out = await new Deno.Command("apt-cache", {
    args: ["policy", REAL],
    stdout: "piped",
  }).output().catch(() => undefined);
  const text = out ? new TextDecoder().decode(out.stdout) : "";
  if (!/Candidate: (?!\(none\))/.test(text)) {
    return `Debian's package lists have no '${REAL}' (run apt-get update)`;
  }
  if (/Installed: (?!\(none\))/.test(text)) {
    return `'${REAL}' is already installed here`;
  }
  return undefined;
}

Deno.test(`package - a real apt-get: info, install, list, remove Debian's ${REAL}`, async () => {
  const skip = await aptUnusable();
  if (skip) {
    console.log(`skipped: ${skip}`);
    return;
  }
  const b = packageBackend(
    {
      "apt-get": "/usr/bin/apt-get",
      dnf: "/no/dnf",
      yum: "/no/yum",
      apk: "/no/apk",
    },
    "apt-get",
  );
  const ctx = fakeContext({ exec: createExec() });
  const act = async (action: string, params: Record<string, string>) => {
    // Another test's apt-get may hold dpkg's lock: wait for it, within 5 min.
    const deadline = Date.now() + 300_000;
    for (;;) {
      const r = await runAction({ package: b }, {
        backend: "package",
        action,
        params,
      }, ctx);
      if (r.status === "success") break;
      if (
        !/locked by another process/.test(r.error ?? "") ||
        Date.now() > deadline
      ) {
        assert.fail(`${action}: ${r.error}\n${r.output}`);
      }
      await new Promise((ok) => setTimeout(ok, 1000));
    }
    const def = b.actions[action]!;
    return def.data ? await def.run(def.params.parse(params), ctx) : undefined;
  };
  try {
    const before = await act("info", { name: REAL });
    assert.equal((before!.data as { installed: boolean }).installed, false);
    await act("install", { name: REAL });
    assert.equal(await dpkgStatus(REAL), "ii");
    const listed = await act("list", { pattern: REAL });
    assert.equal((listed!.data as { name: string }[])[0]?.name, REAL);
    const after = await act("info", { name: REAL });
    assert.equal((after!.data as { installed: boolean }).installed, true);
  } finally {
    await act("remove", { name: REAL });
  }
  assert.match(await dpkgStatus(REAL), /^(rc|un|)$/);
});
