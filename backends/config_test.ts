import assert from "node:assert/strict";
import { configBackend } from "./config.ts";
import { formatOf, lineDiff } from "./config_formats.ts";
import { runChecked } from "./data_testing.ts";
import { candidates, getIni, setIni } from "./ini.ts";
import { runAction } from "./run.ts";
import { fakeContext, recordingExec } from "./testing.ts";

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const base = await Deno.realPath(await Deno.makeTempDir());
  await Deno.mkdir(`${base}/etc`);
  try {
    await fn(`${base}/etc`);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

function run(root: string, action: string, params: Record<string, string>) {
  const exec = recordingExec();
  return runAction(
    { config: configBackend({ allowedPaths: [root] }) },
    { backend: "config", action, params },
    fakeContext({ exec }),
  ).then((r) => {
    assert.deepEqual(exec.calls, [], "config runs no program");
    return r;
  });
}

async function ok(
  root: string,
  action: string,
  params: Record<string, string>,
) {
  const r = await run(root, action, params);
  assert.equal(r.status, "success", `${action}: ${r.error}`);
  return r.output;
}

Deno.test("config - YAML get and set keep comments, back up, and keep the mode", async () => {
  await withRoot(async (root) => {
    const path = `${root}/app.yaml`;
    await Deno.writeTextFile(
      path,
      "# the app\nserver:\n  host: a # where\n  port: 80\nlist: [x, y]\n",
      { mode: 0o600 },
    );
    await Deno.chmod(path, 0o600);
    assert.equal(await ok(root, "get", { path, key: "server.host" }), "a");
    assert.equal(await ok(root, "get", { path, key: "server.port" }), "80");
    assert.equal(await ok(root, "get", { path, key: "list.1" }), "y");
    assert.equal(
      await ok(root, "get", { path, key: "server" }),
      '{"host":"a","port":80}',
    );
    const out = await ok(root, "set", {
      path,
      key: "server.port",
      value: "8080",
    });
    assert.equal(out, `set server.port=8080 in ${path}\nbackup: ${path}.bak`);
    const text = await Deno.readTextFile(path);
    assert.match(text, /^# the app\n/);
    assert.match(text, /host: a # where/);
    assert.match(text, /port: "8080"/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.match(await Deno.readTextFile(`${path}.bak`), /port: 80\n/);
    assert.equal((await Deno.stat(`${path}.bak`)).mode! & 0o777, 0o600);
    await ok(root, "set", { path, key: "db.pool.size", value: "5" });
    assert.equal(await ok(root, "get", { path, key: "db.pool.size" }), "5");
    const names = [...Deno.readDirSync(root)].map((e) => e.name).sort();
    assert.deepEqual(names, ["app.yaml", "app.yaml.bak"], "no temp file left");
    const missing = await run(root, "get", { path, key: "server.nope" });
    assert.equal(missing.error, `key "server.nope" not found in ${path}`);
    assert.equal(missing.retryable, false);
    const scalar = await run(root, "set", {
      path,
      key: "server.host.x",
      value: "1",
    });
    assert.match(scalar.error!, /cannot set server\.host\.x/);
  });
});

Deno.test("config - JSON and INI, by extension or by format", async () => {
  await withRoot(async (root) => {
    const json = `${root}/a.json`;
    await Deno.writeTextFile(json, '{"b":1,"a":{"c":true}}');
    assert.equal(await ok(root, "get", { path: json, key: "a.c" }), "true");
    await ok(root, "set", { path: json, key: "a.d", value: "x" });
    assert.equal(
      await Deno.readTextFile(json),
      '{\n  "b": 1,\n  "a": {\n    "c": true,\n    "d": "x"\n  }\n}\n',
    );
    const bad = await run(root, "set", { path: json, key: "b.c", value: "x" });
    assert.match(bad.error!, /b is not an object/);
    const ini = `${root}/my.conf`;
    await Deno.writeTextFile(
      ini,
      "; top\nglobal = 1\n\n[server]\nhost = a\n# note\nport=80\n\n[db]\nname = x\n",
    );
    assert.equal(
      await ok(root, "get", { path: ini, key: "server.port" }),
      "80",
    );
    assert.equal(await ok(root, "get", { path: ini, key: "global" }), "1");
    await ok(root, "set", { path: ini, key: "server.port", value: "8080" });
    await ok(root, "set", { path: ini, key: "server.tls", value: "on" });
    await ok(root, "set", { path: ini, key: "cache.size", value: "9" });
    assert.equal(
      await Deno.readTextFile(ini),
      "; top\nglobal = 1\n\n[server]\nhost = a\n# note\nport=8080\ntls = on\n\n[db]\nname = x\n\n[cache]\nsize = 9\n",
    );
    const other = `${root}/settings`;
    await Deno.writeTextFile(other, "[s]\nk = v\n");
    assert.equal(
      await ok(root, "get", { path: other, key: "s.k", format: "ini" }),
      "v",
    );
    const created = `${root}/new.json`;
    await ok(root, "set", { path: created, key: "a", value: "1" });
    assert.equal(await Deno.readTextFile(created), '{\n  "a": "1"\n}\n');
    assert.equal(await Deno.lstat(`${created}.bak`).then(() => 1, () => 0), 0);
    const nodir = await run(root, "set", {
      path: `${root}/no/such/dir.yaml`,
      key: "a",
      value: "1",
    });
    assert.equal(
      nodir.error,
      `${root}/no/such does not exist (config set creates the file, not its directory)`,
    );
    assert.equal(nodir.retryable, false);
  });
});

Deno.test("config - validate fails on a broken file with the detail as JSON", async () => {
  await withRoot(async (root) => {
    const b = configBackend({ allowedPaths: [root] });
    const good = `${root}/ok.yaml`;
    await Deno.writeTextFile(good, "a: 1\n");
    assert.deepEqual((await runChecked(b, "validate", { path: good })).data, {
      path: good,
      format: "yaml",
      valid: true,
    });
    const cases: [string, string, string, RegExp][] = [
      ["bad.yaml", "a: [1\n", "yaml", /not valid yaml/],
      [
        "dup.yaml",
        "a: 1\na: 2\n",
        "yaml",
        /not valid yaml: Map keys must be unique/,
      ],
      ["bad.json", "{", "json", /not valid json/],
      ["bad.ini", "[s]\nnot a pair\n", "ini", /not valid ini: line 2/],
      ["bad.txt", "{", "json", /not valid json/],
    ];
    for (const [name, content, format, want] of cases) {
      const path = `${root}/${name}`;
      await Deno.writeTextFile(path, content);
      const r = await run(root, "validate", { path, format });
      assert.equal(r.status, "failed", name);
      assert.match(r.error!, want, name);
      const detail = JSON.parse(r.output);
      assert.equal(detail.valid, false);
      assert.equal(detail.format, format);
      assert.ok(detail.error);
    }
    const none = await run(root, "validate", { path: `${root}/none.yaml` });
    assert.match(none.error!, /no such file/);
  });
});

Deno.test("config - diff shows what would change, line by line", async () => {
  await withRoot(async (root) => {
    const b = configBackend({ allowedPaths: [root] });
    const path = `${root}/a.conf`;
    await Deno.writeTextFile(path, "a\nb\nc\n");
    const r = await runChecked(b, "diff", { path, content: "a\nx\nb\nc\n" });
    assert.equal(r.output, `--- ${path}\n+++ proposed\n a\n+x\n b\n c`);
    assert.deepEqual(r.data, { path, changed: true, added: 1, removed: 0 });
    const same = await runChecked(b, "diff", { path, content: "a\nb\nc" });
    assert.equal((same.data as { changed: boolean }).changed, false);
    const fresh = await runChecked(b, "diff", {
      path: `${root}/n`,
      content: "z",
    });
    assert.equal(fresh.output, "--- /dev/null\n+++ proposed\n+z");
    assert.deepEqual(lineDiff(["a", "b"], ["c"]).lines, ["-a", "-b", "+c"]);
    assert.deepEqual(lineDiff(["a", "b", "c"], ["a", "c"]), {
      lines: [" a", "-b", " c"],
      added: 0,
      removed: 1,
    });
  });
});

Deno.test("config - paths outside the roots and symlinked .bak are refused or replaced", async () => {
  await withRoot(async (root) => {
    const outside = `${root}/../outside`;
    await Deno.mkdir(outside);
    await Deno.writeTextFile(`${outside}/x.yaml`, "a: 1\n");
    await Deno.symlink(`${outside}/x.yaml`, `${root}/link.yaml`);
    for (const action of ["get", "set", "validate", "diff"]) {
      const r = await run(root, action, {
        path: `${root}/link.yaml`,
        ...(action === "diff" ? { content: "" } : {}),
        ...(action === "get" || action === "set" ? { key: "a" } : {}),
        ...(action === "set" ? { value: "2" } : {}),
      });
      assert.match(r.error!, /^refused: /, action);
    }
    // A .bak that is a link out of the root is replaced, never written through.
    const path = `${root}/app.yaml`;
    await Deno.writeTextFile(path, "a: 1\n");
    await Deno.writeTextFile(`${outside}/victim`, "keep");
    await Deno.symlink(`${outside}/victim`, `${path}.bak`);
    await ok(root, "set", { path, key: "a", value: "2" });
    assert.equal(await Deno.readTextFile(`${outside}/victim`), "keep");
    assert.equal((await Deno.lstat(`${path}.bak`)).isSymlink, false);
    assert.equal(await Deno.readTextFile(`${outside}/x.yaml`), "a: 1\n");
  });
});

Deno.test("config - injection attempts are refused by the schema and nothing is written", async () => {
  await withRoot(async (root) => {
    const path = `${root}/a.ini`;
    const attempts: [string, Record<string, string>, RegExp][] = [
      [
        "set",
        { path, key: "a", value: "1\n[evil]\nx = 1" },
        /param "value": must be one line/,
      ],
      ["set", { path, key: "a", value: "1\r" }, /param "value"/],
      [
        "set",
        { path, key: "__proto__.polluted", value: "1" },
        /param "key": must not name __proto__/,
      ],
      ["set", { path, key: "a.constructor", value: "1" }, /param "key"/],
      [
        "set",
        { path, key: "a..b", value: "1" },
        /param "key": must be dot-separated/,
      ],
      ["set", { path, key: "[evil]", value: "1" }, /param "key"/],
      ["set", { path, key: "a = b", value: "1" }, /param "key"/],
      ["set", { path, key: "", value: "1" }, /param "key"/],
      [
        "set",
        { path, key: "a", value: "1", format: "toml" },
        /param "format": must be one of/,
      ],
      [
        "set",
        { path: "a.ini", key: "a", value: "1" },
        /param "path": must be an absolute path/,
      ],
      [
        "set",
        { path: `${root}/../x.ini`, key: "a", value: "1" },
        /param "path"/,
      ],
      ["get", { path, key: "a", extra: "1" }, /param "extra": is not a param/],
    ];
    for (const [action, params, want] of attempts) {
      const r = await run(root, action, params);
      assert.equal(r.status, "failed", JSON.stringify(params));
      assert.match(r.error!, want, JSON.stringify(params));
    }
    assert.deepEqual([...Deno.readDirSync(root)], []);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

Deno.test("config - INI keys: global keys with dots, last occurrence wins", () => {
  const sysctl = "net.ipv4.ip_forward = 0\n";
  assert.equal(getIni(sysctl, "net.ipv4.ip_forward"), "0");
  assert.equal(
    setIni(sysctl, "net.ipv4.ip_forward", "1"),
    "net.ipv4.ip_forward = 1\n",
  );
  assert.deepEqual(candidates("a.b.c"), [["", "a.b.c"], ["a.b", "c"], [
    "a",
    "b.c",
  ]]);
  assert.equal(getIni("[s]\nk = 1\nk = 2\n", "s.k"), "2");
  assert.equal(getIni("[s]\nk = 1\n", "t.k"), undefined);
  assert.equal(setIni("", "k", "v"), "k = v\n");
  assert.equal(setIni("[s]\n", "top", "v"), "top = v\n[s]\n");
  assert.equal(formatOf("/etc/x.YML"), "yaml");
  assert.equal(formatOf("/etc/x.cfg"), "ini");
  assert.equal(formatOf("/etc/x"), "yaml");
  assert.equal(formatOf("/etc.d/x"), "yaml");
});
