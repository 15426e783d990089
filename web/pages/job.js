// One job: its fields, and a step × node grid that fills in live from the
// job's event stream. Only the rows in view are drawn, so a job on a
// thousand nodes scrolls smoothly; a cell opens that node's output, live
// while its task runs, then its stored result.
import { html, useEffect, useMemo, useRef, useState } from "../html.js";
import { api } from "../api.js";
import { followJob, followOutput } from "../live.js";
import { RolloutFields, runningBatch, useRolloutStatus } from "./rollout.js";
import {
  ago,
  Badge,
  ErrorLine,
  leafLabels,
  phaseRanges,
  target,
  VirtualRows,
} from "../ui.js";

const ROW = 26;

/** A running task's output as streamed; a marker for lines the page missed. */
function LiveOutput({ id, cell }) {
  const [text, setText] = useState("");
  const [error, setError] = useState();
  useEffect(() => {
    setText("");
    let attempt = 0;
    return followOutput(id, cell.step, cell.node, {
      output: (o) => {
        let add = o.skipped
          ? `… ${o.skipped} line${
            o.skipped === 1 ? "" : "s"
          } skipped (the result has them)\n`
          : o.text;
        if (attempt && o.attempt !== attempt) {
          add = `\n— attempt ${o.attempt} —\n${add}`;
        }
        attempt = o.attempt;
        setText((t) => t + add);
      },
      error: (e, fatal) => fatal && setError(e.message),
    });
  }, [id, cell.step, cell.node]);
  return html`
    <p><${Badge} status="running" /> output as it comes</p>
    <${ErrorLine} error=${error} />
    <pre data-testid="output" data-live="true">${text}</pre>
  `;
}

function ResultPanel({ id, cell, done, onClose }) {
  const [state, setState] = useState({});
  useEffect(() => {
    setState({});
    // Still running: LiveOutput streams it; the result comes when it ends.
    if (!done) return;
    api(`/job/${id}/result/${cell.step}/${encodeURIComponent(cell.node)}`)
      .then(
        ({ data }) => setState({ data }),
        (e) => setState({ error: e.message }),
      );
  }, [id, cell.step, cell.node, done]);
  const r = state.data;
  return html`<aside class="panel" data-testid="output-panel">
    <header>
      <b>Step ${cell.step} on ${cell.node}</b>
      <button onClick=${onClose} data-testid="close-output">Close</button>
    </header>
    <${ErrorLine} error=${state.error} />
    ${!done && html`<${LiveOutput} id=${id} cell=${cell} />`}
    ${
    r &&
    html`<p><${Badge} status=${r.status} /> ${r.attempts} attempt${
      r.attempts === 1 ? "" : "s"
    }, ${r.duration}</p>
      ${r.error && html`<p class="error">${r.error}</p>`}
      <pre data-testid="output">${r.output ?? ""}</pre>`
  }
  </aside>`;
}

