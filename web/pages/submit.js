// Submit a job as YAML (or JSON), as a job file holds it. The controller
// validates it against the same schema gridc's files go through; its
// message names each field at fault, shown here one per line.
import { html, useState } from "../html.js";
import { api } from "../api.js";

const EXAMPLE = `target: { scope: group, value: web }
strategy: fail-fast
tasks:
  - backend: ping
    action: echo
    params: { message: "hello" }
`;

export function Submit() {
  const [text, setText] = useState(EXAMPLE);
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    try {
      const { data } = await api("/job", {
        method: "POST",
        body: text,
        type: "application/yaml",
      });
      location.hash = `#/job/${data.id}`;
    } catch (err) {
      // "tasks[0].action: …; tasks[1].params.x: …": one line each.
      setErrors(err.message.split("; "));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="submit">
      <h2>New job</h2>
      <form onSubmit=${submit}>
          <label for="job-yaml">Job, as YAML or JSON</label>
          <textarea id="job-yaml" data-testid="yaml" spellcheck="false" rows="16"
            aria-describedby="job-hint" value=${text} onInput=${(e) =>
              setText(e.currentTarget.value)}></textarea>
          ${errors.length > 0 &&
            html`<ul class="errors" data-testid="submit-errors" role="alert">${
              errors.map((m, i) => html`<li key=${i}>${m}</li>`)
            }</ul>`}
          <button type="submit" disabled=${busy} data-testid="submit">Submit</button>
          <p class="hint" id="job-hint">Params are strings: quote numbers ("3"). See the README for
          steps, pipelines, conditions and timeouts.</p>
        </form>
    </main>
  `;
}
