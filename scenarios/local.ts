/**
 * The quick start: `deno task local`. Starts a controller (API on
 * http://localhost:8765, NATS on 4222) and three workers — web-01 and
 * web-02 in groups web and prod, db-01 in db and prod — runs a sample job
 * with gridc, then keeps the cluster up until Ctrl-C.
 */
import { parseArgs } from "node:util";
import { Cluster } from "../testing/mod.ts";
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
say("all three workers are online; running scenarios/jobs/smoke-test.yaml");
const status = await gridc([
  "-a",
  cluster.api,
  "job",
  "run",
  "-f",
  "scenarios/jobs/smoke-test.yaml",
  "--wait",
], true)
  .output();
say(
  `the sample job ${
    status.code === 0 ? "completed" : `ended with exit status ${status.code}`
  }`,
);
say(`the cluster keeps running. In another terminal try:
      deno task gridc -a ${cluster.api} node list
      deno task gridc -a ${cluster.api} job run -t group:web ping echo message=hello --wait
    Press Ctrl-C to stop everything.`);

await new Promise<void>((resolve) => {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => resolve());
  }
});
say("stopping the cluster");
await cluster.stop();
say("stopped");
Deno.exit(0);
