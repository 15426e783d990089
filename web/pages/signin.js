// Sign-in: a token, kept in this tab's session storage only.
import { html, useState } from "../html.js";
import { api, session } from "../api.js";
import { ErrorLine } from "../ui.js";

export function SignIn({ reason, onSignedIn }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState(reason);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (!token.trim()) return setError("enter an API token");
    setBusy(true);
    session.signIn(token.trim());
    try {
      // Any read proves the token; a refused one signs out again.
      await api("/status");
      onSignedIn();
    } catch (err) {
      session.signOut();
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="signin">
      <h1>GRID</h1>
      <form onSubmit=${submit}>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="off" data-testid="token"
          value=${token} onInput=${(e) => setToken(e.currentTarget.value)}
          placeholder="grid_…" />
        <button type="submit" disabled=${busy}
          data-testid="signin">Sign in</button>
        <div data-testid="signin-error">
          <${ErrorLine} error=${error} />
        </div>
        <p class="hint">A read token shows the fleet and jobs; submitting and
          cancelling need an operate token (gridc token create NAME --scope operate).</p>
      </form>
    </main>
  `;
}