export function Job({ id }) {
  const [job, setJob] = useState();
  const [error, setError] = useState();
  const [note, setNote] = useState();
  const [open, setOpen] = useState();
  // Results by "step:node"; a counter re-renders at most once a frame.
  const results = useRef(new Map());
  const [, setTick] = useState(0);
  const frame = useRef(0);
  const redraw = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setTick((t) => t + 1);
    });
  };

  useEffect(() => {
    results.current = new Map();
    setJob(undefined);
    setError(undefined);
    let stop;
    let gone = false;
    // The record and its tasks; results come from the stream.
    api(`/job/${encodeURIComponent(id)}?outputs=false`).then(({ data }) => {
      if (gone) return;
      const { results: _, ...rec } = data;
      setJob(rec);
      stop = followJob(rec.id, {
        status: (s) => setJob((j) => ({ ...j, ...s })),
        result: ({ results: batch }) => {
          for (const r of batch) results.current.set(`${r.step}:${r.node}`, r);
          redraw();
        },
        error: (e, fatal) => fatal && setError(e.message),
      });
    }, (e) => setError(e.message));
    return () => {
      gone = true;
      stop?.();
    };
  }, [id]);

  const labels = useMemo(() => (job ? leafLabels(job.tasks) : []), [job?.id]);
  const phases = useMemo(() => (job ? phaseRanges(job.tasks) : []), [job?.id]);
  const [rollout, setRollout] = useRolloutStatus(job);
  const [resuming, setResuming] = useState(false);
  if (error) {
    return html`
      <main>
        <${ErrorLine} error=${error} />
      </main>
    `;
  }
  if (!job) {
    return html`
      <main>
        <p class="dim">Loading job…</p>
      </main>
    `;
  }
  const nodes = [...job.expected].sort();
  const done = results.current.size;
  const total = labels.length * nodes.length;
  const active = job.status === "pending" || job.status === "running";
  // The steps running now: those of the phase the job is in.
  const phase = job.status === "running"
    ? phases.find((p) => job.step >= p.first && job.step <= p.last)
    : undefined;
  const batch = runningBatch(job.expected, rollout);
  /** The step `node` runs now: its first in the phase without a result. */
  const runningStep = (node) => {
    if (batch && !batch.has(node)) return;
    for (let s = phase?.first ?? 0; phase && s <= phase.last; s++) {
      if (!results.current.has(`${s}:${node}`)) return s;
    }
  };
  const cancel = async () => {
    setNote(undefined);
    try {
      await api(`/job/${job.id}/cancel`, { method: "POST" });
    } catch (e) {
      setNote(e.message);
    }
  };
  const resume = async () => {
    setNote(undefined);
    setResuming(true);
    try {
      const { data } = await api(`/job/${job.id}/resume`, { method: "POST" });
      setRollout(data.rollout_status);
    } catch (e) {
      setNote(e.message);
    } finally {
      setResuming(false);
    }
  };
  const row = (i) => {
    const node = nodes[i];
    const now = runningStep(node);
    return html`<div class="grid-row" key=${node} style=${{
      height: `${ROW}px`,
    }}>
      <span class="grid-node mono" title=${node}>${node}</span>
      ${
      labels.map((_, step) => {
        const r = results.current.get(`${step}:${node}`);
        const s = r?.status ?? (step === now ? "running" : "waiting");
        return html`
          <button class=${`cell cell-${s}`} key=${step}
            data-testid=${`cell-${step}-${node}`} data-status=${s}
            title=${`step ${step} on ${node}: ${s}`}
            disabled=${s === "waiting"}
            onClick=${() => setOpen({ step, node })}></button>
        `;
      })
    }
    </div>`;
  };
  return html`<main class="job">
    <header class="job-head">
      <h2 class="mono">${job.id}</h2>
      <span data-testid="job-status"><${Badge} status=${job.status} /></span>
      ${
    active && html`
      <button class="danger" onClick=${cancel}
        data-testid="cancel">Cancel</button>
    `
  }
    </header>
    <${ErrorLine} error=${note} />
    <dl class="fields">
      <dt>Target</dt><dd>${target(job.target)}</dd>
      <dt>Strategy</dt><dd>${job.strategy}${
    job.timeout ? `, timeout ${job.timeout}` : ""
  }</dd>
      <dt>Nodes</dt><dd>${nodes.length}${
    job.offline?.length ? ` (offline: ${job.offline.join(", ")})` : ""
  }</dd>
      <dt>Results</dt><dd data-testid="done-count">${done}/${total}</dd>
      <${RolloutFields} job=${job} status=${rollout} onResume=${resume}
        resuming=${resuming} />
      <dt>Created</dt><dd>${ago(job.created_at)}${
    job.submitted_by ? ` by ${job.submitted_by}` : ""
  }</dd>
      ${
    job.error && html`
      <dt>Error</dt>
      <dd class="error">${job.error}</dd>
    `
  }
    </dl>
    <div class="grid-wrap">
      <div class="grid-row head">
        <span class="grid-node">node \\ step</span>
        ${
    labels.map((l, i) =>
      html`
        <span class="cell-head" key=${i}
          title=${l}>${i} ${l}</span>
      `
    )
  }
      </div>
      ${
    nodes.length === 0
      ? html`<p class="dim">No nodes yet: the job has not started.</p>`
      : html`
        <${VirtualRows} count=${nodes.length} rowHeight=${ROW}
          height=${520} row=${row} testid="grid" />
      `
  }
    </div>
    ${
    open && html`
      <${ResultPanel} id=${job.id} cell=${open}
        done=${results.current.has(`${open.step}:${open.node}`)}
        onClose=${() => setOpen(undefined)} />
    `
  }
  </main>`;
}
