/** `gridc backend --help`, `backend list --help`, `backend describe --help`. */

export function backendHelp(global: string, exitStatus: string) {
  return {
    backend: `Usage: gridc backend COMMAND

Commands:
  list      The backends the online nodes offer, and their actions
  describe  One backend's actions and params, as the nodes check them

${exitStatus}`,
    "backend list": `Usage: gridc backend list [options]

Lists the backends the online nodes offer (GET /backends): each with its
actions and how many nodes offer it. A node offers the backends its worker
config enables (worker.backends) and can run.

${global}

${exitStatus}`,
    "backend describe": `Usage: gridc backend describe [options] NAME

Shows backend NAME's actions and, for each, its params: kind, whether it
is required, its default, an example and what it accepts. These are the
descriptions the workers advertise and check params against, so they hold
for the version each node runs. Exit status 4 when no online node offers
NAME.

${global}

${exitStatus}`,
  };
}
