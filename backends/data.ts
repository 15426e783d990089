/** Results that carry data (sysinfo, stat, checksum, health, cert, dns). */
import type { ActionOutput } from "./types.ts";

/**
 * An action's result: its data, and the same as compact JSON for the text
 * output, the form jobs written for the reference parse.
 */
export function dataOutput(data: unknown): ActionOutput {
  return { output: JSON.stringify(data), data };
}
