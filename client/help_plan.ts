/** `gridc job plan --help`, and the targeting lines `job run --help` shares. */

/** How -t and --selector are described wherever a job is targeted. */
export const TARGET_OPTIONS =
  `  -t, --target TARGET      all (default), group:NAME or node:ID
      --selector SELECTOR  Labels, groups and nodes instead of -t, e.g.
                           "role=web,env!=canary,!node:web-03" (README,
                           "Targeting")`;

/** The rollout flags `job run` and `job plan` share. */
export const ROLLOUT_OPTIONS =
  `      --batch N|PCT        Run the job batch by batch: nodes per batch, a
                           count or a share such as 10% (README, "Rolling
                           out in batches")
      --canary N           A first batch of N nodes, then pause until
                           'gridc job resume ID'
      --pause DURATION     Wait between batches, e.g. 30s
      --max-failures N|PCT Nodes that may fail before no new batch starts
                           (needs -s continue)`;

export function jobPlanHelp(global: string, exitStatus: string): string {
  return `Usage:
  gridc job plan [options] BACKEND ACTION [KEY=VALUE...]
  gridc job plan [options] -f FILE

Shows what the job would do if submitted now, and changes nothing: the
nodes its target matches (online ones run it, offline ones would be
skipped), the steps each runs, the batches of its rollout and what its
failure budget means in nodes. Params are checked against what each
targeted node advertises, as a submit would check them. Needs a read token.

Options:
${TARGET_OPTIONS}
  -f, --file FILE          Read the job from FILE
  -s, --strategy NAME      fail-fast (default) or continue
      --timeout DURATION   Job timeout, e.g. 30s, 5m, 1m30s
${ROLLOUT_OPTIONS}

With -f, these options override the file's values; a rollout flag
overrides only its own field of the file's rollout.

The exit status is 1 when the controller would refuse the job (the reason
is printed). With -o json, the plan as POST /job/plan answers it.

Examples:
  gridc job plan -f deploy.yaml
  gridc job plan --selector "role=web,!node:web-03" apt upgrade

${global}

${exitStatus}`;
}
