/**
 * Reading one of the controller's event streams to its end, through
 * dropped connections and controller restarts: each new connection sends
 * the last event id it got (`Last-Event-ID`, opaque to the client), so the
 * server carries on after it, with no gap and no repeat.
 */
import { UnreachableError } from "../api.ts";
import type { Context } from "../context.ts";
import type { SseEvent } from "../sse.ts";

/** Connections in a row that may fail (a controller restarting) before giving up. */
export const MAX_STREAM_FAILURES = 20;

/**
 * Opens the stream after `lastId` (none: from the start), or answers
 * undefined when the controller does not serve it.
 */
export type OpenStream = (
  lastId: string | undefined,
) => Promise<AsyncGenerator<SseEvent> | undefined>;

/**
 * Hands each event to `on` until `on` answers true (the stream's end).
 * Returns false when the controller does not serve the stream (nothing was
 * read). `what` names the stream in the error when it keeps breaking.
 */
export async function followStream(
  ctx: Context,
  what: string,
  open: OpenStream,
  on: (ev: SseEvent) => boolean,
): Promise<boolean> {
  let lastId: string | undefined;
  let failures = 0;
  for (;;) {
    let events: AsyncGenerator<SseEvent> | undefined;
    try {
      events = await open(lastId);
    } catch (e) {
      if (e instanceof UnreachableError && ++failures < MAX_STREAM_FAILURES) {
        await ctx.io.sleep(ctx.pollMs);
        continue;
      }
      throw e;
    }
    if (!events) return false;
    for (;;) {
      let next: IteratorResult<SseEvent>;
      try {
        next = await events.next();
      } catch {
        break; // the connection broke: resume after the last event we have
      }
      if (next.done) break;
      const ev = next.value;
      failures = 0;
      if (ev.id !== undefined) lastId = ev.id;
      if (on(ev)) {
        // Done: the connection is let go, whatever the server sends next.
        await events.return(undefined).catch(() => {});
        return true;
      }
    }
    if (++failures >= MAX_STREAM_FAILURES) {
      throw new UnreachableError(`${what} keeps breaking`);
    }
    await ctx.io.sleep(ctx.pollMs);
  }
}
