import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { runChecked } from "./data_testing.ts";
import { fileBackend, tailLines } from "./file.ts";
import { runAction } from "./run.ts";
import { fakeContext, recordingExec } from "./testing.ts";

/** A temp root the backend may use, and a sibling it may not. */
async function withRoots(
  fn: (root: string, outside: string) => Promise<void>,
): Promise<void> {
  const base = await Deno.realPath(await Deno.makeTempDir());
  const root = `${base}/allowed`;
  const outside = `${base}/outside`;
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  try {
    await fn(root, outside);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

function run(root: string, action: string, params: Record<string, string>) {
  const exec = recordingExec();
  return runAction(
    { file: fileBackend({ allowedPaths: [root] }) },
    { backend: "file", action, params },
    fakeContext({ exec }),
  ).then((r) => {
    assert.deepEqual(exec.calls, [], "file runs no program");
    return r;
  });
}

Deno.test("file - write, read, stat, exists, checksum, delete in an allowed root", async () => {
  await withRoots(async (root) => {
    const b = fileBackend({ allowedPaths: [root] });
    const path = `${root}/app.conf`;
    const w = await runChecked(b, "write", { path, content: "a\nb\nc\n" });
    assert.equal(w.output, `wrote 6 bytes to ${path}`);
    assert.equal(await Deno.readTextFile(path), "a\nb\nc\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    assert.equal((await runChecked(b, "read", { path })).output, "a\nb\nc");
    assert.equal(
      (await runChecked(b, "read", { path, lines: "2" })).output,
      "b\nc",
    );
    const st = await runChecked(b, "stat", { path });
    const d = st.data as Record<string, unknown>;
    assert.equal(d.size, 6);
    assert.equal(d.mode, "0644");
    assert.equal(d.is_dir, false);
    assert.match(String(d.mod_time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(JSON.parse(st.output), d);
    assert.equal((await runChecked(b, "exists", { path })).output, "true");
    assert.deepEqual(
      (await runChecked(b, "exists", { path: `${root}/nope` })).data,
      { path: `${root}/nope`, exists: false },
    );
    const sum = await runChecked(b, "checksum", { path });
    assert.deepEqual(sum.data, {
      path,
      algorithm: "sha256",
      hash: createHash("sha256").update("a\nb\nc\n").digest("hex"),
    });
    assert.equal(
      (await runChecked(b, "delete", { path })).output,
      `deleted ${path}`,
    );
    assert.equal(await Deno.lstat(path).then(() => true, () => false), false);
  });
});

Deno.test("file - checksum algorithms give the standard digests; expected gates", async () => {
  await withRoots(async (root) => {
    const b = fileBackend({ allowedPaths: [root] });
    const path = `${root}/abc`;
    await Deno.writeTextFile(path, "abc");
    const hash = async (algorithm: string) =>
      ((await runChecked(b, "checksum", { path, algorithm })).data as {
        hash: string;
      }).hash;
    assert.equal(await hash("md5"), "900150983cd24fb0d6963f7d28e17f72");
    assert.equal(
      await hash("sha256"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    assert.match(await hash("sha512"), /^ddaf35a193617aba[0-9a-f]{112}$/);
    const ok = await runChecked(b, "checksum", {
      path,
      algorithm: "md5",
      expected: "900150983CD24FB0D6963F7D28E17F72",
    });
    assert.equal((ok.data as { matches: boolean }).matches, true);
    const bad = await run(root, "checksum", {
      path,
      algorithm: "md5",
      expected: "0".repeat(32),
    });
    assert.equal(bad.status, "failed");
    assert.match(
      bad.error!,
      /md5 is 900150983cd24fb0d6963f7d28e17f72, expected 0{32}/,
    );
    assert.equal(JSON.parse(bad.output).matches, false);
    const sha1 = await run(root, "checksum", { path, algorithm: "sha1" });
    assert.match(
      sha1.error!,
      /param "algorithm": must be one of "sha256", "sha512", "md5"/,
    );
  });
});

Deno.test("file - write keeps an existing file's mode; mkdir is recursive with its mode", async () => {
  await withRoots(async (root) => {
    const b = fileBackend({ allowedPaths: [root] });
    const path = `${root}/secret`;
    await Deno.writeTextFile(path, "old", { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    await runChecked(b, "write", { path, content: "new", mode: "0666" });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(await Deno.readTextFile(path), "new");
    await runChecked(b, "write", {
      path: `${root}/x`,
      content: "",
      mode: "600",
    });
    assert.equal((await Deno.stat(`${root}/x`)).mode! & 0o777, 0o600);
    const dir = `${root}/a/b/c`;
    assert.equal(
      (await runChecked(b, "mkdir", { path: dir, mode: "0700" })).output,
      `created ${dir}`,
    );
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    const st = await runChecked(b, "stat", { path: dir });
    assert.equal((st.data as { is_dir: boolean }).is_dir, true);
  });
});

Deno.test("file - read returns the tail, and only whole lines of a large file", async () => {
  await withRoots(async (root) => {
    const path = `${root}/log`;
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    assert.equal(await tailLines(path, 3), "line 4997\nline 4998\nline 4999");
    // A small window: the partial first line is dropped, not returned.
    const got = (await tailLines(path, 1000, 100)).split("\n");
    assert.ok(got.length < 15 && got.length > 5);
    assert.ok(got.every((l) => /^line \d+$/.test(l)), got.join("|"));
    assert.equal(got.at(-1), "line 4999");
    const dir = await run(root, "read", { path: root });
    assert.match(dir.error!, /is a directory/);
    const missing = await run(root, "read", { path: `${root}/none` });
    assert.match(missing.error!, /no such file or directory/);
    assert.equal(missing.retryable, false);
  });
});

Deno.test("file - delete refuses symlinks, directories and missing files", async () => {
  await withRoots(async (root) => {
    await Deno.writeTextFile(`${root}/target`, "x");
    await Deno.symlink(`${root}/target`, `${root}/link`);
    await Deno.mkdir(`${root}/dir`);
    const link = await run(root, "delete", { path: `${root}/link` });
    assert.equal(link.error, `refusing to delete symlink ${root}/link`);
    const dir = await run(root, "delete", { path: `${root}/dir` });
    assert.equal(
      dir.error,
      `refusing to delete directory ${root}/dir (single files only)`,
    );
    const none = await run(root, "delete", { path: `${root}/none` });
    assert.match(none.error!, /no such file/);
    assert.ok(await Deno.stat(`${root}/target`));
    assert.ok(await Deno.stat(`${root}/dir`));
  });
});

Deno.test("file - paths outside the roots are refused, symlink tricks included", async () => {
  await withRoots(async (root, outside) => {
    await Deno.writeTextFile(`${outside}/secret`, "s");
    await Deno.symlink(`${outside}/secret`, `${root}/to-secret`);
    await Deno.symlink(outside, `${root}/to-outside`);
    await Deno.symlink(`${outside}/nothing-yet`, `${root}/dangling`);
    const refused: [string, Record<string, string>][] = [
      ["read", { path: `${outside}/secret` }],
      ["read", { path: `${root}/to-secret` }],
      ["stat", { path: `${root}/to-outside/secret` }],
      ["checksum", { path: `${root}/to-secret` }],
      ["write", { path: `${root}/to-secret`, content: "pwned" }],
      ["write", { path: `${root}/to-outside/new`, content: "pwned" }],
      ["write", { path: `${root}/dangling`, content: "pwned" }],
      ["mkdir", { path: `${root}/to-outside/d` }],
      ["delete", { path: `${root}/to-outside/secret` }],
      ["exists", { path: `${outside}/secret` }],
      ["read", { path: `${root}x/y` }],
    ];
    for (const [action, params] of refused) {
      const r = await run(root, action, params);
      assert.equal(r.status, "failed", `${action} ${params.path}`);
      assert.match(r.error!, /^refused: /, `${action} ${params.path}`);
      assert.equal(r.retryable, false);
    }
    assert.equal(await Deno.readTextFile(`${outside}/secret`), "s");
    assert.deepEqual(
      [...Deno.readDirSync(outside)].map((e) => e.name),
      ["secret"],
    );
    const none = await runAction(
      { file: fileBackend() },
      { backend: "file", action: "read", params: { path: `${root}/x` } },
      fakeContext(),
    );
    assert.match(
      none.error!,
      /allows no paths \(worker\.file\.allowed_paths is empty\)/,
    );
    // A symlink that stays inside the roots is followed.
    await Deno.writeTextFile(`${root}/real`, "inside");
    await Deno.symlink(`${root}/real`, `${root}/alias`);
    const ok = await run(root, "read", { path: `${root}/alias` });
    assert.equal(ok.output, "inside");
  });
});

Deno.test("file - injection attempts are refused by the schema and nothing is touched", async () => {
  await withRoots(async (root) => {
    const attempts: [string, Record<string, string>, RegExp][] = [
      [
        "read",
        { path: "etc/passwd" },
        /param "path": must be an absolute path/,
      ],
      ["read", { path: `${root}/../outside/x` }, /"\." or "\.\." segments/],
      ["read", { path: `${root}/./x` }, /"\." or "\.\." segments/],
      ["read", { path: `${root}/..` }, /"\." or "\.\." segments/],
      ["read", { path: `${root}//x` }, /"\/\/"/],
      ["read", { path: `${root}/x\n/etc/passwd` }, /control characters/],
      ["read", { path: `${root}/x\0` }, /control characters/],
      ["read", { path: "-rf" }, /must be an absolute path/],
      ["read", { path: `/${"a".repeat(4096)}` }, /at most 4096/],
      [
        "read",
        { path: `${root}/x`, lines: "0" },
        /param "lines": must be between 1 and 1000/,
      ],
      ["read", { path: `${root}/x`, lines: "1001" }, /param "lines"/],
      ["write", { path: `${root}/x` }, /param "content": is required/],
      [
        "write",
        { path: `${root}/x`, content: "a", mode: "4755" },
        /param "mode": must be octal/,
      ],
      [
        "write",
        { path: `${root}/x`, content: "a", mode: "0o644" },
        /param "mode"/,
      ],
      ["mkdir", { path: `${root}/d`, mode: "rwx" }, /param "mode"/],
      [
        "checksum",
        { path: `${root}/x`, expected: "zz" },
        /param "expected": must be a hex digest/,
      ],
      [
        "stat",
        { path: `${root}/x`, follow: "no" },
        /param "follow": is not a param/,
      ],
    ];
    for (const [action, params, want] of attempts) {
      const r = await run(root, action, params);
      assert.equal(r.status, "failed", JSON.stringify(params));
      assert.match(r.error!, want, JSON.stringify(params));
      assert.equal(r.retryable, false);
    }
    assert.deepEqual([...Deno.readDirSync(root)], []);
    // A name that merely contains ".." is a name, not a traversal.
    const dots = await run(root, "write", {
      path: `${root}/a..b`,
      content: "",
    });
    assert.equal(dots.status, "success", dots.error);
  });
});
