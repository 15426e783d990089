/**
 * Opening an ordered consumer, robustly. In a JetStream cluster that has
 * lost a server, nats-server 2.9 may still place a new one-replica consumer
 * on the missing peer, and the create request then times out; a second try
 * lands elsewhere. So creation is retried with a short timeout, and a
 * consumer placed on a peer without a current copy is replaced.
 */
import type {
  Consumer,
  JetStreamClient,
  JsMsg,
  OrderedConsumerOptions,
} from "@nats-io/jetstream";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

export const API_TIMEOUT_MS = 2000;

/** A JetStream client whose API requests give up soon enough to be retried. */
export function jetstreamClient(nc: NatsConnection): JetStreamClient {
  return jetstream(nc, { timeout: API_TIMEOUT_MS });
}

export async function openOrdered(
  js: JetStreamClient,
  stream: string,
  opts: Partial<OrderedConsumerOptions>,
  attempts = 6,
): Promise<Consumer> {
  for (let i = 1;; i++) {
    try {
      const c = await js.consumers.get(stream, { ...opts });
      if (i < attempts && !await placedWell(js, stream, c)) {
        c.delete().catch(() => {});
        continue;
      }
      return c;
    } catch (e) {
      if (i >= attempts || (e as Error).name !== "TimeoutError") throw e;
    }
  }
}

/**
 * Whether a new consumer's leader holds a current copy of the stream. A
 * one-replica consumer reads its server's copy: placed on a peer that is
 * down, or back but still catching up, it delivers nothing while it looks
 * healthy (nats-server 2.9 places them there).
 */
async function placedWell(
  js: JetStreamClient,
  stream: string,
  c: Consumer,
): Promise<boolean> {
  const leader = (await c.info(true)).cluster?.leader;
  if (!leader) return true; // not clustered
  const si = await (await js.jetstreamManager()).streams.info(stream);
  if (si.cluster?.leader === leader) return true;
  const peer = si.cluster?.replicas?.find((r) => r.name === leader);
  return peer !== undefined && peer.current && !peer.offline;
}

/**
 * Consume options for long-lived readers: with nats.js defaults an ordered
 * consumer whose server died notices only after a minute or more; short
 * pulls with one-second heartbeats make it recover within seconds.
 */
export const QUICK_RECOVERY = { expires: 5000, idle_heartbeat: 1000 } as const;

/**
 * Calls `stalled` when a stream has moved past what its reader has seen and
 * the reader has not moved since the last check. A reader can go quiet
 * without failing: its pulls stop after the cluster lost its leader, or it
 * sits on a peer that is not caught up. Returns a function that stops it.
 */
export function watchStall(
  streamLast: () => Promise<number>,
  seen: () => number,
  stalled: (seen: number, last: number) => void | Promise<void>,
  everyMs = 3000,
): () => void {
  let seenAtCheck = -1;
  const timer = setInterval(async () => {
    try {
      const last = await streamLast();
      const now = seen();
      if (last > now && now === seenAtCheck) await stalled(now, last);
      seenAtCheck = seen();
    } catch {
      // JetStream unavailable: the next check will tell.
    }
  }, everyMs);
  return () => clearInterval(timer);
}

export interface RangeOptions {
  /** One subject filter; every subject when absent. */
  filter?: string;
  /** The first sequence to read. */
  from: number;
  /** Stop once this sequence is reached (the rest is not waited for). */
  to?: number;
  /** Also read what was pending when the reader opened (no `to`: only that). */
  drain?: boolean;
  /** Messages per pull. */
  batch?: number;
  /** A pull that brings nothing for this long ends the read. */
  quietMs?: number;
}

/**
 * Reads a stream in order from `from`, calling `fn` for each message (and
 * awaiting it), up to `to`. The stopping rule is a known sequence, not the
 * server's pending count, which can lag a message just stored; `drain`
 * adds the pending count for readers that know no sequence. Answers the
 * sequence read up to (`from - 1` when nothing was read): short of `to` means the read
 * went quiet (the rest aged out, or the reader sits on a lagging peer), and
 * the caller decides whether that is an error. With a filter, the answer
 * may lie past the last message read: nothing of the filter lies between.
 */
