/**
 * The one place that prints diagnostics. Lines go to stderr as
 * `time level component: message key=value`, so stdout stays free for
 * program output.
 */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

let threshold: Level = "info";
const encoder = new TextEncoder();

export function setLogLevel(level: string | undefined): void {
  if (level && level in ORDER) threshold = level as Level;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function logger(component: string): Logger {
  const emit =
    (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < ORDER[threshold]) return;
      let line = `${
        new Date().toISOString()
      } ${level.toUpperCase()} ${component}: ${msg}`;
      for (const [k, v] of Object.entries(fields ?? {})) {
        line += ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`;
      }
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
  };
}

/** Prints a fatal message and exits: for config and start-up errors. */
export function die(message: string, code = 1): never {
  Deno.stderr.writeSync(encoder.encode(`error: ${message}\n`));
  Deno.exit(code);
}
