/**
 * Scenario runner: `deno task scenario FILE...` or `deno task scenario --all`.
 * Starts a local cluster (controller + web-01, web-02, db-01; db-01 also
 * runs sysinfo, health, file and config, writing in SCENARIO_DIR), runs each
 * job with `gridc job run --wait`, and checks the outcome the file's
 * `expect` declares. Exits 0 only when every scenario matches.
 */
import { parse } from "yaml";
import { Cluster } from "../testing/mod.ts";
import { gridc, gridcEnv, SCENARIO_DIR, SCENARIO_FLEET } from "./fleet.ts";

interface Expect {
  status: string;
  /** step → node (or "*" for every node with a result) → status */
  results?: Record<string, Record<string, string>>;
  attempts?: Record<string, Record<string, number>>;
  /** Exactly the nodes the target selected (the job's `expected`), any order. */
  nodes?: string[];
}

const EXIT_FOR: Record<string, number> = {
  completed: 0,
  failed: 1,
  cancelled: 2,
};
const JOBS_DIR = new URL("./jobs/", import.meta.url).pathname;

function usage(): never {
  console.error("usage: deno task scenario FILE... | --all");
  Deno.exit(3);
}

export function check(
  expect: Expect,
  job: Record<string, unknown>,
  exitCode: number,
): string[] {
  const problems: string[] = [];
  if (job.status !== expect.status) {
    problems.push(`status: want ${expect.status}, got ${job.status}`);
  }
  if (exitCode !== EXIT_FOR[expect.status]) {
    problems.push(
      `gridc exit status: want ${EXIT_FOR[expect.status]}, got ${exitCode}`,
    );
  }
  const results = (job.results ?? {}) as Record<
    string,
    Record<string, Record<string, unknown>>
  >;
  const compare = (
    table: Record<string, Record<string, string | number>> | undefined,
    field: string,
  ) => {
    for (const [step, byNode] of Object.entries(table ?? {})) {
      const got = results[step] ?? {};
      for (const [node, want] of Object.entries(byNode)) {
        const nodes = node === "*" ? Object.keys(got) : [node];
        if (nodes.length === 0) problems.push(`step ${step}: no results`);
        for (const n of nodes) {
          const value = got[n]?.[field];
          if (value !== want) {
            problems.push(
              `step ${step} ${n} ${field}: want ${want}, got ${value}`,
            );
          }
        }
      }
    }
  };
  if (expect.nodes) {
    const want = [...expect.nodes].sort().join(", ");
    const got = [...(job.expected as string[] ?? [])].sort().join(", ");
    if (got !== want) problems.push(`nodes: want ${want}, got ${got}`);
  }
  compare(expect.results, "status");
  compare(expect.attempts, "attempts");
  return problems;
}

async function runOne(c: Cluster, file: string): Promise<string[]> {
  const doc = parse(await Deno.readTextFile(file)) as { expect?: Expect };
  if (!doc.expect) return [`${file} declares no "expect"`];
  const out = await gridc(
    [
      "-a",
      c.api,
      "-o",
      "json",
      "job",
      "run",
      "-f",
      file,
      "--wait",
    ],
    false,
    gridcEnv(c),
  ).output();
  const text = new TextDecoder().decode(out.stdout);
  let job: Record<string, unknown>;
  try {
    job = JSON.parse(text);
  } catch {
    return [
      `gridc printed no job (exit ${out.code}): ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    ];
  }
  return check(doc.expect, job, out.code);
}

/**
 * Creates SCENARIO_DIR unless it is there (a run beside this one may use
 * it); true when this run made it, and so removes it.
 */
async function makeScenarioDir(): Promise<boolean> {
  try {
    await Deno.mkdir(SCENARIO_DIR, { mode: 0o700 });
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  }
}

async function main(): Promise<void> {
  const args = Deno.args;
  if (args.length === 0) usage();
  const files = args[0] === "--all"
    ? [...Deno.readDirSync(JOBS_DIR)].map((e) => JOBS_DIR + e.name).filter((
      f,
    ) => f.endsWith(".yaml")).sort()
    : args;
  console.log(
    `starting a local cluster (controller + ${
      SCENARIO_FLEET.map((w) => w.id).join(", ")
    })`,
  );
  const made = await makeScenarioDir();
  let c: Cluster;
  try {
    c = await new Cluster({ workers: SCENARIO_FLEET, taskTimeout: "1m" })
      .start();
  } catch (e) {
    if (made) await Deno.remove(SCENARIO_DIR, { recursive: true });
    throw e;
  }
  let passed = 0;
  let failed = 0;
  try {
    for (const file of files) {
      const name = file.split("/").pop();
      const started = Date.now();
      const problems = await runOne(c, file);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      if (problems.length === 0) {
        passed++;
        console.log(`PASS ${name} (${secs}s)`);
      } else {
        failed++;
        console.log(
          `FAIL ${name} (${secs}s)\n${
            problems.map((p) => `  - ${p}`).join("\n")
          }`,
        );
      }
    }
  } finally {
    await c.stop();
    if (made) await Deno.remove(SCENARIO_DIR, { recursive: true });
  }
  console.log(`scenarios: ${passed} passed, ${failed} failed`);
  Deno.exit(failed === 0 ? 0 : 1);
}

if (import.meta.main) await main();
