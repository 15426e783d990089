/**
 * The quick start: `deno task local`. Starts a controller (API on
 * http://localhost:8765, NATS on 4222) and three workers — web-01 and
 * web-02 in groups web and prod, db-01 in db and prod — runs a sample job
 * with gridc, then keeps the cluster up until Ctrl-C.
 */
import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { Cluster } from "../testing/mod.ts";
import { tokensFile } from "../client/credentials.ts";
import { gridc, LOCAL_FLEET } from "./fleet.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "api-port": { type: "string", default: "8765" },
    "nats-port": { type: "string", default: "4222" },
    quiet: { type: "boolean", default: false },
  },
});

const say = (s: string) => console.log(`==> ${s}`);
const cluster = new Cluster({
  workers: LOCAL_FLEET,
  apiPort: Number(values["api-port"]),
  natsPort: Number(values["nats-port"]),
  echo: values.quiet
    ? undefined
    : (name, line) => console.log(`[${name}] ${line}`),
});

say(`starting the controller (API ${cluster.api}, NATS ${cluster.natsUrl})`);
say(
  `and workers ${
    LOCAL_FLEET.map((w) => `${w.id} (${w.groups!.join(", ")})`).join(", ")
  }`,
);
try {
  await cluster.start();
} catch (e) {
  console.error(
    `error: the local cluster did not start: ${
      (e as Error).message.split("\n")[0]
    }`,
  );
  console.error(
    "hint: is something else using the ports? try --api-port and --nats-port",
  );
  Deno.exit(1);
}
const byHand =
  `export GRID_TOKEN=$(cat ${cluster.dir}/admin.token) for gridc to use it`;
try {
  const saved = await saveToken(cluster);
  say(
    saved
      ? `the admin token is in ${saved} for ${cluster.api} and http://localhost:${cluster.apiPort}: gridc finds it there`
      : `no HOME or XDG_CONFIG_HOME to keep the admin token in: ${byHand}`,
  );
} catch (e) {
  say(`${(e as Error).message}; ${byHand}`);
}
say("all three workers are online; running scenarios/jobs/smoke-test.yaml");
const status = await gridc(
  [
    "-a",
    cluster.api,
    "job",
    "run",
    "-f",
    "scenarios/jobs/smoke-test.yaml",
    "--wait",
  ],
  true,
  { GRID_TOKEN: cluster.token ?? "" },
)
  .output();
say(
  `the sample job ${
    status.code === 0 ? "completed" : `ended with exit status ${status.code}`
  }`,
);
say(`the cluster keeps running. In another terminal try:
      deno task gridc -a ${cluster.api} node list
      deno task gridc -a ${cluster.api} job run -t group:web ping echo message=hello --wait
    or open the dashboard at ${cluster.api}/ and sign in with the admin token.
    Press Ctrl-C to stop everything.`);

await new Promise<void>((resolve) => {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => resolve());
  }
});
say("stopping the cluster");
// The token dies with the rig; its entry stays until the next ./dev local replaces it.
await cluster.stop();
say("stopped");
Deno.exit(0);

/**
 * Puts the rig's admin token in the user's gridc tokens file under the
 * API's origins (127.0.0.1 and localhost), leaving every other entry as
 * it was. Answers the file, or undefined when there is no config dir.
 */
async function saveToken(c: Cluster): Promise<string | undefined> {
  const file = tokensFile({
    HOME: Deno.env.get("HOME"),
    XDG_CONFIG_HOME: Deno.env.get("XDG_CONFIG_HOME"),
  });
  if (file === undefined || c.token === undefined) return undefined;
  let map: Record<string, unknown> = {};
  try {
    const old = JSON.parse(await Deno.readTextFile(file));
    if (old !== null && typeof old === "object" && !Array.isArray(old)) {
      map = old;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new Error(`${file}: cannot update it: ${(e as Error).message}`);
    }
  }
  for (const origin of [c.api, `http://localhost:${c.apiPort}`]) {
    map[origin] = c.token;
  }
  await Deno.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(map, null, 2) + "\n", {
    mode: 0o600,
  });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, file);
  return file;
}
