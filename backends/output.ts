/**
 * Turning process results into the text an operator reads. Results travel
 * through NATS and sit in the job log, so every path that can grow without
 * bound is capped here.
 */
import type { ExecResult } from "./types.ts";

/** The cap the Go reference used for one task's output; the worker relies on it. */
export const MAX_OUTPUT_BYTES = 256 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The longest prefix of `bytes` that is at most `max` bytes and does not end
 * inside a UTF-8 sequence, so a cut never produces a replacement character.
 */
export function utf8Prefix(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = Math.max(0, max);
  // Step back over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Caps `text` at `max` UTF-8 bytes, including a trailing line that says how
 * many bytes were dropped.
 */
export function capOutput(text: string, max = MAX_OUTPUT_BYTES): string {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return text;
  // The note's length depends on the count, which depends on the note's
  // length; sizing it for the worst case (all bytes dropped) settles it.
  const note = (n: number) => `\n[output truncated: ${n} bytes dropped]`;
  const room = Math.max(0, max - encoder.encode(note(bytes.length)).length);
  const kept = utf8Prefix(bytes, room);
  return decoder.decode(kept) + note(bytes.length - kept.length);
}

/** "exit code 100" or "killed by SIGTERM". */
export function describeExit(r: Pick<ExecResult, "code" | "signal">): string {
  if (r.signal) return `killed by ${r.signal}`;
  return `exit code ${r.code ?? "unknown"}`;
}

/** stdout then stderr, with a note when the exec cap dropped some of it. */
export function execOutput(r: ExecResult): string {
  const parts = [r.stdout.trimEnd(), r.stderr.trimEnd()].filter((p) => p);
  if (r.truncated) {
    parts.push(`[output truncated: ${r.dropped ?? "some"} bytes dropped]`);
  }
  return parts.join("\n");
}

/**
 * The last non-empty line of a program's stderr (or stdout), which is where
 * apt-get and systemctl put the reason they failed.
 */
export function lastLine(r: Pick<ExecResult, "stdout" | "stderr">): string {
  for (const stream of [r.stderr, r.stdout]) {
    const lines = stream.split("\n").map((l) => l.trim()).filter((l) => l);
    if (lines.length) return lines[lines.length - 1]!;
  }
  return "";
}

/** "WHAT failed (exit code N): last line of output", the one way a failed run is described. */
export function failedRun(what: string, r: ExecResult): string {
  const why = lastLine(r);
  return `${what} failed (${describeExit(r)})${why ? `: ${why}` : ""}`;
}
