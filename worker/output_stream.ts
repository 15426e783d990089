/**
 * A running task's output, sent on as it comes: gathered into chunks at
 * most a few times a second (a chatty task costs a few messages, not one
 * per line), and no more than a set amount per attempt. The stored result
 * still holds the whole (capped) output; streaming is for watching.
 */
import type { OutputChunk, RunCommand } from "../models/messages.ts";
import type { Cancel, Clock } from "../lib/clock.ts";

/** At most this often per task: a bound on messages, not on what they hold. */
export const FLUSH_EVERY_MS = 200;
/** A chunk is sent at once when it reaches this size. */
export const CHUNK_BYTES = 16 * 1024;
/** Past this much per attempt, streaming stops (the result has the rest). */
export const STREAM_LIMIT_BYTES = 1024 * 1024;

export class OutputStream {
  #pending = "";
  #sent = 0;
  #n = 0;
  #timer?: Cancel;
  #stopped = false;

  constructor(
    readonly cmd: RunCommand,
    readonly node: string,
    readonly clock: Clock,
    readonly send: (chunk: OutputChunk) => void,
  ) {}

  /** Output read from the task. */
  write(text: string): void {
    if (this.#stopped || text === "") return;
    this.#pending += text;
    if (this.#pending.length >= CHUNK_BYTES) this.flush();
    else this.#timer ??= this.clock.after(FLUSH_EVERY_MS, () => this.flush());
  }

  /** Sends what is gathered; called at the end of the task too. */
  flush(): void {
    this.#timer?.();
    this.#timer = undefined;
    if (this.#pending === "" || this.#stopped) return;
    let text = this.#pending;
    this.#pending = "";
    const room = STREAM_LIMIT_BYTES - this.#sent;
    const truncated = text.length > room;
    if (truncated) {
      text = text.slice(0, room);
      this.#stopped = true;
    }
    this.#sent += text.length;
    const { job, step, attempt } = this.cmd;
    this.send({
      type: "output",
      job,
      step,
      node: this.node,
      attempt,
      n: this.#n++,
      text,
      ...(truncated ? { truncated: true } : {}),
    });
  }

  /** The task ended: what is left goes, and nothing after. */
  close(): void {
    this.flush();
    this.#stopped = true;
  }
}
