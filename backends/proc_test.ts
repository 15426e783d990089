import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_BINARIES } from "../models/backend_table.ts";
import { permissionFlags } from "../tests/permissions.ts";
import {
  MAX_PROCESSES,
  procBackend,
  ProcCount,
  ProcFound,
  ProcList,
} from "./proc.ts";
import {
  ARGS_COLUMNS,
  parseArgs,
  parseStates,
  parseTable,
  STATE_COLUMNS,
  TABLE_COLUMNS,
  userNames,
} from "./proc_read.ts";
import { assertRefused, call } from "./sys_testing.ts";
import type { Reply } from "./testing.ts";
import { ActionError, type ExecRequest } from "./types.ts";

const PS = "/t/ps";
const ROOT = new URL("..", import.meta.url).pathname;

interface FakeProc {
  pid: number;
  uid: number;
  stat: string;
  pcpu: string;
  pmem: string;
  rssKb: number;
  comm: string;
  /** What `args` prints; absent: it exited before the second ps. */
  args?: string;
}

/** One line as ps prints TABLE_COLUMNS: numbers right-aligned, comm last. */
function psLine(p: FakeProc): string {
  return [
    String(p.pid).padStart(7),
    String(p.uid).padStart(5),
    p.stat.padEnd(4),
    p.pcpu.padStart(4),
    p.pmem.padStart(4),
    String(p.rssKb).padStart(5),
    p.comm,
  ].join(" ");
}

/** A ps that answers each of the backend's three argv shapes from `procs`. */
function fakePs(procs: FakeProc[]): Reply {
  return (req: ExecRequest) => {
    const argv = req.argv;
    const columns = argv[argv.indexOf("-o") + 1];
    if (columns === TABLE_COLUMNS) {
      return { stdout: procs.map(psLine).join("\n") + "\n" };
    }
    if (columns === STATE_COLUMNS) {
      return { stdout: procs.map((p) => `${p.stat}\n`).join("") };
    }
    assert.equal(columns, ARGS_COLUMNS);
    const pids = argv[argv.indexOf("-p") + 1]!.split(",").map(Number);
    const lines = procs.filter((p) => pids.includes(p.pid) && p.args)
      .map((p) => `${String(p.pid).padStart(7)} ${p.args}\n`);
    // ps -p exits 1 when none of the processes is there any more.
    return lines.length ? { stdout: lines.join("") } : { code: 1 };
  };
}

const PROCS: FakeProc[] = [
  {
    pid: 42,
    uid: 33,
    stat: "R",
    pcpu: "50.0",
    pmem: "10.0",
    rssKb: 104858,
    comm: "nginx",
    args: "nginx: worker process",
  },
  {
    pid: 1,
    uid: 0,
    stat: "Ss",
    pcpu: "1.0",
    pmem: "1.0",
    rssKb: 10486,
    comm: "systemd",
    args: "/sbin/init",
  },
  {
    pid: 43,
    uid: 1234,
    stat: "Z",
    pcpu: "0.0",
    pmem: "0.0",
    rssKb: 0,
    comm: "Nginx (x) y",
    args: "[Nginx (x) y] <defunct>",
  },
  {
    pid: 7,
    uid: 0,
    stat: "I<",
    pcpu: "0.0",
    pmem: "0.0",
    rssKb: 0,
    comm: "kworker/0:1-events",
    args: "[kworker/0:1-events]",
  },
  {
    pid: 99,
    uid: 0,
    stat: "T",
    pcpu: "0.0",
    pmem: "0.0",
    rssKb: 0,
    comm: "long",
    args: `/bin/long ${"x".repeat(300)}`,
  },
];

