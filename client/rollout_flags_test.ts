/**
 * `--batch`, `--canary`, `--pause` and `--max-failures` on `job run` and
 * `job plan`: parsed into the rollout, merged over the file's own (the flag
 * wins field by field), checked by the job schema, and errors name the flag.
 */
import assert from "node:assert/strict";
import { parseCli, UsageError } from "./args.ts";
import { fileJob, shorthandJob } from "./jobspec.ts";
import type { JobView } from "../models/job.ts";
import { fakeController, gridc, job } from "./testing.ts";

function usage(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, `not a UsageError: ${e}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

const rolloutOf = (argv: string[]) => {
  const cmd = parseCli(argv).command;
  assert.ok(cmd.kind === "job run" || cmd.kind === "job plan");
  return cmd.rollout;
};

Deno.test("rollout flags: digits are a count, a percentage stays text", () => {
  assert.deepEqual(
    rolloutOf([
      "job",
      "run",
      "--batch",
      "10%",
      "--canary",
      "1",
      "--pause",
      "30s",
      "--max-failures",
      "5%",
      "ping",
      "echo",
    ]),
    { batch: "10%", canary: 1, pause: "30s", max_failures: "5%" },
  );
  assert.deepEqual(
    rolloutOf([
      "job",
      "plan",
      "--batch",
      "3",
      "--max-failures",
      "0",
      "-f",
      "j",
    ]),
    { batch: 3, max_failures: 0 },
  );
  assert.equal(rolloutOf(["job", "run", "ping", "echo"]), undefined);
});

Deno.test("rollout flags: a bad value is refused naming the flag", () => {
  const run = (...flags: string[]) => () =>
    parseCli(["job", "run", ...flags, "ping", "echo"]);
  usage(
    run("--batch", "0"),
    '--batch "0": must be a whole number of nodes (at least 1) or a percentage such as "10%", got 0',
  );
  usage(run("--batch", "ten"), /^--batch "ten": must be a whole number/);
  usage(run("--batch", "0%"), /^--batch "0%": must be a percentage above 0%/);
  usage(run("--canary", "1.5"), /^--canary "1\.5": must be a whole number/);
  usage(run("--canary", "0"), '--canary "0": must be at least 1 node');
  usage(run("--pause", "soon"), /^--pause "soon": must be a duration/);
  usage(run("--pause", "48h"), '--pause "48h": must be at most 24h, got "48h"');
  usage(
    run("--max-failures", "101%"),
    /^--max-failures "101%": must be a percentage from 0% up to 100%/,
  );
});

const FILE = `strategy: continue
rollout: {batch: 2, canary: 1, pause: 10s}
tasks: [{backend: test, action: succeed}]
`;

Deno.test("rollout flags: merged over the file's rollout, the flag winning", () => {
  const { body } = fileJob("r.yaml", FILE, {
    rollout: { batch: "50%", max_failures: 1 },
  });
  assert.deepEqual(body.rollout, {
    batch: "50%",
    canary: 1,
    pause: "10s",
    max_failures: 1,
  });
  // A file without a rollout takes the flags' alone.
  const plain = "tasks: [{backend: test, action: succeed}]\n";
  assert.deepEqual(
    fileJob("p.yaml", plain, { rollout: { batch: 1 } }).body.rollout,
    { batch: 1 },
  );
  assert.deepEqual(
    shorthandJob("ping", "echo", {}, { rollout: { batch: "10%", canary: 1 } })
      .rollout,
    { batch: "10%", canary: 1 },
  );
});

Deno.test("rollout flags: what does not fit the job names the flag, the file its field", () => {
  // fail-fast (the default) takes no budget: the flag is named.
  usage(
    () =>
      shorthandJob("ping", "echo", {}, {
        rollout: { batch: 1, max_failures: "5%" },
      }),
    '--max-failures "5%": needs strategy "continue": under fail-fast the first failure already stops the rollout',
  );
  // The file's budget under a flag's strategy: the file's field is named.
  usage(
    () =>
      fileJob(
        "r.yaml",
        FILE.replace("pause: 10s", "max_failures: 1"),
        { strategy: "fail-fast" },
      ),
    /^r\.yaml: rollout\.max_failures: needs strategy "continue"/,
  );
  // No batch anywhere: where to give one.
  usage(
    () => shorthandJob("ping", "echo", {}, { rollout: { canary: 1 } }),
    "--canary needs a batch size: add --batch (e.g. --batch 10%) or rollout.batch in the job file",
  );
  // A rollout that is not a mapping stays the file's mistake.
  usage(
    () =>
      fileJob(
        "r.yaml",
        "rollout: 5\ntasks: [{backend: test, action: succeed}]\n",
        { rollout: { batch: 1 } },
      ),
    /^r\.yaml: rollout: /,
  );
});

Deno.test("rollout flags: job run sends the merged rollout and says it", async () => {
  await using ctl = fakeController((req, url) => {
    if (req.method !== "POST" || url.pathname !== "/job") return undefined;
    const body = ctl.bodies.at(-1) as Record<string, unknown>;
    return Response.json(
      job({ status: "pending", expected: [], ...body } as Partial<JobView>),
      { status: 202 },
    );
  });
  const files = new Map([["up.yaml", FILE]]);
  const r = await gridc(
    ["-a", ctl.url, "job", "run", "-f", "up.yaml", "--batch", "10%"],
    { readFile: (p: string) => Promise.resolve(files.get(p)!) },
  );
  assert.equal(r.code, 0, r.err);
  assert.deepEqual((ctl.bodies[0] as Record<string, unknown>).rollout, {
    batch: "10%",
    canary: 1,
    pause: "10s",
  });
  assert.match(r.out, /, in batches of 10% after a canary of 1\n$/);
  // A refused flag sends nothing.
  const bad = await gridc([
    "-a",
    ctl.url,
    "job",
    "run",
    "--max-failures",
    "1",
    "--batch",
    "1",
    "ping",
    "echo",
  ]);
  assert.equal(bad.code, 3);
  assert.match(bad.err, /--max-failures "1": needs strategy "continue"/);
  assert.equal(ctl.bodies.length, 1);
});
