/**
 * Where gridc finds its API token and the CA it trusts. A token comes from
 * --token, else GRID_TOKEN, else the user's tokens file: a JSON map from
 * API origin to token, so the tokens of several controllers (a local rig,
 * staging, production) live side by side and none overwrites another.
 */
import type { Io } from "./context.ts";
import { UsageError } from "./usage.ts";

/** A token and where it came from, for messages when it is refused. */
export interface FoundToken {
  token?: string;
  /** "--token", "GRID_TOKEN", the tokens file, or "none". */
  from: string;
}

/** `$XDG_CONFIG_HOME/grid/tokens.json`, else `~/.config/grid/tokens.json`. */
export function tokensFile(env: Io["env"]): string | undefined {
  if (env.XDG_CONFIG_HOME) return `${env.XDG_CONFIG_HOME}/grid/tokens.json`;
  if (env.HOME) return `${env.HOME}/.config/grid/tokens.json`;
  return undefined;
}

/** The key of `base` in the tokens file: its origin (scheme, host, port). */
export function originOf(base: string): string {
  return new URL(base).origin;
}

export async function findToken(
  io: Io,
  base: string,
  flag: string | undefined,
): Promise<FoundToken> {
  if (flag !== undefined) return { token: flag, from: "--token" };
  const env = io.env.GRID_TOKEN?.trim();
  if (env) return { token: env, from: "GRID_TOKEN" };
  const file = tokensFile(io.env);
  if (file === undefined) return { from: "none" };
  let text: string;
  try {
    text = await io.readFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { from: "none" };
    throw new UsageError(`${file}: cannot read it: ${(e as Error).message}`);
  }
  let map: unknown;
  try {
    map = JSON.parse(text);
  } catch {
    map = undefined;
  }
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    throw new UsageError(
      `${file}: must be a JSON object mapping API origins to tokens`,
    );
  }
  const token = (map as Record<string, unknown>)[originOf(base)];
  if (token === undefined) return { from: "none" };
  if (typeof token !== "string" || token.trim() === "") {
    throw new UsageError(
      `${file}: the entry for ${originOf(base)} must be a token string`,
    );
  }
  return { token: token.trim(), from: file };
}

/** What to tell a user whose request was refused (401 or 403). */
export function authHint(
  status: number,
  found: FoundToken,
  base: string,
  file: string | undefined,
): string {
  if (status === 403) {
    return "ask an admin for a token with the scope named above (gridc token create NAME --scope SCOPE)";
  }
  const where = file ? `, or an entry for ${originOf(base)} in ${file}` : "";
  if (found.token === undefined) {
    return `no token was given: use --token, GRID_TOKEN${where}`;
  }
  return `the token from ${found.from} was refused: get a valid one from an admin (gridc token create)`;
}
