/**
 * Records read from NATS that are not what they should be (not JSON, or
 * not the schema): each is skipped by the store that read it, logged once
 * with where it lies, and counted for `GET /status`. Anyone who can write
 * to a bucket or stream can put anything there; none of it may stop a
 * controller.
 */
import type { z } from "zod";
import { logger } from "../lib/log.ts";

const log = logger("records");

/** What a bad record was: the store or stream it was read from. */
export type RecordKind =
  | "jobs"
  | "claims"
  | "controllers"
  | "tokens"
  | "audit"
  | "results"
  | "output";

/** Bad records remembered to log and count each once; older ones are forgotten. */
const REMEMBERED = 10_000;

export class BadRecords {
  #counts = new Map<RecordKind, number>();
  #seen = new Set<string>();

  /**
   * Notes a bad record at `key` (a KV key or a subject) and `seq` (its
   * revision or stream sequence): counted and logged the first time only,
   * since a record is read again on every restart, re-watch or page.
   */
  report(kind: RecordKind, key: string, seq: number, why: string): void {
    const id = `${kind} ${seq} ${key}`;
    if (this.#seen.has(id)) return;
    this.#seen.add(id);
    if (this.#seen.size > REMEMBERED) {
      this.#seen.delete(this.#seen.values().next().value!);
    }
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    log.warn(`skipping a malformed record in ${kind}`, { key, seq, why });
  }

  count(kind: RecordKind): number {
    return this.#counts.get(kind) ?? 0;
  }

  /** Counts by kind, the kinds with none left out. */
  counts(): Partial<Record<RecordKind, number>> {
    return Object.fromEntries(this.#counts);
  }
}

/** The controller's tally: every store reports here unless given its own. */
export const badRecords = new BadRecords();

/**
 * The entry's value read as `schema`, or why not. `json` is the entry's
 * own decoder, which throws on bytes that are not JSON.
 */
export function readRecord<T>(
  json: () => unknown,
  schema: z.ZodType<T>,
): { ok: true; value: T } | { ok: false; why: string } {
  let data: unknown;
  try {
    data = json();
  } catch {
    // The parser's message quotes the bytes, which may be a secret.
    return { ok: false, why: "not JSON" };
  }
  const r = schema.safeParse(data);
  if (r.success) return { ok: true, value: r.data };
  const first = r.error.issues[0];
  const at = first?.path.map(String).join(".") ?? "";
  return {
    ok: false,
    why: `not a valid record: ${at ? `${at}: ` : ""}${first?.message ?? "?"}`,
  };
}
