// The GRID dashboard: a hash router over four pages, behind a sign-in.
import { html, render, useEffect, useState } from "./html.js";
import { api, onUnauthorized, session } from "./api.js";
import { SignIn } from "./pages/signin.js";
import { Fleet } from "./pages/fleet.js";
import { Jobs } from "./pages/jobs.js";
import { Job } from "./pages/job.js";
import { Submit } from "./pages/submit.js";

function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const q = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "job" && parts[1]) return { page: "job", id: parts[1] };
  if (parts[0] === "jobs") {
    return { page: "jobs", status: q.get("status") ?? undefined };
  }
  if (parts[0] === "submit") return { page: "submit" };
  return { page: "fleet" };
}

function Status() {
  const [s, setS] = useState();
  useEffect(() => {
    const load = () => api("/status").then(({ data }) => setS(data), () => {});
    load();
    const t = setInterval(load, 10000);
    return () => clearInterval(t);
  }, []);
  if (!s) return null;
  const text = `${s.controller} · ${s.nodes.online}/${s.nodes.total} ` +
    `nodes online · ${s.queue.running} running, ${s.queue.pending} pending`;
  return html`<span class="dim" data-testid="controller">${text}</span>`;
}

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(session.token()));
  const [reason, setReason] = useState();
  const [where, setWhere] = useState(route());
  useEffect(() => {
    const onHash = () => setWhere(route());
    addEventListener("hashchange", onHash);
    onUnauthorized((message) => {
      setReason(message);
      setSignedIn(false);
    });
    return () => removeEventListener("hashchange", onHash);
  }, []);
  if (!signedIn) {
    return html`
      <${SignIn} reason=${reason}
        onSignedIn=${() => (setReason(undefined), setSignedIn(true))} />
    `;
  }
  const link = (page, label, href) =>
    html`
      <a href=${href} class=${where.page === page ? "active" : ""}
        data-testid=${`nav-${page}`}>${label}</a>
    `;
  return html`<div class="shell">
    <header class="top">
      <b class="logo">GRID</b>
      <nav>${link("fleet", "Fleet", "#/fleet")}${
    link("jobs", "Jobs", "#/jobs")
  }${link("submit", "New job", "#/submit")}</nav>
      <${Status} />
      <button class="link" data-testid="signout" onClick=${() => {
    session.signOut();
    setReason(undefined);
    setSignedIn(false);
  }}>Sign out</button>
    </header>
    ${where.page === "fleet" && html`<${Fleet} />`}
    ${where.page === "jobs" && html`<${Jobs} status=${where.status} />`}
    ${where.page === "job" && html`<${Job} id=${where.id} />`}
    ${where.page === "submit" && html`<${Submit} />`}
  </div>`;
}

// The boot text goes: Preact adds to what is in the container.
const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
