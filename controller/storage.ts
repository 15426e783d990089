/**
 * Whether JetStream's store has room, and getting back once it has again.
 *
 * What nats-server 2.9.10 does on a full disk (read in its source, and seen
 * on a full tmpfs by tests/disk_full_test.ts):
 * - a write that fails with ENOSPC into a message block that already holds
 *   data deadlocks that stream: the file store rebuilds its state under the
 *   block lock it already holds. The publisher's connection hangs, every
 *   later write to the stream hangs, and nothing is logged. Freeing space
 *   does not help: only a new server process does.
 * - a write into a fresh block answers 10077 "…: no space left on device";
 *   in a cluster, a failed raft write disables JetStream on that server
 *   ("JetStream out of resources, will be DISABLED"), and only a restart (or
 *   a reload that turns it off and on) enables it again.
 * - over its limits it answers 10023 "insufficient resources" (status 503,
 *   which used to read as "electing a leader") or 10047 "insufficient
 *   storage resources available".
 *
 * So the controller watches the free space where its own server stores
 * (statfs) and the words servers answer with. While the store is full the
 * registry is not believed (registry.ts `storage`): no node is judged lost,
 * no job starts, POST /job answers 503 with the reason. Once there is room,
 * if its own server's JetStream is stuck or disabled, it restarts that
 * server, which its supervisor (main.ts) does on any exit.
 */
import { statfsSync } from "node:fs";
import type { Cancel, Clock } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { isUnavailable, RefusedError } from "./errors.ts";

const log = logger("storage");

/** Less free than this and a store counts as full. */
export const LOW_BYTES = 1 << 20;
/** How long a server's "no space" answer stands for the store being full. */
const NOTED_MS = 10_000;
/** Not two restarts of the server closer than this. */
const RESTART_GAP_MS = 30_000;

const NO_SPACE =
  /no space left on device|insufficient (storage )?resources|out of (storage|file|[a-z]* ?)resources/i;

/** Whether an error or a line a server printed says its store is full. */
export function saysNoSpace(text: string): boolean {
  return NO_SPACE.test(text);
}

/**
 * The 503 message for a request that failed while the store is full or
 * because it is; undefined for any other failure (a 404 stays a 404).
 */
export function storageRefusal(
  storage: Pick<StorageWatch, "note" | "reason"> | undefined,
  err: unknown,
): string | undefined {
  const text = errorText(err);
  storage?.note(text);
  const noSpace = saysNoSpace(text);
  const unavailable = noSpace || isUnavailable(err) ||
    (err instanceof RefusedError && err.kind === "unavailable");
  if (!unavailable) return undefined;
  return storage?.reason() ??
    (noSpace
      ? `JetStream storage full: NATS answers "${text}"; try again once space is freed`
      : undefined);
}

/** An error's message and its causes' (NATS wraps the server's words). */
function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 4; depth++) {
    parts.push(e.message);
    e = e.cause;
  }
  return parts.join(": ");
}

/** What the controller's own nats-server's JetStream is doing. */
export type ServerJetStream = "ok" | "stuck" | "disabled";

export interface StorageWatchOptions {
  clock: Clock;
  /** The store of the nats-server this controller runs; none with external NATS. */
  dir?: string;
  /** Free bytes at `dir`; undefined when that cannot be told. */
  free?: (dir: string) => number | undefined;
  /** The controller's own server, when it runs one. */
  server?: {
    jetstream(): Promise<ServerJetStream | undefined>;
    restart(): Promise<void>;
  };
}

export class StorageWatch {
  #o: StorageWatchOptions;
  #free: (dir: string) => number | undefined;
  /** Free bytes while the store is full. */
  #fullFree?: number;
  #noted?: { at: number; text: string };
  /** Space ran out since our server's JetStream last worked. */
  #episode = false;
  #badChecks = 0;
  #restartedAt = -Infinity;
  #stop?: Cancel;
  #busy = false;

  constructor(opts: StorageWatchOptions) {
    this.#o = opts;
    this.#free = opts.free ?? freeBytes;
  }

