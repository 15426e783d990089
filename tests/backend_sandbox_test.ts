/**
 * The worker keeps only what its enabled backends need, under the real
 * permission flags (deno.json `permissions.worker`, plus a site's write
 * grant): Deno itself refuses a disabled backend's program and a write
 * outside the allowed paths. tests/sandbox_probe.ts narrows the grants the
 * way gridw does at start and tries things.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ALLOWED_PATHS,
  BACKEND_NAMES,
  BACKEND_TABLE,
  type BackendEntry,
} from "../models/backend_table.ts";
import { ROOT, withCluster } from "./harness.ts";
import { permissionFlags } from "./permissions.ts";

type Try = { run: string } | { write: string } | {
  symlink: [string, string];
};
interface Probe {
  refusedToStart?: string;
  dropped?: { run: string[]; write: string[]; sys: string[] };
  results?: string[];
}

const APT = "/usr/bin/apt-get";
const SYSTEMCTL = "/usr/bin/systemctl";
const here = (p: string) => Deno.statSync(p).isFile;

async function probe(
  flags: string[],
  worker: string,
  tries: Try[],
  write?: { grant: string[]; keep?: string[] },
): Promise<Probe> {
  const dir = await Deno.makeTempDir({ prefix: "grid-probe-" });
  try {
    const cfg = join(dir, "gridw.yaml");
    await Deno.writeTextFile(cfg, `nats:\n  name: p1\nworker:\n${worker}`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        ...flags,
        "tests/sandbox_probe.ts",
        cfg,
        JSON.stringify(tries),
        ...(write ? [JSON.stringify(write)] : []),
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A temp tree: allowed/, other/, outside/target, allowed/link → outside/target. */
interface Tree {
  base: string;
  allowed: string;
  other: string;
  outside: string;
}

async function tree(): Promise<Tree> {
  const base = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "grid-sandbox-" }),
  );
  const p = {
    base,
    allowed: join(base, "allowed"),
    other: join(base, "other"),
    outside: join(base, "outside"),
  };
  for (const d of [p.allowed, p.other, p.outside]) await Deno.mkdir(d);
  await Deno.writeTextFile(join(p.outside, "target"), "original\n");
  await Deno.symlink(join(p.outside, "target"), join(p.allowed, "link"));
  return p;
}

Deno.test({
  name: "backend sandbox: a disabled backend's program is refused by Deno",
  ignore: !here(APT) || !here(SYSTEMCTL),
  fn: async () => {
    const flags = permissionFlags("worker");
    const tries = [{ run: APT }, { run: SYSTEMCTL }];
    // With apt enabled (the default) the same flags let apt-get start...
    const all = await probe(flags, "  groups: []\n", tries);
    assert.deepEqual(all.results, ["ok", "ok"]);
    // ...and without it, Deno refuses it while systemctl still runs.
    const some = await probe(
      flags,
      "  backends: [ping, test, systemd]\n",
      tries,
    );
    assert.deepEqual(some.results, ["NotCapable", "ok"]);
    assert.ok(some.dropped!.run.includes(APT));
    assert.ok(!some.dropped!.run.includes("/usr/bin/kill"));
  },
});

