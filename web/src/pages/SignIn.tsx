/** Sign-in with an API key or a user token; the token goes to sessionStorage, never into a URL. */
import { useState, type FormEvent } from 'react';
import { errorText } from '../api';
import { signIn, type Session } from '../session';

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(token));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="signin">
      {/* method="post" and no action: the token can never end up in the address bar. */}
      <form method="post" onSubmit={submit} className="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Vigil</h1>
        <p>Sign in with an API key (<code>vgl_…</code>, the <code>read</code> scope shows everything) or your user token (<code>vgu_…</code>, your inbox).</p>
        <label htmlFor="token">API key or user token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder="vgl_… or vgu_…"
          required
        />
        {error !== null && (
          <p className="state error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="hint">The token is kept in this tab only (session storage) and sent as an Authorization header.</p>
      </form>
    </main>
  );
}