  /** A server's answer or log line; one saying "no space" counts for a while. */
  note(text: string): void {
    if (!saysNoSpace(text)) return;
    if (!this.#noted) log.error("JetStream says its storage is full", { text });
    this.#noted = { at: this.#o.clock.now(), text };
    this.#episode = true;
  }

  /** True while JetStream cannot store: nothing is judged by what is missing. */
  get full(): boolean {
    return this.#fullFree !== undefined || this.#recent() !== undefined;
  }

  /** Why JetStream cannot store now, or undefined when it can. */
  reason(): string | undefined {
    const paused =
      "jobs are paused, no node is judged lost and new jobs are refused until space is freed";
    if (this.#fullFree !== undefined) {
      return `JetStream storage full: ${
        bytes(this.#fullFree)
      } free where ${this.#o.dir} is (no space left on device); ${paused}`;
    }
    const noted = this.#recent();
    if (noted) {
      return `JetStream storage full: NATS answers "${noted}"; ${paused}`;
    }
    return undefined;
  }

  start(everyMs = 1000): void {
    this.#stop = this.#o.clock.every(everyMs, () => {
      if (this.#busy) return;
      this.#busy = true;
      this.check().finally(() => (this.#busy = false));
    });
  }

  stop(): void {
    this.#stop?.();
  }

  /** One look at the store and, when space ran out, at our server. */
  async check(): Promise<void> {
    const dir = this.#o.dir;
    const free = dir === undefined ? undefined : this.#free(dir);
    if (free !== undefined && free < LOW_BYTES) {
      if (this.#fullFree === undefined) {
        log.error("JetStream storage full", { dir, free });
      }
      this.#fullFree = free;
      this.#episode = true;
      return;
    }
    if (this.#fullFree !== undefined) {
      log.info("JetStream storage has room again", { dir, free });
      this.#fullFree = undefined;
    }
    const server = this.#o.server;
    // Only after space ran out is our server's JetStream looked into.
    if (!server || !this.#episode) {
      if (!this.#recent()) this.#episode = false;
      return;
    }
    const js = await server.jetstream();
    if (js === undefined) return; // the server is not answering at all
    if (js === "ok") {
      this.#badChecks = 0;
      if (this.#episode && !this.#recent()) this.#episode = false;
      return;
    }
    // Neither a disabled JetStream nor a deadlocked stream comes back by
    // itself; two looks in a row, so a server just starting is left alone.
    if (++this.#badChecks < 2 || this.full) return;
    const now = this.#o.clock.now();
    if (now - this.#restartedAt < RESTART_GAP_MS) return;
    this.#restartedAt = now;
    this.#badChecks = 0;
    this.#noted = undefined;
    log.warn(
      `the nats-server's JetStream is ${js} after its storage ran out; restarting it`,
      { dir },
    );
    await server.restart().catch((e) =>
      log.error("restarting nats-server failed", { error: String(e) })
    );
  }

  #recent(): string | undefined {
    const n = this.#noted;
    if (!n) return undefined;
    if (this.#o.clock.now() - n.at < NOTED_MS) return n.text;
    this.#noted = undefined;
    return undefined;
  }
}

let statfsRefused = false;

/** Free bytes for an ordinary user where `dir` is, by statfs. */
export function freeBytes(dir: string): number | undefined {
  if (statfsRefused) return undefined;
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) {
      statfsRefused = true;
      log.warn(
        "cannot watch the store's free space (no sys statfs permission)",
      );
    }
    return undefined;
  }
}

/**
 * Asks a nats-server's monitoring endpoint whether its JetStream is
 * enabled (`/healthz`, lock-free) and whether its streams answer (`/jsz`
 * reads each stream's state under the lock a deadlocked write holds).
 */
export async function serverJetStream(
  monitorUrl: string | undefined,
  fetchFn: typeof fetch = fetch,
): Promise<ServerJetStream | undefined> {
  if (!monitorUrl) return undefined;
  try {
    const h = await fetchFn(`${monitorUrl}/healthz?js-enabled-only=true`, {
      signal: AbortSignal.timeout(2000),
    });
    const body = await h.json() as { status?: string };
    if (body.status !== "ok") return "disabled";
  } catch {
    return undefined;
  }
  try {
    const r = await fetchFn(`${monitorUrl}/jsz`, {
      signal: AbortSignal.timeout(3000),
    });
    await r.body?.cancel();
    return r.ok ? "ok" : undefined;
  } catch (e) {
    return (e as Error).name === "TimeoutError" ? "stuck" : undefined;
  }
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}
