import assert from "node:assert/strict";
import { permissionFlags } from "../tests/permissions.ts";
import { createExec } from "./exec.ts";
import { CHILD_PATH } from "./spawn.ts";
import { ActionError, type ExecResult } from "./types.ts";

const FIXTURES = new URL("../tests/fixtures/backends/", import.meta.url)
  .pathname;
const DENO = Deno.execPath();
const never = new AbortController().signal;

function fixture(name: string, ...args: string[]): string[] {
  return [DENO, "run", "--no-config", "-A", `${FIXTURES}${name}`, ...args];
}

/** Running means present and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${ms}ms waiting for ${what}`);
}

/** Waits for the fixture's "PARENT HELPER" pid file. */
function readPids(pidfile: string): Promise<number[]> {
  return until("the fixture's pid file", async () => {
    try {
      const text = await Deno.readTextFile(pidfile);
      return text.trim().split(" ").map(Number);
    } catch {
      return undefined;
    }
  });
}

/** Pids a test started; anything still running is killed by the last test. */
const leftovers: number[] = [];

async function rejects(p: Promise<unknown>, re: RegExp): Promise<ActionError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ActionError, `expected ActionError, got ${e}`);
    assert.match(e.message, re);
    return e;
  }
  assert.fail("expected a rejection");
}

Deno.test("exec - reports output and exit code", async () => {
  const exec = createExec();
  const ok = await exec({ argv: ["/bin/echo", "hello", "world"] }, never);
  assert.deepEqual(ok, {
    code: 0,
    signal: null,
    stdout: "hello world\n",
    stderr: "",
    truncated: false,
    dropped: 0,
  });
  const bad = await exec({ argv: ["/bin/false"] }, never);
  assert.equal(bad.code, 1);
  assert.equal(bad.signal, null);
});

Deno.test("exec - clears the environment and fixes PATH", async () => {
  const exec = createExec();
  const r = await exec({ argv: ["/usr/bin/env"], env: { FOO: "a b" } }, never);
  const vars = r.stdout.trim().split("\n").sort();
  assert.deepEqual(vars, ["FOO=a b", `PATH=${CHILD_PATH}`]);
  await rejects(
    exec({ argv: ["/usr/bin/env"], env: { PATH: "/tmp" } }, never),
    /PATH is fixed/,
  );
});

Deno.test("exec - stdin is empty", async () => {
  const r = await createExec()({ argv: ["/bin/cat"] }, never);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "");
});

Deno.test("exec - refuses bad requests before spawning", async () => {
  const exec = createExec();
  const e = await rejects(
    exec({ argv: ["echo", "hi"] }, never),
    /must be an absolute path/,
  );
  assert.equal(e.retryable, false);
  await rejects(exec({ argv: [] }, never), /argv is empty/);
  await rejects(exec({ argv: ["/bin/echo", "a\0b"] }, never), /NUL/);
  await rejects(
    exec({ argv: ["/bin/true"], env: { "A=B": "x" } }, never),
    /environment name/,
  );
});

Deno.test("exec - a missing program is a non-retryable failure", async () => {
  const e = await rejects(
    createExec()({ argv: ["/nonexistent/grid-tool"] }, never),
    /^Program not found: \/nonexistent\/grid-tool$/,
  );
  assert.equal(e.retryable, false);
});

Deno.test("exec - a script whose interpreter is missing says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-exec-" });
  try {
    const script = `${dir}/tool`;
    await Deno.writeTextFile(script, "#!/nonexistent/interpreter\n", {
      mode: 0o755,
    });
    const e = await rejects(
      createExec()({ argv: [script] }, never),
      /^Cannot start .*\/tool: its interpreter or a shared library is missing$/,
    );
    assert.equal(e.retryable, false);
    await Deno.chmod(script, 0o644);
    await rejects(
      createExec()({ argv: [script] }, never),
      /^Permission denied running .*\/tool: check that it is executable$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "exec - a program outside --allow-run is a non-retryable failure",
  permissions: { run: ["/bin/true"], read: true },
  fn: async () => {
    const e = await rejects(
      createExec()({ argv: ["/bin/false"] }, never),
      /^Not permitted to run \/bin\/false: .*--allow-run/,
    );
    assert.equal(e.retryable, false);
  },
});

