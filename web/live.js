// A job's events (GET /job/:id/events) and one node's live output (GET
// /job/:id/output) read with fetch, because an EventSource cannot send the
// bearer token. A dropped connection resumes after the last event with an
// id (Last-Event-ID, opaque here), so nothing is missed or shown twice.
import { authHeaders, check } from "./api.js";

/** Parses SSE text into events; returns the unfinished tail. */
export function parseEvents(buffer, emit) {
  const blocks = buffer.split(/\r?\n\r?\n/);
  const tail = blocks.pop();
  for (const block of blocks) {
    let type = "message";
    let id;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    if (data.length > 0) emit({ type, id, data: data.join("\n") });
  }
  return tail;
}

/**
 * Follows job `id`'s status and results, without output (the grid needs
 * none): `on.status`, `on.result` (a batch), `on.end`. Returns a function
 * that stops. `on.error` hears of failures it retries.
 */
export function followJob(id, on) {
  return follow(`/job/${encodeURIComponent(id)}/events?output=false`, on);
}

/**
 * Follows the output of `step` on `node` as it is streamed: `on.output`
 * ({text, skipped?, attempt}), `on.status`, `on.end` (the job is over).
 */
export function followOutput(id, step, node, on) {
  const q = new URLSearchParams({ step: String(step), node });
  return follow(`/job/${encodeURIComponent(id)}/output?${q}`, on);
}

function follow(path, on) {
  const abort = new AbortController();
  let lastId;
  const run = async () => {
    while (!abort.signal.aborted) {
      let ended = false;
      try {
        const headers = authHeaders({ accept: "text/event-stream" });
        if (lastId) headers["last-event-id"] = lastId;
        const res = await check(
          await fetch(path, {
            headers,
            signal: abort.signal,
            cache: "no-store",
          }),
        );
        const reader = res.body.pipeThrough(new TextDecoderStream())
          .getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer = parseEvents(buffer + value, (ev) => {
            if (ev.id) lastId = ev.id;
            const data = JSON.parse(ev.data);
            if (ev.type === "status") on.status?.(data);
            else if (ev.type === "result") on.result?.(data);
            else if (ev.type === "output") on.output?.(data);
            else if (ev.type === "end") {
              ended = true;
              on.end?.(data);
            }
          });
          if (ended) {
            reader.cancel();
            return;
          }
        }
      } catch (e) {
        if (abort.signal.aborted) return;
        if (e.status === 401 || e.status === 404) return on.error?.(e, true);
        on.error?.(e, false);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  run();
  return () => abort.abort();
}
