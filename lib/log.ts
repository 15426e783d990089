/**
 * The one place that prints diagnostics. Lines go to stderr, so stdout
 * stays free for program output: `time level component: message key=value`,
 * or with `GRID_LOG_FORMAT=json` one JSON object per line
 * (models/log_line.ts) for log shippers.
 */
import { jsonLogLine, logFormat } from "../models/log_line.ts";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

let threshold: Level = "info";
let format: "json" | "text" = "text";
const encoder = new TextEncoder();

export function setLogLevel(level: string | undefined): void {
  if (level && level in ORDER) threshold = level as Level;
}

/** `GRID_LOG_FORMAT`: "json" for one JSON object per line, else text. */
export function setLogFormat(value: string | undefined): void {
  format = logFormat(value);
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** The text of one line, without its newline. */
export function formatLine(
  level: Level,
  component: string,
  msg: string,
  fields: Record<string, unknown> = {},
  time = new Date().toISOString(),
): string {
  if (format === "json") {
    return jsonLogLine(time, level, component, msg, fields);
  }
  let line = `${time} ${level.toUpperCase()} ${component}: ${msg}`;
  for (const [k, v] of Object.entries(fields)) {
    line += ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`;
  }
  return line;
}

export function logger(component: string): Logger {
  const emit =
    (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < ORDER[threshold]) return;
      const line = formatLine(level, component, msg, fields);
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
  const line = format === "json"
    ? formatLine("error", "main", message)
    : `error: ${message}`;
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
  Deno.exit(code);
}
