import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type User } from '../api';
import { Alert, FieldError, errorText, useTitle } from '../components';
import { Link, navigate } from '../router';

type Errors = Partial<Record<'email' | 'username' | 'password', string>>;

// The API's rules (src/api/app/api.cpp, src/api/auth/password.cpp), checked
// here first so the user gets the message before a round trip.
export function validateRegistration(email: string, username: string, password: string): Errors {
  const e: Errors = {};
  if (!email) e.email = 'Enter your email address.';
  else if (email.length > 254 || !email.includes('@') || /\s/.test(email)) e.email = 'Enter a valid email address.';
  if (!username) e.username = 'Choose a username.';
  else if (!/^[A-Za-z0-9._-]{1,32}$/.test(username))
    e.username = 'Use 1–32 characters: letters, digits, dot, underscore or hyphen.';
  const bytes = new TextEncoder().encode(password).length;
  if (bytes < 8) e.password = 'Use at least 8 characters.';
  else if (bytes > 1024) e.password = 'Use at most 1024 bytes.';
  return e;
}

export function Register({ user, onLogin }: { user: User | null; onLogin: (u: User) => void }) {
  useTitle('Create account');
  const [email, setEmail] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // --registration invite: a code from an administrator (also from ?invite=).
  const [invite, setInvite] = useState(() => new URLSearchParams(location.search).get('invite') ?? '');
  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (user) navigate('/', { replace: true });
  }, [user]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const v = validateRegistration(email.trim(), username.trim(), password);
    setErrors(v);
    if (Object.keys(v).length) {
      const first = (['email', 'username', 'password'] as const).find((k) => v[k]);
      document.getElementById(`reg-${first}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const r = await api.register(email.trim(), username.trim(), password, invite.trim() || undefined);
      onLogin(r.user);
    } catch (err) {
      if (err instanceof ApiError && err.field && ['email', 'username', 'password'].includes(err.field)) {
        setErrors({ [err.field]: capitalize(err.message) });
      } else if (err instanceof ApiError && err.code === 'E_CONFLICT') {
        // "email already registered" / "username already taken" (src/api/store/users.cpp)
        if (err.message.startsWith('email')) setErrors({ email: 'This email is already registered.' });
        else if (err.message.startsWith('username')) setErrors({ username: 'This username is already taken.' });
        else setError(capitalize(err.message));
      } else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const field = (
    key: 'email' | 'username' | 'password',
    label: string,
    value: string,
    set: (v: string) => void,
    type: string,
    autoComplete: string,
    hint?: string,
  ) => (
    <div class={`field${errors[key] ? ' has-error' : ''}`}>
      <label for={`reg-${key}`}>{label}</label>
      <input
        id={`reg-${key}`}
        name={key}
        type={type}
        autoComplete={autoComplete}
        value={value}
        aria-invalid={errors[key] ? 'true' : undefined}
        aria-describedby={[hint ? `reg-${key}-hint` : '', errors[key] ? `reg-${key}-error` : ''].join(' ').trim() || undefined}
        onInput={(e) => set(e.currentTarget.value)}
        required
      />
      {hint && (
        <p class="hint" id={`reg-${key}-hint`}>
          {hint}
        </p>
      )}
      <FieldError id={`reg-${key}-error`} error={errors[key]} />
    </div>
  );

  return (
    <main class="page auth" id="main">
      <form class="card auth-card" onSubmit={submit} noValidate>
        <h1>Create account</h1>
        <Alert error={error} />
        {field('email', 'Email', email, setEmail, 'email', 'email')}
        {field('username', 'Username', username, setUsername, 'text', 'username', 'Letters, digits, . _ - (up to 32).')}
        {field('password', 'Password', password, setPassword, 'password', 'new-password', 'At least 8 characters.')}
        <div class="field">
          <label for="reg-invite">Invite code</label>
          <input
            id="reg-invite"
            name="invite"
            type="text"
            autoComplete="off"
            value={invite}
            aria-describedby="reg-invite-hint"
            onInput={(e) => setInvite(e.currentTarget.value)}
          />
          <p class="hint" id="reg-invite-hint">
            Only if this installation asks for one (an administrator gives them out).
          </p>
        </div>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Creating account…' : 'Create account'}
        </button>
        <p class="muted small">
          Already registered? <Link href="/login">Log in</Link>
        </p>
      </form>
    </main>
  );
}

function capitalize(s: string) {
  const m = s.replace(/^field "[^"]+": /, '');
  return m.charAt(0).toUpperCase() + m.slice(1);
}