Deno.test("exec - does not start when already aborted", async () => {
  const ctl = new AbortController();
  ctl.abort("cancelled");
  await rejects(
    createExec()({ argv: ["/bin/true"] }, ctl.signal),
    /Did not start \/bin\/true: cancelled/,
  );
});

Deno.test("exec - abort sends SIGTERM", async () => {
  const ctl = new AbortController();
  const started = Date.now();
  const pending = createExec()({ argv: ["/bin/sleep", "30"] }, ctl.signal);
  ctl.abort("timed out after 1s");
  const r = await pending;
  assert.equal(r.signal, "SIGTERM");
  assert.equal(r.code, null);
  assert.ok(Date.now() - started < 5000, "abort took too long");
});

Deno.test("exec - caps stdout and stderr together", async () => {
  const exec = createExec({ maxOutputBytes: 1000 });
  const r = await exec({ argv: fixture("noisy.ts", "800", "800") }, never);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.length + r.stderr.length, 1000);
  assert.equal(r.truncated, true);
  assert.equal(r.dropped, 600);

  const seq = await exec({ argv: ["/usr/bin/seq", "1", "100000"] }, never);
  assert.ok(seq.stdout.startsWith("1\n2\n3\n"));
  assert.equal(seq.stdout.length, 1000);
  assert.equal(seq.dropped, 588895 - 1000);
});

Deno.test("exec - default cap is 256 KiB", async () => {
  const r = await createExec()({ argv: fixture("noisy.ts", "300000") }, never);
  assert.equal(r.stdout.length, 262144);
  assert.equal(r.dropped, 300000 - 262144);
});

async function abortTree(
  mode: "group" | "escape",
  opts: { killPath?: string } = {},
): Promise<{ result: ExecResult; pids: number[]; ms: number }> {
  const dir = await Deno.makeTempDir({ prefix: "grid-exec-" });
  try {
    const pidfile = `${dir}/pids`;
    const ctl = new AbortController();
    const exec = createExec({ graceMs: 300, ...opts });
    const pending = exec(
      { argv: fixture("tree.ts", pidfile, mode) },
      ctl.signal,
    );
    let pids: number[] = [];
    try {
      pids = await readPids(pidfile);
      leftovers.push(...pids);
    } finally {
      ctl.abort("cancelled");
    }
    const started = Date.now();
    const result = await pending;
    return { result, pids, ms: Date.now() - started };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("exec - abort kills a helper that ignores SIGTERM", async () => {
  const { result, pids, ms } = await abortTree("group");
  assert.equal(result.signal, "SIGTERM");
  for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} runs`);
  assert.ok(ms < 4000, `abort took ${ms}ms`);
});

Deno.test("exec - abort kills a helper that left the process group", async () => {
  const { pids } = await abortTree("escape");
  for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} runs`);
});

Deno.test({
  name: "exec - without Deno.kill permission, kill(1) stops the tree",
  permissions: {
    run: [DENO, "/usr/bin/kill"],
    read: true,
    write: true,
    env: true,
  },
  fn: async () => {
    // Deno.kill needs unrestricted --allow-run (only its own pid is exempt);
    // the target is above any pid_max, so nothing could be hit anyway.
    assert.throws(() => Deno.kill(2 ** 23, "SIGCONT"), Deno.errors.NotCapable);
    const { pids } = await abortTree("group", { killPath: "/usr/bin/kill" });
    killedByKillPath.push(...pids);
  },
});

/** Checked by the next test, which may read /proc. */
const killedByKillPath: number[] = [];

Deno.test("exec - (check) kill(1) left nothing of the tree running", () => {
  assert.equal(killedByKillPath.length, 2);
  for (const pid of killedByKillPath) {
    assert.equal(running(pid), false, `pid ${pid} runs`);
  }
});

/**
 * Aborts tree.ts in escape mode from a `deno run` under the worker's
 * permission set from deno.json (plus deno, to start the fixture), the way
 * gridw's exec is made; with `noPs`, ps is revoked first. The pids it saw.
 */