/** A passwd file in a temp dir, for the backend's uid → name lookups. */
async function withPasswd(
  fn: (passwd: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "grid-proc-" });
  try {
    const passwd = join(dir, "passwd");
    await Deno.writeTextFile(
      passwd,
      "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www:/var/www:/usr/sbin/nologin\n",
    );
    await fn(passwd);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const backend = (passwd: string) => procBackend({ ps: PS }, { passwd });
const pids = (data: unknown) => (data as { pid: number }[]).map((p) => p.pid);

Deno.test("proc - ps lines are parsed whatever the command name holds", () => {
  const users = new Map([[0, "root"]]);
  const cases: [string, Record<string, unknown>][] = [
    [
      "   4242     0 S<Ll  1.5  0.3  2048 a) b (c",
      { pid: 4242, name: "a) b (c", state: "S", status: "sleeping" },
    ],
    // A name that starts with spaces keeps them: one space separates columns.
    ["      5  1000 R    250  0.0     0   two  spaces", {
      name: "  two  spaces",
      user: "1000",
      uid: 1000,
      cpu_percent: 250,
    }],
    ["      6     0 Z     0.0  0.0     0 ", { name: "", status: "zombie" }],
    ["      8     0 D     0.0 12.5  1000", {
      name: "",
      status: "disk-sleep",
      mem_percent: 12.5,
      rss_bytes: 1024000,
    }],
    [
      "      9     0 I<    0.0  0.0     0 kworker/R-rcu_gp",
      { user: "root", status: "idle" },
    ],
  ];
  for (const [line, want] of cases) {
    const [got] = parseTable(line + "\n", users);
    assert.ok(got, line);
    for (const [k, v] of Object.entries(want)) {
      assert.deepEqual(got[k as keyof typeof got], v, `${line}: ${k}`);
    }
  }
  assert.deepEqual(
    pids(parseTable(" 9 0 S 0 0 0 b\n 2 0 S 0 0 0 a\n", users)),
    [
      2,
      9,
    ],
  );
  for (const bad of ["PID UID STAT", "12 root S 0.0 0.0 0 x", "garbage"]) {
    assert.throws(() => parseTable(bad, users), ActionError, bad);
  }
  assert.deepEqual(parseStates("S<Ll\nR+\n\nZ\n"), ["S", "R", "Z"]);
  assert.deepEqual(
    parseArgs("   12 /bin/a  b\n 13 [kthreadd]\n 14\n"),
    new Map([[12, "/bin/a  b"], [13, "[kthreadd]"], [14, ""]]),
  );
  assert.deepEqual(
    userNames("a:x:5:5::/:/bin/sh\nbad\nb:x:5:5::/:/bin/sh\nc:x:z:1::/:/x\n"),
    new Map([[5, "a"]]),
  );
});

Deno.test("proc - list runs ps once: user, cpu and memory shares, status", async () => {
  await withPasswd(async (passwd) => {
    const b = backend(passwd);
    const r = await call(b, "list", {}, fakePs(PROCS));
    assert.deepEqual(r.calls, [
      { argv: [PS, "-e", "-ww", "-o", TABLE_COLUMNS] },
    ]);
    assert.deepEqual(r.data, [
      {
        pid: 1,
        name: "systemd",
        user: "root",
        cpu_percent: 1,
        mem_percent: 1,
        status: "sleeping",
      },
      {
        pid: 7,
        name: "kworker/0:1-events",
        user: "root",
        cpu_percent: 0,
        mem_percent: 0,
        status: "idle",
      },
      {
        pid: 42,
        name: "nginx",
        user: "www-data",
        cpu_percent: 50,
        mem_percent: 10,
        status: "running",
      },
      {
        pid: 43,
        name: "Nginx (x) y",
        user: "1234",
        cpu_percent: 0,
        mem_percent: 0,
        status: "zombie",
      },
      {
        pid: 99,
        name: "long",
        user: "root",
        cpu_percent: 0,
        mem_percent: 0,
        status: "stopped",
      },
    ]);
    assert.match(
      r.output,
      /^\s+42 www-data\s+50\.0\s+10\.0 running\s+nginx$/m,
    );

    const byName = await call(b, "list", { name: "NGINX" }, fakePs(PROCS));
    assert.deepEqual(pids(byName.data), [42, 43]);
    const byUser = await call(
      b,
      "list",
      { user: "root", name: "o" },
      fakePs(PROCS),
    );
    assert.deepEqual(pids(byUser.data), [7, 99]);
    const none = await call(b, "list", { user: "nobody" }, fakePs(PROCS));
    assert.deepEqual(none.data, []);
    assert.equal(none.output, "no matching processes");
  });
});

Deno.test("proc - top sorts by cpu and takes count; count reads states only", async () => {
  await withPasswd(async (passwd) => {
    const b = backend(passwd);
    const top = await call(b, "top", { count: "2" }, fakePs(PROCS));
    assert.deepEqual(pids(top.data), [42, 1]);
    assert.equal(top.calls.length, 1);
    const all = await call(b, "top", {}, fakePs(PROCS));
    assert.equal((all.data as unknown[]).length, 5);

    const count = await call(b, "count", {}, fakePs(PROCS));
    assert.deepEqual(count.calls, [
      { argv: [PS, "-e", "-ww", "-o", "stat="] },
    ]);
    assert.deepEqual(count.data, {
      total: 5,
      running: 1,
      sleeping: 2,
      zombie: 1,
      other: 1,
    });
    assert.match(count.output, /^5 processes: 1 running/);
  });
});

Deno.test("proc - find asks ps for the arguments of the matches only", async () => {
  await withPasswd(async (passwd) => {
    const b = backend(passwd);
    const found = await call(b, "find", { name: "ngin" }, fakePs(PROCS));
    assert.deepEqual(found.calls.map((c) => c.argv), [
      [PS, "-e", "-ww", "-o", TABLE_COLUMNS],
      [PS, "-ww", "-p", "42,43", "-o", "pid=,args="],
    ]);
    assert.deepEqual(found.data, [
      {
        pid: 42,
        name: "nginx",
        user: "www-data",
        cmdline: "nginx: worker process",
      },
      {
        pid: 43,
        name: "Nginx (x) y",
        user: "1234",
        cmdline: "[Nginx (x) y] <defunct>",
      },
    ]);
    assert.match(found.output, /^42 www-data nginx: worker process$/m);

    const long = await call(b, "find", { name: "long" }, fakePs(PROCS));
    const cmd = (long.data as { cmdline: string }[])[0]!.cmdline;
    assert.equal(cmd.length, 203);
    assert.ok(cmd.startsWith("/bin/long xxx") && cmd.endsWith("x..."));

    // Nothing matched: no second ps.
    const absent = await call(b, "find", { name: "absent" }, fakePs(PROCS));
    assert.deepEqual(absent.data, []);
    assert.equal(absent.calls.length, 1);

    // nginx exited between the two runs of ps: it is not reported.
    const gone = PROCS.map((p) => p.pid === 42 ? { ...p, args: undefined } : p);
    const r = await call(b, "find", { name: "nginx" }, fakePs(gone));
    assert.deepEqual(pids(r.data), [43]);
    const allGone = PROCS.map((p) => ({ ...p, args: undefined }));
    const r2 = await call(b, "find", { name: "nginx" }, fakePs(allGone));
    assert.deepEqual(r2.data, []);
    assert.equal(r2.output, "no matching processes");
  });
});

Deno.test("proc - answers stop at 500 processes and say so", async () => {
  const many = Array.from({ length: MAX_PROCESSES + 3 }, (_, i) => ({
    pid: 1000 + i,
    uid: 0,
    stat: "S",
    pcpu: "0.0",
    pmem: "0.0",
    rssKb: 0,
    comm: "w",
    args: "w",
  }));
  await withPasswd(async (passwd) => {
    const r = await call(backend(passwd), "list", {}, fakePs(many));
    assert.equal((r.data as unknown[]).length, MAX_PROCESSES);
    assert.match(r.output, /\(3 more not shown\)$/);
    const f = await call(backend(passwd), "find", { name: "w" }, fakePs(many));
    assert.equal((f.data as unknown[]).length, MAX_PROCESSES);
    const asked = f.calls[1]!.argv[3]!.split(",");
    assert.equal(asked.length, MAX_PROCESSES, "args only of those shown");
  });
});

Deno.test("proc - a failing or truncated ps fails the task", async () => {
  await withPasswd(async (passwd) => {
    const b = backend(passwd);
    await assert.rejects(
      call(b, "list", {}, { code: 1, stderr: "ps: bad option\n" }),
      (e: unknown) =>
        e instanceof ActionError && /^ps failed .*bad option/.test(e.message),
    );
    await assert.rejects(
      call(b, "count", {}, { stdout: "S\n", truncated: true, dropped: 9 }),
      (e: unknown) =>
        e instanceof ActionError && /output cap/.test(e.message) &&
        !e.retryable,
    );
    await assert.rejects(
      call(b, "top", {}, { stdout: "not a ps line\n" }),
      /unexpected ps output: not a ps line/,
    );
  });
});

Deno.test("proc - requires ps, at the configured path", () => {
  assert.deepEqual(procBackend({ ps: PS }).requires, [PS]);
});

Deno.test("proc - bad params are refused", () => {
  assertRefused(procBackend({ ps: PS }), [
    ["list", { user: "-x" }, /param "user": "-x" is not a valid user/],
    ["list", { user: "root; ls" }, /param "user"/],
    ["list", { name: "a\nb" }, /param "name": must be 1 to 64/],
    ["list", { name: "" }, /param "name"/],
    ["list", { pid: "1" }, /param "pid": is not a param/],
    ["top", { count: "0" }, /param "count": must be between 1 and 100/],
    ["top", { count: "101" }, /param "count"/],
    ["top", { count: "x" }, /param "count": "x" is not a whole number/],
    ["find", {}, /param "name": is required/],
    ["count", { all: "1" }, /param "all": is not a param/],
  ]);
});

/**
 * Runs every action with the real exec and ps in a `deno run` under the
 * worker's permission set from deno.json (no --allow-all, so no /proc).
 */
const WORKER_SCRIPT = `
import { procBackend } from "${ROOT}backends/proc.ts";
import { createExec } from "${ROOT}backends/exec.ts";
import { fakeContext } from "${ROOT}backends/testing.ts";
import { DEFAULT_BINARIES } from "${ROOT}models/backend_table.ts";
let procError = "";
try {
  await Deno.readTextFile("/proc/self/stat");
} catch (e) {
  procError = e instanceof Error ? e.name : String(e);
}
const b = procBackend(DEFAULT_BINARIES);
const ctx = fakeContext({ exec: createExec() });
const data = {};
const runs = [["list", {}], ["top", { count: "100" }], ["find", { name: "deno" }], ["count", {}]];
for (const [action, params] of runs) {
  const def = b.actions[action];
  data[action] = (await def.run(def.params.parse(params), ctx)).data;
}
console.log(JSON.stringify({ pid: Deno.pid, procError, data }));
`;

Deno.test("proc - under the worker's real grants, finds its own process through ps", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-proc-" });
  try {
    const script = join(dir, "probe.ts");
    await Deno.writeTextFile(script, WORKER_SCRIPT);
    const flags = permissionFlags("worker");
    assert.ok(!flags.includes("--allow-all") && !flags.includes("-A"));
    assert.ok(
      flags.some((f) =>
        f.startsWith("--allow-run=") && f.includes(DEFAULT_BINARIES.ps)
      ),
      "the worker may run ps",
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "--no-prompt",
        "--config",
        join(ROOT, "deno.json"),
        ...flags,
        script,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(r.procError, "NotCapable", "the premise: no /proc");

    const list = ProcList.parse(r.data.list);
    const me = list.find((p) => p.pid === r.pid);
    assert.ok(me, "its own pid is listed");
    assert.equal(me.name, "deno");
    assert.match(me.status, /^(running|sleeping)$/);
    const names = userNames(await Deno.readTextFile("/etc/passwd"));
    const uid = Deno.uid() ?? -1;
    assert.equal(me.user, names.get(uid) ?? String(uid));
    assert.ok(ProcList.parse(r.data.top).length > 0);
    const found = ProcFound.parse(r.data.find).find((p) => p.pid === r.pid);
    assert.ok(found, "find deno finds it");
    // Cut at 200 characters, long before the script's name.
    assert.ok(
      found.cmdline.startsWith(`${Deno.execPath()} run -q`),
      found.cmdline,
    );
    const count = ProcCount.parse(r.data.count);
    assert.ok(count.total > 0 && count.running >= 1, "ps itself runs");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
