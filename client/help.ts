/** `--help` texts, one per command and command group. */
import type { Topic } from "./args.ts";
import { DEFAULT_API } from "./api.ts";
import { jobPlanHelp, ROLLOUT_OPTIONS, TARGET_OPTIONS } from "./help_plan.ts";
import { backendHelp } from "./help_backend.ts";

const GLOBAL = `Global options:
  -a, --api URL        Controller address (env GRID_API, default ${DEFAULT_API})
      --token TOKEN    API token (env GRID_TOKEN; else the entry for the API's
                       origin in $XDG_CONFIG_HOME/grid/tokens.json, or
                       ~/.config/grid/tokens.json: {"https://host:8765": "grid_..."})
      --ca FILE        Trust the CA certificate in FILE for https (env GRID_CA)
  -o, --output FORMAT  table (default) or json: the API's JSON, for scripts
  -h, --help           Show help
      --version        Print the gridc and Deno versions`;

const EXIT_STATUS = `Exit status:
  0  success (with --wait or job logs -f: the job completed)
  1  the job failed (--wait, job logs -f)
  2  the job was cancelled (--wait, job logs -f)
  3  usage error: unknown command or option, bad argument, bad job file
  4  the controller could not be reached or answered with an error
     (a missing, refused or too narrow token too)`;

const TOP = `gridc: command-line client for a GRID controller (HTTP only)

Usage: gridc [options] COMMAND [ARGS]

Commands:
  job run      Submit a job: one task from the command line, or a job file
  job plan     Show what a job would do, without submitting it
  job get      Show a job and its per-node results
  job logs     Print the output of a job's tasks, live with -f
  job list     List jobs, newest first
  job cancel   Cancel a pending or running job
  job resume   Start the next batch of a rollout paused after its canary
  node list    List the nodes
  node info    Show one node
  node enroll  Make a node's NATS credentials (admin)
  node revoke  Cut a node off (admin)
  backend list List the backends the online nodes offer, with their actions
  backend describe
               Show a backend's actions and params, as the nodes check them
  token create Make an API token (admin)
  token list   List the API tokens (admin)
  token revoke Revoke an API token (admin)
  audit        Who changed what, newest first (admin)
  controllers  List the controllers, their liveness and running jobs
  status       Show the controller, node and queue status

${GLOBAL}

${EXIT_STATUS}

Run 'gridc COMMAND --help' (or 'gridc help COMMAND') for a command's options.`;

const JOB = `Usage: gridc job COMMAND

Commands:
  run      Submit a job (and optionally wait for it)
  plan     Show what a job would do, without submitting it
  get      Show a job and its per-node results
  logs     Print the output of a job's tasks, live with -f
  list     List jobs, newest first
  cancel   Cancel a pending or running job
  resume   Start the next batch of a rollout paused after its canary

Run 'gridc job COMMAND --help' for a command's options.`;

const NODE = `Usage: gridc node COMMAND

Commands:
  list     List the nodes
  info     Show one node
  enroll   Make a node's NATS credentials (admin)
  revoke   Cut a node off (admin)

Run 'gridc node COMMAND --help' for a command's options.`;

const JOB_RUN = `Usage:
  gridc job run [options] BACKEND ACTION [KEY=VALUE...]
  gridc job run [options] -f FILE

Submits a job. The shorthand form runs one task; a job file (YAML or JSON,
"-" for standard input) can hold several steps and pipelines. Param values
in a file are sent as strings exactly as written (version: 1.10 → "1.10").

Options:
${TARGET_OPTIONS}
  -f, --file FILE          Read the job from FILE
  -s, --strategy NAME      fail-fast (default) or continue
      --timeout DURATION   Job timeout, e.g. 30s, 5m, 1m30s
${ROLLOUT_OPTIONS}
      --confirm            Print the job's plan (see 'gridc job plan') and
                           ask y/N before submitting; off a terminal it
                           refuses unless --yes is given too
  -y, --yes                With --confirm: submit after the plan, unasked
                           (declined: nothing submitted, exit status 2)
  -w, --wait               Wait for the job: print the tasks' output lines
                           as they come ("web-01 | ...") and each node
                           result as it lands, then the result table; the
                           exit status follows the job (0 completed,
                           1 failed, 2 cancelled). Ctrl-C stops waiting,
                           not the job (use 'gridc job cancel ID')

With -f, the options -t (or --selector), -s and --timeout override the
file's values, and each rollout flag its own field of the file's rollout
(--pause 1m keeps the file's batch and canary).

Examples:
  gridc job run -t all ping echo message=hello
  gridc job run -t group:web apt install package=nginx --wait
  gridc job run -f deploy.yaml --wait
  gridc job run -f upgrade.yaml -s continue --batch 10% --canary 1 --max-failures 5%

${GLOBAL}

${EXIT_STATUS}`;

