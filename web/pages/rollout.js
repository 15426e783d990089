// A job's rollout on its page: the batch it is in, the failure budget,
// each batch's counts, and Resume while it waits after its canary. The
// job's event stream says when the rollout moves; the counts per batch
// come from the record, read then and every few seconds while it runs.
import { html, useEffect, useState } from "../html.js";
import { api } from "../api.js";

const POLL_MS = 2000;

/** The rollout status of job `job`, kept current while it runs. */
export function useRolloutStatus(job) {
  const [status, setStatus] = useState(job?.rollout_status);
  const id = job?.id;
  const watched = Boolean(job?.rollout);
  const active = job?.status === "pending" || job?.status === "running";
  // The live status event carries the rollout's short form, which changes
  // when it moves (a batch begins, it pauses or resumes, a node fails):
  // then the detail is fetched at once, not at the next poll.
  const moved = JSON.stringify(job?.rollout_status ?? null);
  // Another job: its own status at once (the page's first read has the detail).
  useEffect(() => setStatus(job?.rollout_status), [id]);
  useEffect(() => {
    if (!watched) return;
    let stop = false;
    const load = () =>
      api(`/job/${encodeURIComponent(id)}?outputs=false`).then(
        ({ data }) => !stop && setStatus(data.rollout_status),
        () => {},
      );
    load();
    const t = active ? setInterval(load, POLL_MS) : undefined;
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [id, watched, job?.status, moved]);
  return [status, setStatus];
}

/**
 * The nodes running now in a rollout: the current batch's, cut from the
 * job's nodes in their order by the per-batch counts the controller sends;
 * none while it waits between batches. Undefined: not known, so any.
 */
export function runningBatch(expected, status) {
  const counts = status?.progress;
  if (!counts || counts.length < status.batch) return undefined;
  if (status.paused || status.next_at) return new Set();
  let from = 0;
  for (let b = 0; b < status.batch - 1; b++) from += counts[b].nodes;
  return new Set(expected.slice(from, from + counts[status.batch - 1].nodes));
}

function spec(r) {
  const parts = [`batches of ${r.batch}`];
  if (r.canary !== undefined) parts.push(`canary ${r.canary}`);
  if (r.pause) parts.push(`pause ${r.pause}`);
  return parts.join(", ");
}

function where(s) {
  if (!s) return "not started";
  let text = `batch ${s.batch} of ${s.batches}`;
  if (s.paused) text += " · paused for approval";
  else if (s.next_at) {
    text += ` · next batch at ${new Date(s.next_at).toLocaleTimeString()}`;
  }
  return text;
}

function budget(s) {
  if (!s || s.failed === undefined) return "—";
  return s.max_failures === undefined
    ? `${s.failed} failed (no limit)`
    : `${s.failed} failed of at most ${s.max_failures}`;
}

/** The rollout's fields, for the job page's field list. */
export function RolloutFields({ job, status, onResume, resuming }) {
  if (!job.rollout) return null;
  const waiting = job.status === "running" && status?.paused;
  return html`
    <dt>Rollout</dt>
    <dd data-testid="rollout" data-paused=${waiting ? "true" : "false"}
      data-batch=${status?.batch} data-batches=${status?.batches}>
      ${where(status)} <span class="dim">(${spec(job.rollout)})</span>
      ${waiting && html`
        <button class="resume" onClick=${onResume} disabled=${resuming}
          data-testid="resume">Resume</button>
      `}
    </dd>
    <dt>Budget</dt>
    <dd data-testid="rollout-budget">${budget(status)}</dd>
    ${status?.stopped && html`
      <dt>Stopped</dt>
      <dd class="error" data-testid="rollout-stopped">${status.stopped}</dd>
    `}
    ${status?.progress?.length > 0 && html`
      <dt>Batches</dt>
      <dd class="chips" data-testid="rollout-batches">${status.progress.map((
        b,
        i,
      ) =>
        html`
          <span class="chip" key=${i} data-testid="rollout-batch"
            title=${`${b.nodes} nodes: ${b.done} done, ${b.failed} failed, ${b.pending} pending`}
          >${i + 1}: ${b.done}/${b.nodes} done${b.failed
            ? `, ${b.failed} failed`
            : ""}</span>
        `
      )}</dd>
    `}
  `;
}
