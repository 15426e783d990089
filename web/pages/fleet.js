// The fleet: controllers, groups with their counts, and every node
// (virtualised: a thousand rows cost a screenful).
import { html, useEffect, useMemo, useState } from "../html.js";
import { api } from "../api.js";
import { ago, Badge, ErrorLine, VirtualRows } from "../ui.js";

function usePolled(path, everyMs) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  useEffect(() => {
    let stop = false;
    const load = () =>
      api(path).then(
        ({ data }) => !stop && setState({ data, error: undefined }),
        (e) => !stop && setState((s) => ({ ...s, error: e.message })),
      );
    load();
    const t = setInterval(load, everyMs);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [path]);
  return state;
}

function groupsOf(nodes) {
  const groups = new Map();
  for (const n of nodes) {
    for (const g of n.groups.length ? n.groups : ["(none)"]) {
      const c = groups.get(g) ?? { online: 0, offline: 0, revoked: 0 };
      c[n.status]++;
      groups.set(g, c);
    }
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b));
}

/** A node's labels as `key=value`, by key: what a selector matches. */
function labelsOf(n) {
  return Object.entries(n.labels ?? {}).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
}

export function Fleet() {
  const nodes = usePolled("/nodes", 5000);
  const ctls = usePolled("/controllers", 10000);
  const [filter, setFilter] = useState("");
  const list = nodes.data ?? [];
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    if (!f) return list;
    return list.filter((n) =>
      n.id.toLowerCase().includes(f) || n.hostname.toLowerCase().includes(f) ||
      n.status === f || n.groups.some((g) => g.toLowerCase() === f) ||
      labelsOf(n).some((l) => l.toLowerCase() === f)
    );
  }, [list, filter]);
  const count = (s) => list.filter((n) => n.status === s).length;
  const upCtls = (ctls.data ?? []).filter((c) => c.status === "online").length;
  const row = (i) => {
    const n = shown[i];
    return html`
      <div class="row nodes-row" key=${n.id} data-testid="node-row">
        <span class="mono">${n.id}</span>
        <span>${n.hostname}</span>
        <span>${n.groups.join(", ") || "—"}</span>
        <span class="mono" data-testid="node-labels"
          title=${labelsOf(n).join(", ")}>${labelsOf(n).join(", ") ||
            "—"}</span>
        <span><${Badge} status=${n.status} /></span>
        <span class="mono dim">${n.backends.join(", ") || "—"}</span>
        <span class="dim">${n.running
          ? `job ${n.running.job.slice(-8)}`
          : ""}</span>
        <span class="dim">${ago(n.last_seen)}</span>
      </div>
    `;
  };
  return html`
    <main>
      <${ErrorLine} error=${nodes.error ?? ctls.error} />
      <section class="stats" data-testid="fleet-stats">
        <div><b data-testid="count-online">${count("online")}</b> online</div>
        <div><b data-testid="count-offline">${count(
          "offline",
        )}</b> offline</div>
        <div><b data-testid="count-revoked">${count(
          "revoked",
        )}</b> revoked</div>
        <div><b>${upCtls}</b>${` of ${
          (ctls.data ?? []).length
        } controllers online`}</div>
      </section>
      <section>
        <h2>Controllers</h2>
        <div class="chips">${(ctls.data ?? []).map((c) =>
          html`
            <span class="chip"
              key=${c.id}>${`${c.id} `}<${Badge} status=${c
                .status} />${` ${c.jobs} running, up since ${
                ago(c.started_at)
              }`}</span>
          `
        )}</div>
      </section>
      <section>
        <h2>Groups</h2>
        <div class="chips" data-testid="groups">${groupsOf(list).map(([g, c]) =>
          html`<button class="chip" key=${g} onClick=${() => setFilter(g)}>
        ${g}: ${c.online} online${c.offline ? `, ${c.offline} offline` : ""}${
            c.revoked ? `, ${c.revoked} revoked` : ""
          }</button>`
        )}</div>
      </section>
      <section>
        <h2>Nodes <span class="dim">${shown.length} of ${list
          .length}</span></h2>
        <input class="filter" aria-label="Filter nodes"
          placeholder="filter: id, host, group, key=value or status"
          value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)}
          data-testid="node-filter" />
        <div class="row nodes-row head">
            <span>ID</span><span>HOST</span><span>GROUPS</span><span>LABELS</span><span>STATUS</span>
            <span>BACKENDS</span><span>RUNNING</span><span>LAST SEEN</span>
          </div>
        <${VirtualRows} count=${shown.length} rowHeight=${28} height=${560}
          row=${row} testid="nodes" />
      </section>
    </main>
  `;
}