const JOB_GET = `Usage: gridc job get [options] ID

Shows a job: its status, target and nodes, then one row per step and node
with the first line of the output (or error). Use -o json for everything.
ID may be the start of a job id, as long as no other job's begins so.

Options:
  -w, --wait   Wait for the job to finish first, printing output lines and
               results as they come; the exit status follows the job
               (0 completed, 1 failed, 2 cancelled)

${GLOBAL}

${EXIT_STATUS}`;

const JOB_LOGS = `Usage: gridc job logs [options] ID

Prints the output the job's tasks streamed while they ran, a line at a
time, each prefixed with its node ("web-01 | line 1 of 3") and, when the
job has several steps, the step ("[1] web-01 | ..."); the node names are
coloured on a terminal. Without -f it prints what was streamed so far and
exits; with -f it follows the output until the job ends.

A reader that falls too far behind is told how many lines it missed
("web-01 | … 12 lines skipped (the result has them)"): 'gridc job get'
shows the stored result. A task's streamed output stops after 1 MiB.

Options:
  -f, --follow   Keep printing output as it comes until the job ends; the
                 exit status then follows the job (0 completed, 1 failed,
                 2 cancelled). A dropped connection is resumed where it
                 stopped
      --node ID  Only this node's output
      --step N   Only step N's output (steps are numbered from 0)

With -o json each output event is printed as one JSON object a line:
{"step":0,"node":"web-01","attempt":1,"text":"line 1 of 3\\n"}.

Examples:
  gridc job logs -f 18f3a5c2b1d0004f2
  gridc job logs --node web-01 --step 1 18f3a5c2

${GLOBAL}

${EXIT_STATUS}`;

const JOB_LIST = `Usage: gridc job list [options]

Lists jobs, newest first. When there are more, the last line shows the
command for the next page.

Options:
      --status STATUS  Only jobs with this status: pending, running,
                       completed, failed or cancelled
  -n, --limit N        At most N jobs (more than 1000: page after page)
      --before ID      Jobs older than job ID (the next page)

${GLOBAL}

${EXIT_STATUS}`;

const JOB_CANCEL = `Usage: gridc job cancel [options] ID

Cancels a pending or running job. A job that has already finished cannot
be cancelled (the controller answers 409; exit status 4).

${GLOBAL}

${EXIT_STATUS}`;

const JOB_RESUME = `Usage: gridc job resume [options] ID

Approves a rollout paused after its canary batch: the next batch starts.
'gridc job get ID' shows whether a job is paused. A job that is not paused
for approval cannot be resumed (the controller answers 409; exit status 4).

${GLOBAL}

${EXIT_STATUS}`;

const NODE_LIST = `Usage: gridc node list [options]

Lists the nodes with their groups, labels (when any node has some), status
and when they were last seen.

${GLOBAL}

${EXIT_STATUS}`;

const NODE_INFO = `Usage: gridc node info [options] ID

Shows one node: groups, status, version, running task, backends and their
actions.

${GLOBAL}

${EXIT_STATUS}`;

const CONTROLLERS = `Usage: gridc controllers [options]

Lists the controllers sharing the job store: whether each is online (its
heartbeats, as the answering controller judges them), how many running
jobs it owns, its version, and when it started and was last seen.

${GLOBAL}

${EXIT_STATUS}`;

