/**
 * `--history-seed=direct`: finished jobs written straight into the store,
 * for a history of 200,000 jobs in seconds where the API takes ~300 a
 * second. The API stays the default, being the honest path; this one only
 * fills the store that the history part then measures.
 *
 * What is written is copied from one job run for real through the API (to
 * the real worker): its record in `grid_jobs`, its claims in `grid_claims`
 * and its events in GRID_RES. Each copy gets a new id (made as the
 * controller makes them, so ids still sort by creation time), its own
 * times, its events on its own subjects, and `res_seq`/`res_last` around
 * the sequences they were stored at, so `GET /job/:id` reads them as it
 * reads a real job's. Copying a real job rather than spelling one out
 * keeps the seed in step with what the controller writes.
 */
import { Kvm } from "@nats-io/kv";
import { jetstreamManager } from "@nats-io/jetstream";
import { JobIds } from "../controller/ids.ts";
import { JobRecord } from "../models/job.ts";
import {
  BUCKET_CLAIMS,
  BUCKET_JOBS,
  STREAM_RESULTS,
  subjects,
} from "../lib/topology.ts";
import { waitFor } from "../testing/mod.ts";
import { readRange } from "../lib/ordered.ts";
import { api, echoJob } from "./api.ts";
import type { Env } from "./env.ts";
import { log } from "./lib.ts";

/** Jobs published between two round trips (bounds the client's buffer). */
const FLUSH_EVERY = 1000;

interface Template {
  rec: JobRecord;
  /** Its events: the subject after `grid.res.<id>.`, and the event. */
  events: [string, Record<string, unknown>][];
  /** Its claims: the key after `<id>.`, and the value as stored. */
  claims: [string, Uint8Array][];
}

/**
 * Writes `count` finished jobs: their ids, oldest first, and the seconds
 * the writing took (the model job not included).
 */
export async function seedDirect(
  env: Env,
  count: number,
): Promise<{ ids: string[]; sec: number }> {
  const tpl = await template(env);
  const t0 = performance.now();
  log(
    `history: writing ${count} copies of job ${tpl.rec.id} (${tpl.events.length} event(s), ${tpl.claims.length} claim(s) each) straight into the store`,
  );
  const enc = new TextEncoder();
  const ids = new JobIds();
  const jobs: { id: string; at: string; first: number; last: number }[] = [];
  // Every publish is a plain one, none waiting for its ack: a request per
  // message costs the client more than the server. The events go first;
  // their sequences are then read back from the stream (one ordered read),
  // so each record can point at its events, which are stored by then.
  const jsm = await jetstreamManager(env.nc);
  const before = (await jsm.streams.info(STREAM_RESULTS)).state.last_seq;
  for (let i = 0; i < count; i++) {
    const ms = Date.now();
    const id = ids.next(ms, () => false);
    const at = new Date(ms).toISOString();
    jobs.push({ id, at, first: 0, last: 0 });
    for (const [tail, ev] of tpl.events) {
      const times = ev.started_at === undefined
        ? { finished_at: at }
        : { started_at: at, finished_at: at };
      env.nc.publish(
        `grid.res.${id}.${tail}`,
        enc.encode(JSON.stringify({ ...ev, job: id, ...times })),
      );
    }
    if (i % FLUSH_EVERY === FLUSH_EVERY - 1) await env.nc.flush();
  }
  await env.nc.flush();
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const want = count * tpl.events.length;
  const to = before + want;
  let got = 0;
  await waitFor(
    "the seeded events to be stored",
    async () => (await jsm.streams.info(STREAM_RESULTS)).state.last_seq >= to,
    60_000,
  );
  await readRange(env.js, STREAM_RESULTS, {
    from: before + 1,
    to,
    batch: 5000,
  }, (m) => {
    const j = byId.get(m.subject.split(".")[2]!);
    if (!j) return;
    j.first ||= m.seq;
    j.last = m.seq;
    got++;
  });
  if (got !== want) {
    throw new Error(`${got} of the ${want} seeded events were stored`);
  }
  for (let i = 0; i < jobs.length; i++) {
    const { id, at, first, last } = jobs[i]!;
    const rec: JobRecord = {
      ...tpl.rec,
      id,
      created_at: at,
      updated_at: at,
      ...(tpl.rec.started_at === undefined ? {} : { started_at: at }),
      finished_at: at,
      ...(first ? { res_seq: first - 1, res_last: last } : {}),
    };
    // A copy the controller would skip is a bug here.
    if (i === 0) JobRecord.parse(rec);
    // The controller's count (history.ts waits for it) tells whether
    // every record was stored.
    env.nc.publish(`$KV.${BUCKET_JOBS}.${id}`, enc.encode(JSON.stringify(rec)));
    for (const [tail, value] of tpl.claims) {
      env.nc.publish(`$KV.${BUCKET_CLAIMS}.${id}.${tail}`, value);
    }
    if (i % FLUSH_EVERY === FLUSH_EVERY - 1) await env.nc.flush();
  }
  await env.nc.flush();
  const made = jobs.map((j) => j.id);
  const sec = (performance.now() - t0) / 1000;
  if (made.length > 0) await sameView(env, tpl.rec.id, made.at(-1)!);
  return { ids: made, sec };
}

