// Small pieces the pages share: status badges, times, a virtualised list.
import { html, useEffect, useRef, useState } from "./html.js";

export function Badge({ status }) {
  return html`<span class="badge badge-${status}" data-status=${status}>${status}</span>`;
}

export function ago(iso) {
  if (!iso) return "—";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function target(t) {
  if (t.selector !== undefined) return t.selector;
  return t.scope === "all" ? "all" : `${t.scope}:${t.value ?? ""}`;
}

/** "backend action" for every leaf, by step number (depth-first). */
export function leafLabels(tasks) {
  const out = [];
  for (const p of tasks) {
    for (const leaf of p.tasks ?? [p]) {
      out.push(`${leaf.backend} ${leaf.action}`);
    }
  }
  return out;
}

/** Each phase's steps, first to last: a barrier is one, a pipeline several. */
export function phaseRanges(tasks) {
  const out = [];
  let first = 0;
  for (const p of tasks) {
    const n = p.tasks?.length ?? 1;
    out.push({ first, last: first + n - 1 });
    first += n;
  }
  return out;
}

export function ErrorLine({ error }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}

/**
 * Renders only the rows in view (plus a margin), so a list of thousands
 * of nodes costs what a screenful does. Rows have a fixed height.
 */
export function VirtualRows({ count, rowHeight, height, row, testid }) {
  const box = useRef(null);
  const [top, setTop] = useState(0);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const onScroll = () => setTop(el.scrollTop);
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, []);
  const margin = 10;
  const first = Math.max(0, Math.floor(top / rowHeight) - margin);
  const last = Math.min(count, Math.ceil((top + height) / rowHeight) + margin);
  const rows = [];
  for (let i = first; i < last; i++) rows.push(row(i));
  return html`
    <div class="virtual" ref=${box} data-testid=${testid}
      data-rendered=${rows.length}
      style=${{ height: `${Math.min(height, count * rowHeight + 2)}px` }}>
        <div style=${{ height: `${first * rowHeight}px` }}></div>
        ${rows}
        <div style=${{ height: `${(count - last) * rowHeight}px` }}></div>
      </div>
  `;
}