export async function readRange(
  js: JetStreamClient,
  stream: string,
  opts: RangeOptions,
  fn: (m: JsMsg) => void | Promise<void>,
): Promise<number> {
  if (opts.to !== undefined && opts.to < opts.from && !opts.drain) {
    return opts.from - 1;
  }
  const c = await openOrdered(js, stream, {
    ...(opts.filter ? { filter_subjects: opts.filter } : {}),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: opts.from,
  });
  return await readConsumer(c, opts, fn);
}

/**
 * The reading half of readRange, for a consumer opened elsewhere (a
 * worker's own named consumer) that starts at `opts.from`.
 */
export async function readConsumer(
  c: Consumer,
  opts: Omit<RangeOptions, "filter">,
  fn: (m: JsMsg) => void | Promise<void>,
): Promise<number> {
  const to = opts.to ?? 0;
  let last = opts.from - 1;
  let pending = opts.drain ? (await c.info(true)).num_pending : 0;
  while (last < to || pending > 0) {
    const want = Math.max(pending, to - last, 1);
    const batch = await c.fetch({
      max_messages: Math.min(want, opts.batch ?? 500),
      expires: opts.quietMs ?? 3000,
    });
    let got = 0;
    for await (const m of batch) {
      got++;
      // Past `to` is not asked for: the stream moved on since the caller looked.
      if (!opts.drain && m.seq > to) {
        batch.stop();
        return m.seq - 1;
      }
      last = m.seq;
      if (opts.drain) pending = m.info.pending;
      await fn(m);
      // Done: left alone, the pull would wait out its expiry for more.
      if (last >= to && pending === 0) {
        batch.stop();
        break;
      }
    }
    if (got === 0) break;
  }
  return last;
}

/**
 * A stream read as messages come, from a sequence on, that does not give
 * up: a reader that fails, or that `restart` stops (a watchdog that saw it
 * stall), is replaced by one starting after the last message seen.
 */
export class StreamFollower {
  /** Sequence of the last message handed on. */
  seen: number;
  #stopped = false;
  #stopReader = () => {};
  #retry?: ReturnType<typeof setTimeout>;
  #consumer?: Consumer;

  constructor(
    readonly js: JetStreamClient,
    readonly stream: string,
    readonly filter: string,
    after: number,
    readonly fn: (m: JsMsg) => void,
    readonly onError: (e: unknown) => void,
    readonly retryMs = 500,
  ) {
    this.seen = after;
    this.#loop();
  }

  /**
   * Messages that match and are stored but not yet read (0: caught up);
   * undefined while no reader is open.
   */
  async pending(): Promise<number | undefined> {
    const c = this.#consumer;
    if (!c) return undefined;
    const info = await c.info(false);
    // Delivered to this client but not handed on yet counts as pending too.
    return info.num_pending + (info.delivered.stream_seq > this.seen ? 1 : 0);
  }

  /** Ends the current reader; the next starts after `seen`. */
  restart(): void {
    this.#stopReader();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#stopReader();
  }

  #loop(): void {
    this.#read()
      .catch((e) => {
        if (!this.#stopped) this.onError(e);
      })
      .finally(() => {
        if (!this.#stopped) {
          this.#retry = setTimeout(() => this.#loop(), this.retryMs);
        }
      });
  }

  async #read(): Promise<void> {
    const c = await openOrdered(this.js, this.stream, {
      filter_subjects: this.filter,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.seen + 1,
    });
    const msgs = await c.consume(QUICK_RECOVERY);
    this.#consumer = c;
    this.#stopReader = () => msgs.stop();
    if (this.#stopped) msgs.stop();
    for await (const m of msgs) {
      if (m.seq <= this.seen) continue;
      this.seen = m.seq;
      this.fn(m);
    }
  }
}
