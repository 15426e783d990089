/**
 * Reading a child's stdout and stderr under one byte cap. Both pipes are
 * read to the end even past the cap, so the child never blocks on a full
 * pipe, and reading stops after a grace period once the child has exited,
 * so a background process that inherited the pipes cannot hold a task open.
 */
import { settlesWithin } from "./abort.ts";
import { utf8Prefix } from "./output.ts";

/** Bytes both pipes may still keep, and how many they have dropped. */
export interface Budget {
  left: number;
  dropped: number;
}

/** Reads a pipe to the end, keeping bytes while the shared budget lasts. */
export class CappedReader {
  readonly done: Promise<void>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #chunks: Uint8Array[] = [];
  #finished = false;

  /** `onText`: what was read, as it comes (live output); it never blocks the read. */
  constructor(
    stream: ReadableStream<Uint8Array>,
    budget: Budget,
    readonly onText?: (text: string) => void,
  ) {
    this.#reader = stream.getReader();
    this.done = this.#pump(budget).finally(() => (this.#finished = true));
  }

  get finished(): boolean {
    return this.#finished;
  }

  async #pump(budget: Budget): Promise<void> {
    let full = false;
    // A character may be split across reads: decode as a stream.
    const live = this.onText ? new TextDecoder() : undefined;
    try {
      for (;;) {
        const { value, done } = await this.#reader.read();
        if (done) return;
        if (live && !full) {
          const text = live.decode(value, { stream: true });
          if (text) this.onText!(text);
        }
        // Keep draining past the cap, or the child blocks on a full pipe.
        const keep = full
          ? value.subarray(0, 0)
          : utf8Prefix(value, budget.left);
        if (keep.length < value.length) full = true;
        if (keep.length) this.#chunks.push(keep);
        budget.left -= keep.length;
        budget.dropped += value.length - keep.length;
        // Once one stream is cut, later chunks must not fill the gap out of order.
        if (full) budget.left = 0;
      }
    } catch {
      // Cancelled by drain(), or the pipe broke: keep what was read.
    }
  }

  async cancel(): Promise<void> {
    if (!this.#finished) await this.#reader.cancel().catch(() => {});
    await this.done;
  }

  text(): string {
    const total = this.#chunks.reduce((n, c) => n + c.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of this.#chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder().decode(all);
  }
}

/** Waits up to `ms` for both pipes to close, then stops reading them. */
export async function drain(
  readers: CappedReader[],
  ms: number,
): Promise<void> {
  await settlesWithin(Promise.all(readers.map((r) => r.done)), ms);
  await Promise.all(readers.map((r) => r.cancel()));
}