Deno.test({
  name: "backend sandbox: gridw --self-check shows the narrowed grants",
  ignore: !here(APT),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "grid-selfcheck-" });
    try {
      const cfg = join(dir, "gridw.yaml");
      await Deno.writeTextFile(
        cfg,
        "nats:\n  name: s1\nworker:\n  backends: [ping, systemd]\n",
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-q",
          ...permissionFlags("worker"),
          "worker/main.ts",
          "--self-check",
          "--json",
          "-c",
          cfg,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const check = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepEqual(Object.keys(check.backends).sort(), [
        "ping",
        "systemd",
      ]);
      assert.deepEqual(Object.keys(check.sandbox.backends), [
        "ping",
        "systemd",
      ]);
      assert.deepEqual(check.sandbox.backends.systemd.run, [SYSTEMCTL]);
      // Tried, and refused by Deno: not merely left out of the list.
      assert.equal(check.refused[APT], "refused");
      assert.equal(check.allowed[APT], "prompt");
      assert.equal(check.write, "prompt");
      assert.equal(check.ok, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("backend sandbox: writes outside the allowed paths are refused by Deno", async () => {
  const p = await tree();
  try {
    // The site granted allowed/ and other/; only allowed/ is enabled.
    const flags = permissionFlags("worker", { write: [p.allowed, p.other] });
    const tries: Try[] = [
      { write: join(p.allowed, "ok") },
      { write: join(p.other, "x") },
      { write: join(p.base, "x") },
      { write: `${p.allowed}/../outside/dots` },
      // A task cannot plant a symlink: Deno wants unscoped read and write.
      { symlink: ["/etc/passwd", join(p.allowed, "planted")] },
    ];
    const grant = [p.allowed, p.other];
    const r = await probe(flags, "  groups: []\n", tries, {
      grant,
      keep: [p.allowed],
    });
    assert.deepEqual(r.results, [
      "ok",
      "NotCapable",
      "NotCapable",
      "NotCapable",
      "NotCapable",
    ]);
    assert.deepEqual(r.dropped!.write, [p.other]);
    // Nothing enabled writes: every write is refused, allowed/ too.
    const none = await probe(flags, "  groups: []\n", tries.slice(0, 2), {
      grant,
      keep: [],
    });
    assert.deepEqual(none.results, ["NotCapable", "NotCapable"]);
  } finally {
    await Deno.remove(p.base, { recursive: true });
  }
});

Deno.test("backend sandbox: a symlink someone else left in an allowed dir is followed by Deno", async () => {
  // Deno checks the path as written, not where a pre-existing symlink
  // leads (docs/SECURITY.md): the backends' own real-path check is what
  // stops this, and allowed dirs must be writable only by the worker.
  const p = await tree();
  try {
    const flags = permissionFlags("worker", { write: [p.allowed] });
    const r = await probe(flags, "  groups: []\n", [
      { write: join(p.allowed, "link") },
    ], { grant: [p.allowed], keep: [p.allowed] });
    assert.deepEqual(r.results, ["ok"]);
    assert.equal(
      await Deno.readTextFile(join(p.outside, "target")),
      "written by sandbox_probe\n",
    );
  } finally {
    await Deno.remove(p.base, { recursive: true });
  }
});

Deno.test("backend sandbox: grants Deno cannot narrow make the worker refuse to start", async () => {
  const p = await tree();
  try {
    const keep = [p.allowed];
    // A grant above the allowed dir cannot be cut down to it.
    const above = await probe(
      permissionFlags("worker", { write: [p.base] }),
      "  groups: []\n",
      [],
      { grant: [p.base], keep },
    );
    assert.match(above.refusedToStart ?? "", /does not let this gridw write/);
    // Nor can an unscoped one.
    const all = await probe(
      [...permissionFlags("worker"), "--allow-write"],
      "  groups: []\n",
      [],
      { grant: [], keep },
    );
    assert.match(all.refusedToStart ?? "", /unscoped --allow-write/);
    // An allowed path that is a symlink names one place and writes another.
    const link = join(p.base, "via-link");
    await Deno.symlink(p.allowed, link);
    const linked = await probe(
      permissionFlags("worker", { write: [link] }),
      "  groups: []\n",
      [],
      { grant: [link], keep: [link] },
    );
    assert.match(linked.refusedToStart ?? "", /leads to .*allowed/);
    // Nor may a task write where a program the worker runs lives.
    const bin = await probe(
      permissionFlags("worker", { write: ["/usr/bin"] }),
      "  groups: []\n",
      [],
      { grant: ["/usr/bin"], keep: ["/usr/bin"] },
    );
    assert.match(
      bin.refusedToStart ?? "",
      /\/usr\/bin holds \/usr\/bin\/apt-get, which the worker runs/,
    );
  } finally {
    await Deno.remove(p.base, { recursive: true });
  }
});

/** The backends whose table entry writes the allowed paths (file, config). */
const WRITERS = BACKEND_NAMES.filter((n) =>
  ((BACKEND_TABLE[n] as BackendEntry).write ?? []).includes(ALLOWED_PATHS)
);

Deno.test({
  name: "backend sandbox: file/config keep exactly worker.file.allowed_paths",
  ignore: WRITERS.length === 0,
  fn: async () => {
    const p = await tree();
    try {
      const flags = permissionFlags("worker", { write: [p.allowed, p.other] });
      const r = await probe(
        flags,
        `  backends: [${WRITERS.join(", ")}]\n` +
          `  file:\n    allowed_paths: [${p.allowed}]\n`,
        [{ write: join(p.allowed, "ok") }, { write: join(p.other, "x") }],
        { grant: [p.allowed, p.other] },
      );
      assert.deepEqual(r.results, ["ok", "NotCapable"]);
    } finally {
      await Deno.remove(p.base, { recursive: true });
    }
  },
});

Deno.test("backend sandbox: a real worker offers only its enabled backends, and data reaches the API", async () => {
  const worker = {
    id: "d1",
    extra: "  backends: [ping, sysinfo]\n",
    permissions: permissionFlags("worker"),
  };
  await withCluster({ workers: [worker] }, async (c) => {
    const offered = await c.request("GET", "/backends");
    assert.equal(offered.status, 200);
    assert.deepEqual(
      offered.json.map((b: { name: string }) => b.name),
      ["ping", "sysinfo"],
    );
    const memory = offered.json[1].actions.memory;
    assert.deepEqual(memory.nodes, ["d1"]);
    // Not offered, so refused at submit, before any node sees it.
    const apt = await c.request("POST", "/job", {
      tasks: [{ backend: "apt", action: "update" }],
    });
    assert.equal(apt.status, 400, JSON.stringify(apt.json));
    const id = await c.submit({
      tasks: [{ backend: "sysinfo", action: "memory" }],
    });
    const job = await c.waitJob(id);
    const r = job.results["0"]["d1"];
    assert.equal(r.status, "success", r.error);
    assert.equal(typeof r.data, "object");
    assert.ok(Object.keys(r.data).length > 0, JSON.stringify(r.data));
  });
});
