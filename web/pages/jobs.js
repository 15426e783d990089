// Jobs, newest first: filter by status, page by the API's Link header.
import { html, useEffect, useState } from "../html.js";
import { api, nextPage } from "../api.js";
import { ago, Badge, ErrorLine, target } from "../ui.js";

export const STATUSES = [
  "pending",
  "running",
  "completed",
  "failed",
  "cancelled",
];
const PAGE = 25;

/** Node results so far and at most, from a row's per-step counts. */
export function progress(job) {
  let done = 0;
  for (const counts of Object.values(job.results ?? {})) {
    for (const n of Object.values(counts)) done += n;
  }
  return { done, total: Math.max(done, job.steps * job.expected.length) };
}

export function Jobs({ status }) {
  // Pages before this one, to go back; `before` of this page.
  const [stack, setStack] = useState([]);
  const [page, setPage] = useState({ rows: [], next: null });
  const [error, setError] = useState();
  const before = stack.at(-1);
  useEffect(() => setStack([]), [status]);
  useEffect(() => {
    let stop = false;
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (status) q.set("status", status);
    if (before) q.set("before", before);
    const load = () =>
      api(`/jobs?${q}`).then(({ data, res }) => {
        if (stop) return;
        setPage({ rows: data, next: nextPage(res) });
        setError(undefined);
      }, (e) => !stop && setError(e.message));
    load();
    const t = setInterval(load, 3000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [status, before]);
  const pill = (s) =>
    html`
      <a class=${`pill ${status === s ? "active" : ""}`} key=${s ?? "all"}
        href=${s ? `#/jobs?status=${s}` : "#/jobs"} data-testid=${`filter-${
          s ?? "all"
        }`}>${s ?? "all"}</a>
    `;
  return html`
    <main>
      <nav class="pills">${[undefined, ...STATUSES].map(pill)}
          <a class="button" href="#/submit" data-testid="new-job">New job</a></nav>
      <${ErrorLine} error=${error} />
      <div class="row jobs-row head">
          <span>ID</span><span>STATUS</span><span>TARGET</span><span>PROGRESS</span>
          <span>BY</span><span>CREATED</span>
        </div>
      <div data-testid="jobs">${page.rows.length === 0
        ? html`<p class="dim">No jobs${status ? ` ${status}` : ""}.</p>`
        : page.rows.map((j) => {
          const p = progress(j);
          return html`
            <a class="row jobs-row" key=${j.id} href=${`#/job/${j.id}`}
              data-testid="job-row" data-id=${j.id}>
              <span class="mono">${j.id}</span>
              <span><${Badge} status=${j
                .status} />${j.status === "running" && j.rollout_status?.paused
                ? html`
                  <span class="dim" data-testid="job-paused">paused</span>
                `
                : ""}</span>
              <span>${target(j.target)}</span>
              <span class="bar" title=${`${p.done}/${p.total} node results`}>
                        <i class=${`fill fill-${j.status}`}
                          style=${{
                            width: `${p.total ? (100 * p.done) / p.total : 0}%`,
                          }}></i>
                        <em>${p.done}/${p.total}</em></span>
              <span class="dim">${j.submitted_by ?? ""}</span>
              <span class="dim">${ago(j.created_at)}</span>
            </a>
          `;
        })}</div>
      <nav class="pager">
        <button disabled=${stack.length === 0} data-testid="newer"
          onClick=${() => setStack(stack.slice(0, -1))}>Newer</button>
        <button disabled=${!page.next} data-testid="older"
          onClick=${() => setStack([...stack, page.next])}>Older</button>
      </nav>
    </main>
  `;
}
