/**
 * gridc's live output against a real controller and workers: `job logs
 * -f` prints every line of a streaming task once, node-prefixed, and line
 * 1 before the job has finished; `job logs` without -f prints what was
 * streamed so far and returns while the job still runs; `job run --wait`
 * prints the lines between the result lines.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Cluster, ROOT, waitFor, withCluster } from "./harness.ts";

const WORKERS = [
  { id: "web-01", groups: ["web"] },
  { id: "web-02", groups: ["web"] },
];

const streamJob = (target: unknown, lines: number, interval: string) => ({
  target,
  tasks: [{
    backend: "test",
    action: "stream",
    params: { lines: String(lines), interval },
  }],
});

function gridcCommand(c: Cluster, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=client", "client/main.ts", "-a", c.api, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: {
      NO_COLOR: "1",
      GRID_TOKEN: c.token ?? "",
      XDG_CONFIG_HOME: join(c.dir, "config"),
    },
  });
}

async function gridc(c: Cluster, ...args: string[]) {
  const out = await gridcCommand(c, args).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

const lines = (node: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${node} | line ${i + 1} of ${n}`);

Deno.test("gridc: job logs -f, job logs, and job run --wait on streaming tasks", async (t) => {
  await withCluster({ workers: WORKERS }, async (c) => {
    await t.step(
      "job logs -f: every line once, line 1 before the job ended",
      async () => {
        const id = await c.submit(
          streamJob({ scope: "group", value: "web" }, 5, "500ms"),
        );
        const child = gridcCommand(c, ["job", "logs", "-f", id]).spawn();
        const stderr = new Response(child.stderr).text();
        let text = "";
        let firstAt: number | undefined;
        const reader = child.stdout.pipeThrough(new TextDecoderStream())
          .getReader();
        const deadline = Date.now() + 30_000;
        for (;;) {
          assert.ok(Date.now() < deadline, `no end after 30s: ${text}`);
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
          if (firstAt === undefined && text.includes("| line 1 of 5\n")) {
            firstAt = Date.now();
          }
        }
        const { code } = await child.status;
        assert.equal(code, 0, await stderr);
        const job = await c.waitJob(id);
        assert.equal(job.status, "completed");
        assert.ok(firstAt !== undefined, text);
        const finished = Date.parse(job.finished_at);
        assert.ok(
          firstAt < finished,
          `line 1 at ${firstAt}, the job finished at ${finished}`,
        );
        const got = text.trimEnd().split("\n");
        assert.deepEqual(
          got.toSorted(),
          [...lines("web-01", 5), ...lines("web-02", 5)].toSorted(),
        );
        // Each node's lines in order.
        for (const node of ["web-01", "web-02"]) {
          assert.deepEqual(
            got.filter((l) => l.startsWith(node)),
            lines(node, 5),
          );
        }
      },
    );

    await t.step(
      "job logs without -f: what was streamed so far, while the job runs",
      async () => {
        const id = await c.submit(
          streamJob({ scope: "node", value: "web-01" }, 3, "3s"),
        );
        let first = "";
        await waitFor("line 1 in job logs", async () => {
          const r = await gridc(c, "job", "logs", id);
          assert.equal(r.code, 0, r.stderr);
          first = r.stdout;
          return r.stdout !== "";
        }, 20_000);
        assert.equal(first, "web-01 | line 1 of 3\n");
        // It returned without waiting for the task.
        assert.equal((await c.job(id)).status, "running");
        await c.waitJob(id);
        const all = await gridc(c, "job", "logs", id.slice(0, 14));
        assert.equal(all.code, 0, all.stderr);
        assert.equal(all.stdout, lines("web-01", 3).join("\n") + "\n");
      },
    );

    await t.step(
      "job run --wait: the lines as they come, then results and the table",
      async () => {
        const r = await gridc(
          c,
          "job",
          "run",
          "-t",
          "group:web",
          "--wait",
          "test",
          "stream",
          "lines=3",
          "interval=300ms",
        );
        assert.equal(r.code, 0, r.stderr);
        const out = r.stdout.split("\n");
        for (const node of ["web-01", "web-02"]) {
          const mine = lines(node, 3).map((l) => out.indexOf(l));
          assert.ok(mine.every((i) => i > 0), `${node}'s lines:\n${r.stdout}`);
          assert.deepEqual(mine, mine.toSorted((a, b) => a - b));
          // The lines come before the node's result, each once.
          const at = out.findIndex((l) =>
            l.startsWith(`[0 test stream] ${node}: success`)
          );
          assert.ok(at > Math.max(...mine), r.stdout);
          assert.equal(out.filter((l) => l === lines(node, 3)[0]).length, 1);
        }
        assert.match(r.stdout, /^STEP +TASK +NODE +STATUS/m);
      },
    );
  });
});
