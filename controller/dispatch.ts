/**
 * What the runner sends to nodes: run commands (first sends, retries after
 * a backoff, re-sends), aborts, and outcomes the controller decides itself
 * (a node offline at dispatch, a node lost), which go into the event log so
 * a replay reaches the same decision.
 */
import type {
  AbortCommand,
  ResultEvent,
  RunCommand,
} from "../models/messages.ts";
import { resultEvent } from "../models/messages.ts";
import type { Clock } from "../lib/clock.ts";
import { iso } from "../lib/clock.ts";
import { logger } from "../lib/log.ts";
import { encodeJson } from "../lib/nats.ts";
import type { Active, Sent } from "./active.ts";
import type { CommandLog, EventLog } from "./logs.ts";
import type { Effect } from "./job_state.ts";

const log = logger("runner");

export interface DispatchDeps {
  commands: CommandLog;
  events: EventLog;
  clock: Clock;
  taskTimeoutMs: number;
  /**
   * Whether this controller may send for the job now: it still owns it and
   * holds its lease. "fenced" means never again; "wait" means not yet.
   */
  mayAct(a: Active): "yes" | "wait" | "fenced";
  /** Whether the node may be judged offline now (no grace) and is. */
  isOffline(node: string): boolean;
}

type Dispatch = Extract<Effect, { kind: "dispatch" }>;
type Abort = Extract<Effect, { kind: "abort" }>;

export class Dispatcher {
  #d: DispatchDeps;
  /** The last command encoded: every node of a step gets the same bytes. */
  #cmd?: { key: string; at: number; body: Uint8Array };

  constructor(deps: DispatchDeps) {
    this.#d = deps;
  }

  /** Sends an attempt now, or when its backoff is over. */
  dispatch(a: Active, e: Dispatch, resend: boolean): void {
    this.clear(a, e.node);
    const s: Sent = {
      step: e.leaf.index,
      attempt: e.attempt,
      leaf: e.leaf,
      seq: 0,
      sentAt: 0,
      resends: 0,
      resend,
    };
    a.sent.set(e.node, s);
    const wait = e.notBefore - this.#d.clock.now();
    if (wait > 0) {
      s.retryTimer = this.#d.clock.after(wait, () => {
        s.retryTimer = undefined;
        if (a.sent.get(e.node) === s) this.send(a, e.node, s);
      });
      return;
    }
    this.send(a, e.node, s);
  }

  /** Sends the attempt again, deliberately: past the stream's de-duplication. */
  resend(a: Active, node: string): void {
    const s = a.sent.get(node);
    if (!s) return;
    s.resends++;
    s.resend = true;
    this.send(a, node, s);
  }

  send(a: Active, node: string, s: Sent): void {
    const { clock } = this.#d;
    const now = clock.now();
    const may = this.#d.mayAct(a);
    if (may === "fenced") return;
    if (may === "wait") {
      // Peers may already count us gone and be taking our jobs: send
      // nothing until our own heartbeat gets through; the sweep retries.
      s.seq = -1;
      s.sentAt = now;
      return;
    }
    if (this.#d.isOffline(node)) {
      s.settled = true;
      this.decide(a, node, s, "node is offline", false);
      return;
    }
    const body = this.#encode(a, s, now);
    s.sentAt = now;
    const key = `${a.record.id}.${s.step}.${node}.${s.attempt}`;
    this.#d.commands.send(
      node,
      body,
      // The first send is de-duplicated by the stream across a controller
      // restart, and so is a retry of a publish that got no ack (it may have
      // landed); a deliberate re-send needs a fresh id to get through.
      s.resends === 0 ? key : `${key}.r${s.resends}`,
      (seq, err) => {
        s.seq = seq;
        if (err) {
          log.warn("publishing a command failed; will retry", {
            node,
            error: err,
          });
        }
      },
    );
  }

  abort(a: Active, e: Abort): void {
    this.clear(a, e.node);
    const cmd: AbortCommand = {
      type: "abort",
      job: a.record.id,
      step: e.step,
      attempt: e.attempt,
      reason: e.reason,
    };
    this.#d.commands.send(e.node, encodeJson(cmd), undefined, (_seq, err) => {
      if (err) {
        log.warn("publishing an abort failed", { node: e.node, error: err });
      }
    });
  }

  /** Publishes an outcome the controller decided, to be applied in log order. */
  decide(
    a: Active,
    node: string,
    s: Sent,
    error: string,
    retryable: boolean,
  ): void {
    const ev = resultEvent(
      { job: a.record.id, step: s.step, attempt: s.attempt },
      node,
      "controller",
      { status: "failed", error, retryable },
      { finishedAt: this.#d.clock.now() },
    );
    this.#d.events.append(ev).catch((err) => {
      s.settled = false;
      log.warn("publishing a decision failed; will retry", {
        node,
        error: String(err),
      });
    });
  }

  /**
   * An attempt has its outcome: nothing is left to re-send or to judge
   * lost for it, however long the step's other nodes take.
   */
  answered(a: Active, ev: ResultEvent): void {
    const s = a.sent.get(ev.node);
    if (s?.step === ev.step && s.attempt === ev.attempt) this.clear(a, ev.node);
  }

  clear(a: Active, node: string): void {
    a.sent.get(node)?.retryTimer?.();
    a.sent.delete(node);
  }

  clearAll(a: Active): void {
    for (const node of [...a.sent.keys()]) this.clear(a, node);
  }

  /**
   * Every node of a step gets the same command: it is built and encoded
   * once per batch (same job, step, attempt and timeout, within a second).
   */
  #encode(a: Active, s: Sent, now: number): Uint8Array {
    const timeoutMs = s.leaf.timeoutMs ?? this.#d.taskTimeoutMs;
    const key =
      `${a.record.id}.${s.step}.${s.attempt}.${timeoutMs}.${s.resend}`;
    if (this.#cmd?.key === key && now - this.#cmd.at < 1000) {
      return this.#cmd.body;
    }
    const cmd: RunCommand = {
      type: "run",
      job: a.record.id,
      step: s.step,
      attempt: s.attempt,
      backend: s.leaf.backend,
      action: s.leaf.action,
      params: s.leaf.params,
      timeout_ms: timeoutMs,
      issued_at: iso(now),
      ...(s.resend ? { resend: true } : {}),
    };
    const body = encodeJson(cmd);
    this.#cmd = { key, at: now, body };
    return body;
  }
}