const WORKER_ABORT = `
import { createExec } from "${new URL("./exec.ts", import.meta.url).href}";
import { DEFAULT_BINARIES, KILL_PATH } from "${
  new URL("../models/backend_table.ts", import.meta.url).href
}";
const [tree, pidfile, mode] = Deno.args;
if (mode === "no-ps") {
  Deno.permissions.revokeSync({ name: "run", command: DEFAULT_BINARIES.ps });
}
let proc = true;
try {
  Deno.readDirSync("/proc");
} catch {
  proc = false;
}
const ctl = new AbortController();
const exec = createExec({ graceMs: 300, killPath: KILL_PATH });
const pending = exec(
  { argv: [Deno.execPath(), "run", "--no-config", "-A", tree, pidfile, "escape"] },
  ctl.signal,
);
let pids = [];
for (const deadline = Date.now() + 20000; Date.now() < deadline;) {
  try {
    pids = Deno.readTextFileSync(pidfile).trim().split(" ").map(Number);
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 20));
  }
}
ctl.abort("cancelled");
const result = await pending;
console.log(JSON.stringify({ proc, pids, signal: result.signal }));
`;

async function abortUnderWorkerGrants(
  mode: "ps" | "no-ps",
): Promise<number[]> {
  const dir = await Deno.makeTempDir({ prefix: "grid-exec-" });
  try {
    const script = `${dir}/abort.ts`;
    await Deno.writeTextFile(script, WORKER_ABORT);
    const out = await new Deno.Command(DENO, {
      args: [
        "run",
        "-q",
        "--no-prompt",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        ...permissionFlags("worker", { run: [DENO] }),
        script,
        `${FIXTURES}tree.ts`,
        `${dir}/pids`,
        mode,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    leftovers.push(...r.pids);
    assert.equal(r.proc, false, "the premise: the worker cannot read /proc");
    assert.equal(r.pids.length, 2, "the fixture started its helper");
    assert.equal(r.signal, "SIGTERM");
    return r.pids;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("exec - under the worker's grants, abort kills a helper that left the group", async () => {
  const pids = await abortUnderWorkerGrants("ps");
  for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} runs`);
});

Deno.test("exec - under the worker's grants without ps, that helper survives", async () => {
  const [parent, helper] = await abortUnderWorkerGrants("no-ps");
  assert.equal(running(parent!), false);
  assert.equal(running(helper!), true, "ps is what found it");
  Deno.kill(helper!, "SIGKILL");
  await until(
    "the helper to exit",
    () => Promise.resolve(running(helper!) ? undefined : true),
  );
});

Deno.test({
  name: "exec - without any kill permission, a helper survives (limitation)",
  permissions: { run: [DENO], read: true, write: true, env: true },
  fn: async () => {
    const { result, pids } = await abortTree("group");
    assert.equal(result.signal, "SIGTERM");
    survivors.push(...pids);
  },
});

/** Checked, then killed, by the next test, which may read /proc and kill. */
const survivors: number[] = [];

Deno.test("exec - (check) only the direct child was stopped", async () => {
  const [parent, helper] = survivors;
  assert.equal(running(parent!), false);
  assert.equal(running(helper!), true);
  Deno.kill(helper!, "SIGKILL");
  await until(
    "the helper to exit",
    () => Promise.resolve(running(helper!) ? undefined : true),
  );
});

Deno.test({
  name: "exec - without any kill permission, the direct child still stops",
  permissions: { run: ["/bin/sleep"], read: true },
  fn: async () => {
    const ctl = new AbortController();
    const pending = createExec()({ argv: ["/bin/sleep", "30"] }, ctl.signal);
    ctl.abort();
    const r = await pending;
    assert.equal(r.signal, "SIGTERM");
  },
});

Deno.test("exec - a helper holding the pipes does not hold exec open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-exec-" });
  let pids: number[] = [];
  try {
    const pidfile = `${dir}/pids`;
    const exec = createExec({ drainMs: 200 });
    const r = await exec(
      { argv: fixture("tree.ts", pidfile, "daemon") },
      never,
    );
    pids = await readPids(pidfile);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^started \d+/);
    // Not aborted, so what it left behind keeps running; stop it ourselves.
    assert.equal(running(pids[1]!), true);
  } finally {
    for (const pid of pids.slice(1)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exec - option checks", () => {
  assert.throws(() => createExec({ graceMs: -1 }), RangeError);
  assert.throws(() => createExec({ killPath: "kill" }), TypeError);
});

Deno.test("exec - (cleanup) no test process is left running", async () => {
  const alive = leftovers.filter(running);
  for (const pid of alive) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  assert.deepEqual(alive, []);
  await until(
    "killed leftovers to exit",
    () => Promise.resolve(alive.some(running) ? undefined : true),
  );
});
