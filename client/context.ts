/**
 * What commands need from the outside world. main.ts builds the real one;
 * tests build fakes. Nothing here touches Deno globals.
 */
import type { ApiClient } from "./api.ts";
import type { Output } from "./args.ts";
import type { ViewOptions } from "./render.ts";
import { jsonLogLine, logFormat } from "../models/log_line.ts";

/** The process-global parts of the CLI, injected. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads a file (a job, the tokens file, a CA); "-" means standard input. */
  readFile(path: string): Promise<string>;
  /**
   * Creates a new file only the user may read (mode 0600); fails with
   * Deno.errors.AlreadyExists rather than replace one.
   */
  createPrivateFile(path: string): Promise<PrivateFile>;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** A fetch that trusts the CA certificate(s) in `pem` (for --ca). */
  fetchTrusting?(pem: string): typeof fetch;
  now(): number;
  sleep(ms: number): Promise<void>;
  env: {
    GRID_API?: string | undefined;
    GRID_TOKEN?: string | undefined;
    GRID_CA?: string | undefined;
    HOME?: string | undefined;
    XDG_CONFIG_HOME?: string | undefined;
    NO_COLOR?: string | undefined;
    TERM?: string | undefined;
    COLUMNS?: string | undefined;
    GRID_LOG_FORMAT?: string | undefined;
  };
  /** Which streams are terminals, and the terminal's width when known. */
  tty: {
    stdout: boolean;
    stderr: boolean;
    columns?: number | undefined;
    stdin?: boolean;
  };
  /** One line typed on standard input (`job run --confirm`); null at its end. */
  readLine?(): Promise<string | null>;
  denoVersion: string;
  /** nats-server version recorded in release.json beside the binary, if any. */
  natsServerVersion?: string | undefined;
  /** How often `--wait` polls the job. Default 250ms. */
  pollMs?: number;
}

/** A file made by `createPrivateFile`: filled once, or removed. */
export interface PrivateFile {
  write(text: string): Promise<void>;
  /** Removes the file (nothing was written to it). */
  discard(): Promise<void>;
}

/** Everything a command runs with. */
export interface Context {
  api: ApiClient;
  io: Io;
  output: Output;
  /** Width, colour and time for stdout's human output. */
  view(): ViewOptions;
  /** Whether to draw a progress bar on stderr. */
  progress: boolean;
  pollMs: number;
}

/** Exit statuses; `gridc --help` documents them. */
export const EXIT = {
  ok: 0,
  failed: 1,
  cancelled: 2,
  usage: 3,
  api: 4,
} as const;

/**
 * A diagnostic on stderr: "gridc: TEXT", or with GRID_LOG_FORMAT=json one
 * JSON object, as the controller and workers log.
 */
export function diag(
  io: Io,
  text: string,
  level: "error" | "warn" = "error",
): void {
  if (logFormat(io.env.GRID_LOG_FORMAT) === "json") {
    const time = new Date(io.now()).toISOString();
    io.stderr(jsonLogLine(time, level, "gridc", text) + "\n");
  } else {
    io.stderr(`gridc: ${level === "warn" ? "warning: " : ""}${text}\n`);
  }
}

/** Prints the API's JSON as it came, for `-o json`. */
export function printJson(io: Io, raw: unknown): void {
  io.stdout(JSON.stringify(raw, null, 2) + "\n");
}

/** NO_COLOR (any non-empty value) and TERM=dumb turn colour off; so does a pipe. */
export function useColor(io: Io, isTerminal: boolean): boolean {
  return isTerminal && !io.env.NO_COLOR && io.env.TERM !== "dumb";
}

/** Lines fit the terminal; off a terminal they are cut at a fixed width (or $COLUMNS). */
export function lineWidth(io: Io): number {
  const env = Number(io.env.COLUMNS);
  const fromEnv = Number.isInteger(env) && env > 0 ? env : undefined;
  if (io.tty.stdout) return io.tty.columns ?? fromEnv ?? 80;
  return fromEnv ?? 120;
}
