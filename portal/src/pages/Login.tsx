import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type User } from '../api';
import { Alert, errorText, useTitle } from '../components';
import { Link, go, safeNext } from '../router';

export function Login({ user, onLogin, next }: { user: User | null; onLogin: (u: User) => void; next: string | null }) {
  useTitle('Log in');
  const [identifier, setIdentifier] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const target = safeNext(next) ?? '/';

  useEffect(() => {
    if (user) go(target, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [user]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!identifier.trim() || !password) {
      setError('Enter your username or email and your password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await api.login(identifier.trim(), password);
      // /dev/… is the IDE proxy, not the SPA: a full navigation.
      if (target.startsWith('/dev/')) {
        window.location.assign(target);
        return;
      }
      onLogin(r.user);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('Wrong username/email or password.');
      else if (err instanceof ApiError && err.status === 429) setError(`Too many attempts. ${err.message}`);
      else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="page auth" id="main">
      <form class="card auth-card" onSubmit={submit} noValidate>
        <h1>Log in</h1>
        <Alert error={error} />
        <div class="field">
          <label for="login-identifier">Username or email</label>
          <input
            id="login-identifier"
            name="identifier"
            autoComplete="username"
            value={identifier}
            onInput={(e) => setIdentifier(e.currentTarget.value)}
            required
          />
        </div>
        <div class="field">
          <label for="login-password">Password</label>
          <input
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </div>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p class="muted small">
          No account yet? <Link href="/register">Create an account</Link>
        </p>
      </form>
    </main>
  );
}
