/**
 * Controllers announce themselves in KV `grid_controllers`; each watches
 * the others, so a dead owner's running jobs can be taken over.
 */
import type { KV } from "@nats-io/kv";
import type { JetStreamClient } from "@nats-io/jetstream";
import { followBucket } from "../lib/kv_follow.ts";
import { ControllerRecord } from "../models/controller.ts";
import { logger } from "../lib/log.ts";
import { encodeJson } from "../lib/nats.ts";
import type { Clock } from "../lib/clock.ts";
import { iso } from "../lib/clock.ts";
import { type BadRecords, badRecords, readRecord } from "./bad_records.ts";

const log = logger("peers");

export class Peers {
  readonly all = new Map<string, ControllerRecord>();
  #revs = new Map<string, number>();
  /** When our own heartbeat last came back through the watch. */
  #echoAt = 0;
  /** When our view last became current again after going stale. */
  #freshSince = 0;
  #self: ControllerRecord;
  #timer?: ReturnType<typeof setInterval>;
  /** When our own heartbeat last reached the store: proof JetStream is up. */
  lastBeatOk = 0;
  #stop?: () => void;

  constructor(
    readonly kv: KV,
    readonly clock: Clock,
    self: Pick<ControllerRecord, "id" | "hostname" | "version">,
    readonly heartbeatMs: number,
    readonly staleMs: number,
    readonly js: JetStreamClient,
    readonly bad: BadRecords = badRecords,
  ) {
    const now = iso(clock.now());
    this.#self = { ...self, status: "online", last_seen: now, started_at: now };
  }

  get id(): string {
    return this.#self.id;
  }

  async start(): Promise<void> {
    const f = await followBucket(this.js, this.kv, "controllers", (e) => {
      const have = this.#revs.get(e.key) ?? 0;
      if (e.revision <= have) return;
      this.#revs.set(e.key, e.revision);
      if (e.operation !== "PUT") return this.#apply(e.key, undefined);
      const r = readRecord(() => e.json(), ControllerRecord);
      // Skipped before it can count as the echo of our heartbeat: bytes
      // under our own key prove nothing about our view being current.
      if (r.ok && r.value.id === e.key) return this.#apply(e.key, r.value);
      const why = r.ok ? `its id is "${r.value.id}"` : r.why;
      this.bad.report("controllers", e.key, e.revision, why);
    });
    this.#stop = () => f.stop();
    await this.#beat();
    this.#timer = setInterval(() => this.#beat(), this.heartbeatMs);
  }

  /**
   * A controller is alive when it says so and has heartbeated recently. If
   * our own heartbeats are not coming back to us, our view is stale (the
   * watch is stuck), and nobody is judged dead on it.
   */
  alive(id: string | undefined, now = this.clock.now()): boolean {
    if (!id) return false;
    if (id === this.#self.id) return true;
    if (now - this.#echoAt > this.staleMs / 2) return true;
    const p = this.all.get(id);
    // Heartbeats that were stuck with our view may still be on their way:
    // nobody is judged on them until a full stale threshold after it recovers.
    return p !== undefined && p.status === "online" &&
      now - Math.max(Date.parse(p.last_seen), this.#freshSince) < this.staleMs;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#stop?.();
    this.#self = {
      ...this.#self,
      status: "offline",
      last_seen: iso(this.clock.now()),
    };
    await this.kv.put(this.#self.id, encodeJson(this.#self)).catch(() => {});
  }

  async #beat(): Promise<void> {
    this.#self = { ...this.#self, last_seen: iso(this.clock.now()) };
    try {
      await this.kv.put(this.#self.id, encodeJson(this.#self));
      this.lastBeatOk = this.clock.now();
    } catch (e) {
      log.warn("controller heartbeat failed", { error: String(e) });
    }
  }

  #apply(key: string, value: ControllerRecord | undefined): void {
    if (key === this.#self.id && value !== undefined) {
      const now = this.clock.now();
      if (this.#echoAt > 0 && now - this.#echoAt > this.staleMs / 2) {
        this.#freshSince = now;
      }
      this.#echoAt = now;
    }
    if (value === undefined) this.all.delete(key);
    else this.all.set(key, value);
  }
}
