/**
 * Checkpoints of the job index (KV `grid_history`), so a controller starts
 * without reading every job record: it loads the newest checkpoint, then
 * reads the jobs bucket from the revision after it. Reading 200,000
 * records costs seconds (each is a message, and parsing them is most of
 * it); a checkpoint of them is a few MB read in a few requests.
 *
 * A checkpoint is an optimisation, never the truth: one of another bucket
 * (deleted and created again), one ahead of the bucket, or one that cannot
 * be read whole is ignored, and the bucket is read from its start.
 *
 * It is written in parts (`part.0`, `part.1`, …) of at most `perPart`
 * entries, then its head (`head`), which names the parts' generation; a
 * reader that finds a part of another generation (a writer was midway)
 * reads again.
 */
import { z } from "zod";
import type { Bucket } from "../lib/bucket.ts";
import { encodeJson } from "../lib/nats.ts";
import { logger } from "../lib/log.ts";
import type { JobStatus } from "../models/job.ts";
import type { IndexEntry, Marker } from "./job_index.ts";

const log = logger("history");

export interface Checkpoint {
  /** When the jobs bucket was created (ms): tells a recreated one apart. */
  created: number;
  /** Every entry of the bucket up to this revision is accounted for. */
  rev: number;
  jobs: [string, IndexEntry][];
  markers: [string, Marker][];
  /** Records that were skipped as malformed: key, revision, why. */
  bad: [string, number, string][];
}

/** Status letters; `-` is a marker. */
const CODE: Record<JobStatus, string> = {
  pending: "p",
  running: "r",
  completed: "c",
  failed: "f",
  cancelled: "x",
};
const STATUS = new Map(
  Object.entries(CODE).map(([s, c]) => [c, s as JobStatus]),
);

const Head = z.object({
  v: z.literal(1),
  gen: z.string(),
  parts: z.number().int().min(0),
  created: z.number(),
  rev: z.number().int().min(0),
  bad: z.array(z.tuple([z.string(), z.number(), z.string()])),
});
type Head = z.infer<typeof Head>;

/** Columns; `at` and `rev` as differences from the entry before (small numbers). */
const Part = z.object({
  gen: z.string(),
  ids: z.array(z.string()),
  st: z.string(),
  at: z.array(z.number()),
  rev: z.array(z.number()),
  ep: z.array(z.number()),
}).refine((p) =>
  [p.st.length, p.at.length, p.rev.length, p.ep.length].every((n) =>
    n === p.ids.length
  )
);
type Part = z.infer<typeof Part>;

const HEAD = "head";
const part = (i: number) => `part.${i}`;

export class Checkpoints {
  /** The parts the last checkpoint written here had (to erase those left over). */
  #written = 0;

  constructor(readonly bucket: Bucket, readonly perPart = 25_000) {}

  /**
   * The newest checkpoint if it is of this bucket (`info`: its creation
   * and newest revision), else undefined: the bucket is read from its start.
   */
  async usable(
    info: () => Promise<{ created: number; lastRev: number }>,
  ): Promise<Checkpoint | undefined> {
    const cp = await this.read().catch((e) => {
      log.warn("the job index checkpoint cannot be read; reading every job", {
        error: String(e),
      });
      return undefined;
    });
    if (!cp) return undefined;
    const { created, lastRev } = await info();
    if (cp.created === created && cp.rev <= lastRev) return cp;
    log.warn(
      "the job index checkpoint is of another job bucket; reading every job",
    );
    return undefined;
  }

  /** The newest checkpoint, or undefined when there is none that can be read whole. */
  async read(): Promise<Checkpoint | undefined> {
    for (let tries = 0; tries < 3; tries++) {
      const got = await this.#readOnce();
      if (got !== "changed") return got;
    }
    return undefined;
  }

  async write(cp: Checkpoint): Promise<void> {
    const gen = crypto.randomUUID();
    const all: [string, string, number, number, number][] = [
      ...cp.jobs.map(([id, e]) =>
        [id, CODE[e.status], e.at, e.rev, e.epoch] as [
          string,
          string,
          number,
          number,
          number,
        ]
      ),
      ...cp.markers.map(([id, m]) =>
        [id, "-", m.at, m.rev, 0] as [string, string, number, number, number]
      ),
    ];
    const parts = Math.ceil(all.length / this.perPart);
    for (let i = 0; i < parts; i++) {
      const slice = all.slice(i * this.perPart, (i + 1) * this.perPart);
      const p: Part = { gen, ids: [], st: "", at: [], rev: [], ep: [] };
      let at = 0;
      let rev = 0;
      const st: string[] = [];
      for (const [id, code, a, r, ep] of slice) {
        p.ids.push(id);
        st.push(code);
        p.at.push(a - at);
        p.rev.push(r - rev);
        p.ep.push(ep);
        at = a;
        rev = r;
      }
      p.st = st.join("");
      await this.bucket.put(part(i), encodeJson(p));
    }
    const head: Head = {
      v: 1,
      gen,
      parts,
      created: cp.created,
      rev: cp.rev,
      bad: cp.bad,
    };
    await this.bucket.put(HEAD, encodeJson(head));
    const before = this.#written;
    this.#written = parts;
    for (let i = parts; i < before; i++) {
      await this.bucket.erase(part(i)).catch(() => {});
    }
  }

  async #readOnce(): Promise<Checkpoint | undefined | "changed"> {
    const h = await this.bucket.get(HEAD);
    if (h?.operation !== "PUT") return undefined;
    const head = safe(() => Head.parse(h.json()));
    if (!head) {
      log.warn("the job index checkpoint cannot be read; reading every job");
      return undefined;
    }
    const cp: Checkpoint = {
      created: head.created,
      rev: head.rev,
      jobs: [],
      markers: [],
      bad: head.bad,
    };
    for (let i = 0; i < head.parts; i++) {
      const e = await this.bucket.get(part(i));
      const p = e?.operation === "PUT"
        ? safe(() => Part.parse(e.json()))
        : undefined;
      if (!p) return undefined;
      if (p.gen !== head.gen) return "changed";
      let at = 0;
      let rev = 0;
      for (let k = 0; k < p.ids.length; k++) {
        at += p.at[k]!;
        rev += p.rev[k]!;
        const code = p.st[k]!;
        if (code === "-") {
          cp.markers.push([p.ids[k]!, { rev, at }]);
          continue;
        }
        const status = STATUS.get(code);
        if (!status) return undefined;
        cp.jobs.push([p.ids[k]!, { status, at, rev, epoch: p.ep[k]! }]);
      }
    }
    this.#written = Math.max(this.#written, head.parts);
    return cp;
  }
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
