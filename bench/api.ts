/** The controller's API as the benchmarks use it: timed requests and jobs of echo steps. */
import { httpRequest, type Json, jsonOr, sleep } from "../testing/mod.ts";
import type { Env } from "./env.ts";

export async function api(
  env: Env,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 120_000,
): Promise<{ status: number; json: Json; ms: number; bytes: number }> {
  const t0 = performance.now();
  const r = await httpRequest(
    `${env.cluster.api}${path}`,
    method,
    body,
    timeoutMs,
    env.cluster.token,
  );
  const t = performance.now() - t0;
  const json = jsonOr(r.text, (text) => text);
  return { status: r.status, json, ms: t, bytes: r.text.length };
}

/** POSTs a job, retrying while the queue is full (429). */
export async function submit(
  env: Env,
  job: unknown,
): Promise<{ id: string; ms: number; retries: number }> {
  for (let retries = 0;; retries++) {
    const r = await api(env, "POST", "/job", job);
    if (r.status === 202) return { id: r.json.id, ms: r.ms, retries };
    if (r.status === 429 && retries < 1000) {
      await sleep(20);
      continue;
    }
    throw new Error(`POST /job: ${r.status} ${JSON.stringify(r.json)}`);
  }
}

export async function onlineNodes(env: Env): Promise<number> {
  return (await api(env, "GET", "/status")).json.nodes.online;
}

/** A job of `steps` top-level `ping echo` steps on `target`. */
export const echoJob = (target: unknown, steps: number) => ({
  target,
  tasks: Array.from(
    { length: steps },
    () => ({ backend: "ping", action: "echo" }),
  ),
});
