/**
 * Serving the API: the first admin token, TLS when configured, and the
 * warning an unauthenticated API deserves at every start.
 */
import type { ControllerConfig } from "../models/config.ts";
import { logger } from "../lib/log.ts";
import { type ApiDeps, createApi } from "./api.ts";
import { bootstrapAdmin } from "./bootstrap.ts";
import { isUnavailable } from "./errors.ts";
import type { TokenStore } from "./tokens.ts";

const log = logger("api");

/** The API could not start; the message names the config key. */
export class ApiStartError extends Error {
  override name = "ApiStartError";
}

export async function serveApi(
  config: ControllerConfig["api"],
  deps: Omit<ApiDeps, "auth" | "maxBody">,
): Promise<Deno.HttpServer> {
  if (config.auth.enabled) {
    await bootstrap(deps.tokens, config.auth.bootstrap_token_file);
  } else {
    log.warn(
      "api.auth.enabled is false: anyone who can reach the API can run anything on every node; use this only for a throwaway rig",
      { host: config.host },
    );
  }
  const tls = config.tls?.cert && config.tls.key
    ? {
      cert: await readPem("api.tls.cert", config.tls.cert),
      key: await readPem("api.tls.key", config.tls.key),
    }
    : undefined;
  const app = createApi({
    ...deps,
    maxBody: config.max_body,
    auth: { enabled: config.auth.enabled, corsOrigins: config.cors_origins },
  });
  const scheme = tls ? "https" : "http";
  try {
    return Deno.serve({
      hostname: config.host,
      port: config.port,
      ...(tls ?? {}),
      onListen: ({ hostname, port }) =>
        log.info("api listening", { url: `${scheme}://${hostname}:${port}` }),
    }, app.fetch);
  } catch (e) {
    throw new ApiStartError(
      `api: cannot listen on ${config.host}:${config.port}: ${
        (e as Error).message
      }`,
    );
  }
}

/**
 * The first admin token. A JetStream cluster that has just started may
 * not answer for a moment: that is waited out; anything else stops the start.
 */
async function bootstrap(tokens: TokenStore, file: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let delay = 250;; delay = Math.min(delay * 2, 2000)) {
    try {
      return await bootstrapAdmin(tokens, file);
    } catch (e) {
      if (!isUnavailable(e) || Date.now() > deadline) {
        throw new ApiStartError((e as Error).message);
      }
      log.info("waiting for JetStream: bootstrap token", { error: String(e) });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

async function readPem(key: string, file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (e) {
    throw new ApiStartError(
      `${key}: cannot read ${file}: ${(e as Error).message}`,
    );
  }
}
