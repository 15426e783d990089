/**
 * Starting a task's child: what a backend may ask for, the environment the
 * child gets, and what an operator reads when it cannot start. Everything a
 * request could do wrong is refused here, before any process exists.
 */
import { abortReason } from "./abort.ts";
import { ActionError, type ExecRequest } from "./types.ts";

/** The only PATH a child sees: no operator-writable directories. */
export const CHILD_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Starts the request's program with a cleared environment, no stdin and
 * piped output, as the leader of its own process group.
 * @throws {ActionError} when the request is invalid, `signal` has already
 * aborted, or the program cannot start
 */
export async function spawnChild(
  req: ExecRequest,
  signal: AbortSignal,
): Promise<Deno.ChildProcess> {
  const [program, args] = checkRequest(req);
  if (signal.aborted) {
    throw new ActionError(`Did not start ${program}: ${abortReason(signal)}`);
  }
  try {
    return new Deno.Command(program, {
      args,
      clearEnv: true,
      env: { ...req.env, PATH: CHILD_PATH },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true, // setsid(): the child leads its own process group.
    }).spawn();
  } catch (e) {
    throw await spawnError(program, e);
  }
}

/** Rejects requests no backend should make, before anything starts. */
function checkRequest(req: ExecRequest): [string, string[]] {
  const argv = req.argv;
  const bad = (why: string) =>
    new ActionError(`Invalid command: ${why}`, false);
  if (!Array.isArray(argv) || argv.length === 0) throw bad("argv is empty");
  for (const a of argv) {
    if (typeof a !== "string" || a.includes("\0")) {
      throw bad(`argument ${JSON.stringify(a)} is not a NUL-free string`);
    }
  }
  if (!argv[0]!.startsWith("/")) {
    throw bad(`program ${JSON.stringify(argv[0])} must be an absolute path`);
  }
  for (const [k, v] of Object.entries(req.env ?? {})) {
    if (!ENV_NAME.test(k)) {
      throw bad(`environment name ${JSON.stringify(k)} is not valid`);
    }
    if (k === "PATH") {
      throw bad(`PATH is fixed to ${CHILD_PATH} and cannot be set`);
    }
    if (typeof v !== "string" || v.includes("\0")) {
      throw bad(`environment value for ${k} is not a NUL-free string`);
    }
  }
  return [argv[0]!, argv.slice(1)];
}

async function spawnError(program: string, e: unknown): Promise<unknown> {
  if (e instanceof Deno.errors.NotCapable) {
    return new ActionError(
      `Not permitted to run ${program}: it is not in the worker's --allow-run list`,
      false,
    );
  }
  if (e instanceof Deno.errors.NotFound) {
    // ENOENT also comes from a missing #! interpreter or loader.
    const exists = await Deno.stat(program).then(() => true, () => false);
    return new ActionError(
      exists
        ? `Cannot start ${program}: its interpreter or a shared library is missing`
        : `Program not found: ${program}`,
      false,
    );
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new ActionError(
      `Permission denied running ${program}: check that it is executable`,
      false,
    );
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new ActionError(`Could not start ${program}: ${msg}`);
}
