/**
 * The fixed parts of docs/SOAK.md: the faults, how to run the soak, and the
 * columns of its results table (docs/SOAK.md before a run has them too).
 */
/** The fault kinds, as the report describes them. */
export const FAULT_KINDS = [
  "- `controller`: SIGKILL of a controller and its nats-server (a host crash),",
  "  restarted 3-12 s later;",
  "- `nats-server`: SIGKILL of a controller's nats-server alone; the controller",
  "  restarts it;",
  "- `worker`: SIGKILL of a worker (preferably one running a task), restarted",
  "  2-15 s later;",
  "- `quorum`: JetStream loses its quorum: two of the three nats-servers are",
  "  frozen (SIGSTOP: to the cluster, hosts gone) for 3-8 s, then SIGKILLed;",
  "  their controllers restart them and they catch up with the third;",
  "- `clock-skew`: a worker restarts with its wall clock 2-10 min fast or slow",
  "  (a `--preload` of `scripts/soak/clock_skew.ts` that only the soak passes),",
  "  or a skewed one with its clock right again; liveness is judged by the",
  "  server's time, so it must stay online and its jobs must not fail.",
];

export const HOW_TO_RUN = [
  "## How to run",
  "",
  "```sh",
  "deno task soak --minutes=10 --seed=2026   # 10 minutes, as reported below",
  "deno task soak --minutes=2 --fault-every=10-15 --report=/tmp/soak.md",
  "deno task soak --help                     # every flag",
  "```",
  "",
  "Needs nats-server 2.9 on PATH, about 1 GiB of memory and both cores; every",
  "process and the temp dir are removed at the end (`--keep-logs` keeps the",
  "logs). It exits 1 when a count is not 0.",
  "",
];

/** The results table's columns: one row per run reported. */
export const RESULT_COLUMNS = [
  "started (UTC)",
  "command",
  "faults for",
  "jobs accepted",
  "faults",
  "lost",
  "stuck",
  "duplicated",
  "failed, all nodes up",
  "result",
];
