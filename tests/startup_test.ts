/**
 * Start-up failures an operator will meet: a bad config file, a missing
 * nats-server, a taken port. Each stops the program with a clear line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, Proc } from "./harness.ts";

async function runController(
  yaml: string,
): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "grid-startup-" });
  try {
    const file = join(dir, "controller.yaml");
    await Deno.writeTextFile(file, yaml.replaceAll("$DIR", dir));
    const p = new Proc("controller", [
      "run",
      "-P=controller",
      "controller/main.ts",
      "-c",
      file,
    ]);
    const status = await p.wait();
    return {
      code: status.code,
      output: p.log.join("\n").replaceAll(file, "controller.yaml"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("startup: a YAML syntax error names the file, line and column", async () => {
  const r = await runController("api:\n  port: [1\nnats: {}\n");
  assert.equal(r.code, 2);
  assert.match(r.output, /controller\.yaml:\d+:\d+: invalid YAML/);
});

Deno.test("startup: a bad value names the file, line and key", async () => {
  const r = await runController(
    "api:\n  port: 8765\nscheduler:\n  max_concurrent: 0\n  task_timeout: soon\n",
  );
  assert.equal(r.code, 2);
  assert.match(
    r.output,
    /controller\.yaml:4: scheduler\.max_concurrent: must be at least 1/,
  );
  assert.match(
    r.output,
    /controller\.yaml:5: scheduler\.task_timeout: "soon" is not a duration/,
  );
});

Deno.test("startup: an unknown key is refused, not ignored", async () => {
  const r = await runController("api:\n  prot: 8765\n");
  assert.equal(r.code, 2);
  assert.match(r.output, /controller\.yaml:\d+: api: Unrecognized key: "prot"/);
});

Deno.test("startup: a missing nats-server binary is a clear error", async () => {
  const r = await runController(
    "nats:\n  server:\n    binary: /nonexistent/nats-server\n  jetstream:\n    store_dir: $DIR/js\n",
  );
  assert.equal(r.code, 1);
  assert.match(
    r.output,
    /nats\.server\.binary: "\/nonexistent\/nats-server" does not exist/,
  );
});

Deno.test("startup: a taken NATS port is a clear error", async () => {
  const port = freePort();
  const blocker = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const r = await runController(
      `api:\n  host: 127.0.0.1\n  port: ${freePort()}\nnats:\n  server:\n    host: 127.0.0.1\n    port: ${port}\n  jetstream:\n    store_dir: $DIR/js\n`,
    );
    assert.equal(r.code, 1);
    assert.match(
      r.output,
      new RegExp(
        `nats\\.server\\.port: 127\\.0\\.0\\.1:${port} is already in use`,
      ),
    );
  } finally {
    blocker.close();
  }
});

Deno.test("startup: a worker config error names the file and key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grid-startup-" });
  try {
    const file = join(dir, "worker.yaml");
    await Deno.writeTextFile(
      file,
      "nats:\n  name: web 01\nworker:\n  groups: [web, web]\n",
    );
    const p = new Proc("worker", [
      "run",
      "-P=worker",
      "worker/main.ts",
      "-c",
      file,
    ]);
    const status = await p.wait();
    const out = p.log.join("\n");
    assert.equal(status.code, 2);
    assert.match(out, /worker\.yaml:2: nats\.name: must be letters/);
    assert.match(
      out,
      /worker\.yaml:4: worker\.groups: must not list a group twice/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
