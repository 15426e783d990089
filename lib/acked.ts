/**
 * JetStream publishes without a request per message: every publish carries
 * a reply subject under one inbox the connection subscribes to once, and
 * the stream's acknowledgement comes back there. No per-message
 * subscription, timer, promise or Error object; a sweep (running only
 * while acks are outstanding) times out the ones that never came.
 */
import {
  createInbox,
  headers,
  type NatsConnection,
} from "@nats-io/transport-node";

type Done = (seq: number, err?: string) => void;

export class AckedPublisher {
  #nc: NatsConnection;
  #prefix: string;
  #next = 0;
  #waiting = new Map<number, { at: number; done: Done }>();
  #sweep?: ReturnType<typeof setInterval>;

  /** `inboxPrefix`: the connection's, where a worker may only read its own. */
  constructor(
    nc: NatsConnection,
    readonly timeoutMs = 5000,
    inboxPrefix?: string,
  ) {
    this.#nc = nc;
    this.#prefix = createInbox(inboxPrefix);
    nc.subscribe(`${this.#prefix}.*`, {
      callback: (_err, m) => {
        const id = Number(m.subject.slice(this.#prefix.length + 1));
        const w = this.#waiting.get(id);
        if (!w) return;
        this.#waiting.delete(id);
        // An empty reply is a status (503: no stream leader right now), not an ack.
        if (m.data.length === 0) {
          w.done(-1, `no stream answered (${m.headers?.code ?? "no status"})`);
          return;
        }
        try {
          const r = m.json<
            { seq?: number; error?: { description?: string } }
          >();
          if (r.error || !r.seq) {
            w.done(-1, r.error?.description ?? "no sequence in the ack");
          } else w.done(r.seq);
        } catch (e) {
          w.done(-1, String(e));
        }
      },
    });
  }

  /** Publishes to a stream subject; `done` gets the stream sequence, or -1 and why. */
  publish(
    subject: string,
    data: Uint8Array,
    msgID: string | undefined,
    done: Done,
  ): void {
    const id = ++this.#next;
    this.#waiting.set(id, { at: Date.now(), done });
    this.#sweep ??= setInterval(() => this.#expire(), 1000);
    let h;
    if (msgID) {
      h = headers();
      h.set("Nats-Msg-Id", msgID);
    }
    try {
      this.#nc.publish(subject, data, {
        reply: `${this.#prefix}.${id}`,
        headers: h,
      });
    } catch (e) {
      // A closed or draining connection refuses at once.
      this.#waiting.delete(id);
      done(-1, String(e));
    }
  }

  /** The same, as a promise of the sequence. */
  send(subject: string, data: Uint8Array, msgID?: string): Promise<number> {
    return new Promise((resolve, reject) =>
      this.publish(
        subject,
        data,
        msgID,
        (seq, err) => err ? reject(new Error(err)) : resolve(seq),
      )
    );
  }

  #expire(): void {
    const old = Date.now() - this.timeoutMs;
    for (const [id, w] of this.#waiting) {
      if (w.at > old) break; // insertion order is time order
      this.#waiting.delete(id);
      w.done(-1, "timed out waiting for the stream's ack");
    }
    if (this.#waiting.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}