const STATUS = `Usage: gridc status [options]

Shows the controller's version, how many nodes are online, job counts by
status, and the job queue.

${GLOBAL}

${EXIT_STATUS}`;

const TOKEN = `Usage: gridc token COMMAND

API tokens. Each has a scope: read (GET requests), operate (also submit
and cancel jobs) or admin (also tokens, node enrollment and the audit).
Every command here needs an admin token.

Commands:
  create   Make a token; it is printed once
  list     List the tokens (never the tokens themselves)
  revoke   Revoke a token on every controller

Run 'gridc token COMMAND --help' for a command's options.`;

const TOKEN_CREATE =
  `Usage: gridc token create [options] NAME --scope SCOPE [--ttl DURATION]

Makes an API token named NAME and prints it on stdout. It is shown this
once: the controller keeps only its hash. Hand it to its user, who puts it
in GRID_TOKEN or in their tokens.json under the API's origin.

Options:
      --scope SCOPE      read, operate or admin (required)
      --ttl DURATION     Expire after this long, e.g. 12h, 720h (default: never)

Rotating a token: create a new one, switch its users to it, revoke the old.

Examples:
  gridc token create ci --scope operate --ttl 720h
  export GRID_TOKEN=$(gridc token create alice --scope read)

${GLOBAL}

${EXIT_STATUS}`;

const TOKEN_LIST = `Usage: gridc token list [options]

Lists the tokens: name, scope, when and by whom each was made, and when it
expires. The tokens themselves are never stored, so never shown.

${GLOBAL}

${EXIT_STATUS}`;

const TOKEN_REVOKE = `Usage: gridc token revoke [options] NAME

Revokes the token NAME: every controller refuses it within seconds. The
last admin token cannot be revoked: create another admin token first.

${GLOBAL}

${EXIT_STATUS}`;

const AUDIT = `Usage: gridc audit [options]

Shows the audit trail, newest first: every job submitted or cancelled,
token created or revoked, node enrolled or revoked, and every refused
attempt at one, with who (token name), from where, and the outcome.

Options:
  -n, --limit N        At most N entries (default 50)
      --before SEQ     Entries older than SEQ (the next page)

${GLOBAL}

${EXIT_STATUS}`;

const NODE_ENROLL =
  `Usage: gridc node enroll [options] ID [--groups a,b] [--label k=v] [--out FILE]

Makes NATS credentials for node ID and writes them to FILE (mode 0600;
default ./ID.creds). The node may join only the groups given here, and
carry only the labels given here (what its worker.labels claims beyond
them is ignored). An existing file is never overwritten.

Options:
  -g, --groups LIST    Comma-separated groups the node may join (default none)
  -l, --label K=V,...  Labels the node may carry; may be given again
      --out FILE       Where to write the .creds file (default ./ID.creds)

Then copy the file to the node and set nats.client.credentials in its
gridw.yaml to its path.

${GLOBAL}

${EXIT_STATUS}`;

const NODE_REVOKE = `Usage: gridc node revoke [options] ID

Revokes node ID's credentials: its worker is cut off within seconds and
the node shows as revoked. Other workers are not disturbed.

${GLOBAL}

${EXIT_STATUS}`;

const TEXTS: Record<Topic, string> = {
  "": TOP,
  job: JOB,
  node: NODE,
  "job run": JOB_RUN,
  "job plan": jobPlanHelp(GLOBAL, EXIT_STATUS),
  "job get": JOB_GET,
  "job logs": JOB_LOGS,
  "job list": JOB_LIST,
  "job cancel": JOB_CANCEL,
  "job resume": JOB_RESUME,
  "node list": NODE_LIST,
  "node info": NODE_INFO,
  "node enroll": NODE_ENROLL,
  "node revoke": NODE_REVOKE,
  ...backendHelp(GLOBAL, EXIT_STATUS),
  token: TOKEN,
  "token create": TOKEN_CREATE,
  "token list": TOKEN_LIST,
  "token revoke": TOKEN_REVOKE,
  audit: AUDIT,
  controllers: CONTROLLERS,
  status: STATUS,
};

export function helpText(topic: Topic): string {
  return TEXTS[topic] + "\n";
}
