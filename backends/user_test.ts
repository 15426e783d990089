import assert from "node:assert/strict";
import { join } from "node:path";
import { createExec } from "./exec.ts";
import { runAction } from "./run.ts";
import { assertRefused, call } from "./sys_testing.ts";
import { fakeContext, recordingExec, type Reply } from "./testing.ts";
import { ActionError, type ExecRequest } from "./types.ts";
import { parsePasswd, RESERVED_USERS, userBackend } from "./user.ts";

const PATHS = {
  useradd: "/t/useradd",
  userdel: "/t/userdel",
  groupadd: "/t/groupadd",
  id: "/t/id",
};
const PASSWD = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
bob:x:1001:1001::/home/bob:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
broken line
`;

/** An id(1) that knows alice (1000), svc (500) and nobody else. */
const fakeId: Reply = (req: ExecRequest) => {
  const who = req.argv.at(-1);
  if (req.argv[0] !== "/t/id") return {};
  const uids: Record<string, string> = { alice: "1000", svc: "500" };
  if (!(who! in uids)) {
    return { code: 1, stderr: `id: '${who}': no such user\n` };
  }
  return req.argv[1] === "-Gn"
    ? { stdout: `${who} sudo docker\n` }
    : { stdout: `${uids[who!]}\n` };
};

async function withPasswd<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "grid-user-" });
  try {
    await Deno.writeTextFile(join(dir, "passwd"), PASSWD);
    return await fn(join(dir, "passwd"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const user = userBackend(PATHS);

function run(action: string, params: Record<string, string>) {
  const exec = recordingExec(fakeId);
  return runAction(
    { user },
    { backend: "user", action, params },
    fakeContext({ exec }),
  ).then((o) => ({ ...o, calls: exec.calls.map((c) => c.argv) }));
}

Deno.test("user - argv for every action that runs a program", async () => {
  const table: [string, Record<string, string>, string[][], string][] = [
    ["exists", { name: "alice" }, [["/t/id", "-u", "--", "alice"]], "true"],
    ["exists", { name: "carol" }, [["/t/id", "-u", "--", "carol"]], "false"],
    ["create", { name: "deploy" }, [[
      "/t/useradd",
      "--shell",
      "/usr/sbin/nologin",
      "--",
      "deploy",
    ]], "created user deploy"],
    ["create", {
      name: "svc_1",
      system: "true",
      uid: "901",
      shell: "/bin/bash",
    }, [[
      "/t/useradd",
      "--system",
      "--uid",
      "901",
      "--shell",
      "/bin/bash",
      "--",
      "svc_1",
    ]], "created user svc_1"],
    ["delete", { name: "alice" }, [
      ["/t/id", "-u", "--", "alice"],
      ["/t/userdel", "--", "alice"],
    ], "deleted user alice"],
    [
      "groups",
      { name: "alice" },
      [["/t/id", "-Gn", "--", "alice"]],
      "alice: alice sudo docker",
    ],
    [
      "group_create",
      { name: "web" },
      [["/t/groupadd", "--", "web"]],
      "created group web",
    ],
    ["group_create", { name: "web", gid: "2000" }, [[
      "/t/groupadd",
      "--gid",
      "2000",
      "--",
      "web",
    ]], "created group web"],
  ];
  for (const [action, params, argvs, output] of table) {
    const r = await call(user, action, params, fakeId);
    assert.deepEqual(r.calls.map((c) => c.argv), argvs, action);
    assert.equal(r.output, output, action);
  }
  const g = await call(user, "groups", { name: "alice" }, fakeId);
  assert.deepEqual(g.data, {
    user: "alice",
    groups: ["alice", "sudo", "docker"],
  });
  const e = await call(user, "exists", { name: "alice" }, fakeId);
  assert.deepEqual(e.data, { name: "alice", exists: true, uid: 1000 });
});

Deno.test("user - list reads passwd: regular accounts, or system ones", async () => {
  await withPasswd(async (passwd) => {
    const b = userBackend(PATHS, { passwd });
    const regular = await call(b, "list");
    assert.deepEqual(regular.data, [
      {
        name: "alice",
        uid: 1000,
        gid: 1000,
        home: "/home/alice",
        shell: "/bin/bash",
      },
      {
        name: "bob",
        uid: 1001,
        gid: 1001,
        home: "/home/bob",
        shell: "/bin/sh",
      },
    ]);
    assert.deepEqual(regular.calls, []);
    const system = await call(b, "list", { system: "true" });
    assert.deepEqual(
      (system.data as { name: string }[]).map((a) => a.name),
      ["root", "daemon", "nobody"],
    );
  });
  assert.equal(parsePasswd("x:y:z").length, 0);
});

Deno.test("user - system accounts are never created or deleted", async () => {
  for (const name of RESERVED_USERS.filter((n) => /^[A-Za-z_]/.test(n))) {
    for (const action of ["create", "delete", "group_create"]) {
      const r = await run(action, { name });
      assert.equal(r.status, "failed", `${action} ${name}`);
      assert.match(r.error ?? "", /reserved system account; nothing was run/);
      assert.deepEqual(r.calls, [], `${action} ${name} ran nothing`);
      assert.equal(r.retryable, false);
    }
  }
  const low = await run("delete", { name: "svc" });
  assert.equal(low.status, "failed");
  assert.match(low.error ?? "", /UID 500 is a system account/);
  assert.deepEqual(low.calls, [["/t/id", "-u", "--", "svc"]]);

  const missing = await run("delete", { name: "carol" });
  assert.match(missing.error ?? "", /user carol not found/);
  assert.equal(missing.calls.length, 1);
  await assert.rejects(
    () => call(user, "groups", { name: "carol" }, fakeId),
    (e: unknown) => e instanceof ActionError && /not found/.test(e.message),
  );
});

Deno.test("user - useradd's failure is reported with its words", async () => {
  const exec = recordingExec({
    code: 9,
    stderr: "useradd: user 'deploy' already exists\n",
  });
  const r = await runAction(
    { user },
    { backend: "user", action: "create", params: { name: "deploy" } },
    fakeContext({ exec }),
  );
  assert.equal(r.status, "failed");
  assert.match(
    r.error ?? "",
    /^useradd deploy failed \(exit code 9\): useradd: user 'deploy' already exists/,
  );
  assert.equal(r.retryable, false);
});

Deno.test("user - injection attempts and bad values are refused", () => {
  assertRefused(user, [
    [
      "exists",
      { name: "-a" },
      /param "name": "-a" is not a valid user or group name/,
    ],
    ["exists", { name: "--help" }, /param "name"/],
    ["exists", { name: "root;id" }, /param "name"/],
    ["exists", { name: "a b" }, /param "name"/],
    ["exists", { name: "a\nb" }, /param "name"/],
    ["exists", { name: "../etc" }, /param "name"/],
    ["exists", { name: "x".repeat(33) }, /param "name"/],
    [
      "create",
      { name: "deploy", shell: "bash" },
      /param "shell": "bash" is not an absolute path/,
    ],
    ["create", { name: "deploy", shell: "/bin/sh -c x" }, /param "shell"/],
    [
      "create",
      { name: "deploy", uid: "0" },
      /param "uid": must be between 1 and 60000/,
    ],
    ["create", { name: "deploy", uid: "-1" }, /param "uid"/],
    ["create", { name: "deploy", system: "yes" }, /param "system"/],
    [
      "create",
      { name: "deploy", groups: "sudo" },
      /param "groups": is not a param/,
    ],
    [
      "delete",
      { name: "deploy", remove_home: "true" },
      /param "remove_home": is not a param/,
    ],
    ["group_create", { name: "web", gid: "x" }, /param "gid"/],
    ["list", { system: "1" }, /param "system"/],
  ]);
});

Deno.test("user - real id, useradd and userdel as root", async () => {
  if (Deno.uid() !== 0) {
    console.log("skipped: not running as root");
    return;
  }
  const real = userBackend({
    useradd: "/usr/sbin/useradd",
    userdel: "/usr/sbin/userdel",
    groupadd: "/usr/sbin/groupadd",
    id: "/usr/bin/id",
  });
  try {
    for (const p of ["/usr/sbin/useradd", "/usr/sbin/userdel", "/usr/bin/id"]) {
      await Deno.stat(p);
    }
  } catch {
    console.log("skipped: shadow's tools are not installed");
    return;
  }
  const ctx = fakeContext({ exec: createExec() });
  const act = async (action: string, params: Record<string, string>) => {
    const def = real.actions[action]!;
    return await def.run(def.params.parse(params), ctx);
  };
  assert.equal((await act("exists", { name: "root" })).output, "true");
  assert.deepEqual((await act("groups", { name: "root" })).data, {
    user: "root",
    groups: ["root"],
  });
  const name = `grid-t${Deno.pid}`;
  assert.equal((await act("exists", { name })).output, "false");
  try {
    await act("create", { name });
    assert.equal((await act("exists", { name })).output, "true");
    const list = await act("list", {});
    assert.ok((list.data as { name: string }[]).some((a) => a.name === name));
  } finally {
    await act("delete", { name }).catch(() => {});
  }
  assert.equal((await act("exists", { name })).output, "false");
});
