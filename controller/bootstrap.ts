/**
 * The first admin token, so a fresh install is locked from its first
 * start and its operator still gets in: `api.auth.bootstrap_token_file`.
 *
 * - The file exists: its trimmed content is registered as the admin token
 *   `bootstrap` (the operator may write one there before the first start,
 *   or copy it to the other controllers of a cluster).
 * - Else, when no admin token exists, a new one is made and written there
 *   (mode 0600). The bucket key is created first, create-only, so of
 *   several controllers starting at once exactly one writes its file.
 *
 * The log says where the token is, never what it is.
 */
import { dirname } from "node:path";
import { logger } from "../lib/log.ts";
import { newToken, type TokenStore } from "./tokens.ts";
import { RefusedError } from "./errors.ts";

const log = logger("auth");

export const BOOTSTRAP_NAME = "bootstrap";
/** Shorter than this is no secret (`grid_` tokens are 48 characters). */
const MIN_LENGTH = 32;

/** The token file cannot be used; the message never holds its content. */
export class BootstrapError extends Error {
  override name = "BootstrapError";
}

export async function bootstrapAdmin(
  tokens: TokenStore,
  file: string,
): Promise<void> {
  const given = await readTokenFile(file);
  if (given !== undefined) {
    await registerGiven(tokens, given, file);
    return;
  }
  if (tokens.hasAdmin()) return;
  const token = newToken();
  try {
    await tokens.register(BOOTSTRAP_NAME, token, "admin", BOOTSTRAP_NAME);
  } catch (e) {
    if (e instanceof RefusedError && e.kind === "conflict") {
      log.info("another controller made the admin token", { file });
      return;
    }
    throw e;
  }
  try {
    await writeSecret(file, token + "\n");
  } catch (e) {
    // A token no one can read is of no use, and the next start would not
    // make another: take it back.
    await tokens.revoke(BOOTSTRAP_NAME).catch(() => {});
    throw new BootstrapError(
      `api.auth.bootstrap_token_file: cannot write ${file}: ${
        (e as Error).message
      }`,
    );
  }
  log.info("admin token created; it is in the bootstrap token file", {
    file,
  });
}

async function registerGiven(
  tokens: TokenStore,
  token: string,
  file: string,
): Promise<void> {
  // Registered already (expired too: the operator decides about that).
  if (tokens.authenticate(token) !== "unknown") return;
  if (tokens.get(BOOTSTRAP_NAME)) {
    // The file holds a different token than the one registered: the file
    // is the operator's word (a rotation), so it replaces the old one.
    await tokens.revoke(BOOTSTRAP_NAME);
    log.info("bootstrap token replaced by the file's", { file });
  }
  try {
    await tokens.register(BOOTSTRAP_NAME, token, "admin", BOOTSTRAP_NAME);
    log.info("admin token registered from the bootstrap token file", { file });
  } catch (e) {
    // A peer registered it at the same moment.
    if (!(e instanceof RefusedError && e.kind === "conflict")) throw e;
  }
}

/** The file's token, or undefined when there is no file. */
async function readTokenFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new BootstrapError(
      `api.auth.bootstrap_token_file: cannot read ${file}: ${
        (e as Error).message
      }`,
    );
  }
  const token = text.trim();
  if (token.length < MIN_LENGTH || /\s/.test(token)) {
    throw new BootstrapError(
      `api.auth.bootstrap_token_file: ${file} must hold one token of at least ${MIN_LENGTH} characters and no spaces (remove the file to have a new one made)`,
    );
  }
  return token;
}

/**
 * Writes `text` readable by the owner only. It goes to a new file that is
 * then renamed over `file`, so a peer reading `file` never sees half of it.
 */
async function writeSecret(file: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true, mode: 0o600 });
    // A umask cannot widen it, but say so plainly.
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, file);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