/**
 * A copy must read back as its model does (same status, the same results
 * but for times), or the reads timed afterwards are of something else.
 */
async function sameView(env: Env, model: string, copy: string): Promise<void> {
  const shape = async (id: string) => {
    // 404 until the controller's follower reaches the copy.
    const r = await waitFor(
      `GET /job/${id}`,
      async () => {
        const r = await api(env, "GET", `/job/${id}`);
        if (r.status !== 200 && r.status !== 404) {
          throw new Error(`GET /job/${id}: ${r.status}`);
        }
        return r.status === 200 && r;
      },
      60_000,
      100,
    );
    const { status, results_lost, results } = r.json;
    const steps = Object.entries(results as Record<string, object>).map((
      [step, nodes],
    ) => [step, Object.keys(nodes)]);
    return JSON.stringify({ status, results_lost, steps });
  };
  const [want, got] = [await shape(model), await shape(copy)];
  if (want !== got) {
    throw new Error(`a seeded job reads ${got}, its model ${want}`);
  }
}

/** One job run through the API, as stored: the model for every copy. */
async function template(env: Env): Promise<Template> {
  const r = await api(
    env,
    "POST",
    "/job",
    echoJob({ scope: "node", value: "bench-w1" }, 1),
  );
  if (r.status !== 202) {
    throw new Error(`POST /job: ${r.status} ${JSON.stringify(r.json)}`);
  }
  const id = r.json.id as string;
  const done = await env.watch.wait(id, 60_000);
  if (done.status !== "completed") {
    throw new Error(`the model job ${id} ended ${done.status}`);
  }
  const kvm = new Kvm(env.nc);
  const jobs = await kvm.open(BUCKET_JOBS);
  const e = await jobs.get(id);
  if (e?.operation !== "PUT") throw new Error(`job ${id} has no record`);
  const rec = JobRecord.parse(e.json());
  if (rec.res_last === undefined) {
    throw new Error(`job ${id}'s record has no res_last`);
  }
  const jsm = await jetstreamManager(env.nc);
  const prefix = subjects.jobEvents(id).slice(0, -1);
  const events: Template["events"] = [];
  for (let seq = (rec.res_seq ?? 0) + 1; seq <= rec.res_last; seq++) {
    const m = await jsm.streams.getMessage(STREAM_RESULTS, { seq })
      .catch(() => null);
    if (!m?.subject.startsWith(prefix)) continue;
    events.push([m.subject.slice(prefix.length), m.json()]);
  }
  const claimsKv = await kvm.open(BUCKET_CLAIMS);
  const claims: Template["claims"] = [];
  for (let epoch = 1; epoch <= (rec.epoch ?? 0); epoch++) {
    const c = await claimsKv.get(`${id}.${epoch}`);
    if (c?.operation === "PUT") claims.push([String(epoch), c.value]);
  }
  return { rec, events, claims };
}
