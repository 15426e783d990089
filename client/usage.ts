/** What the argument parsers share: the usage error and option values. */

/** A mistake on the command line or in a job file (exit status 3). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Option values by name: a string, or true for a flag. */
export type Values = Partial<Record<string, string | true>>;

export const str = (v: string | true | undefined): string | undefined =>
  typeof v === "string" ? v : undefined;

/** The hint that ends a usage error. */
export const seeHelp = (topic: string): string =>
  `see 'gridc ${topic ? topic + " " : ""}--help'`;

/** A whole number of at least 1 given to option `flag`. */
export function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) {
    throw new UsageError(
      `${flag} "${text}": must be a whole number of at least 1`,
    );
  }
  return n;
}
