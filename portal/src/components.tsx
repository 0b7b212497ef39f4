// Shared pieces: header, state badge, alert, modal dialog, progress bar, polling.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { ApiError, api, type User } from './api';
import { Link, navigate } from './router';

export function Header({ user, onLogout }: { user: User | null; onLogout: () => void }) {
  const logout = async () => {
    try {
      await api.logout();
    } catch {
      /* the cookie is cleared by the API; go to login either way */
    }
    onLogout();
    navigate('/login', { replace: true });
  };
  return (
    <header class="topbar">
      <Link href="/" class="brand" aria-label="zlh home">
        <span class="logo" aria-hidden="true">z</span>zlh
      </Link>
      {user && (
        <nav class="topnav" aria-label="Main">
          <Link href="/">Servers</Link>
          <Link href="/new">New server</Link>
        </nav>
      )}
      <div class="spacer" />
      {user && (
        <div class="who">
          <span class="username" title={user.email}>
            {user.username}
          </span>
          <button type="button" class="btn btn-ghost" onClick={logout}>
            Log out
          </button>
        </div>
      )}
    </header>
  );
}

const STATE_CLASS: Record<string, string> = {
  running: 'ok',
  ready: 'ok',
  provisioning: 'busy',
  installing: 'busy',
  verifying: 'busy',
  starting: 'busy',
  stopping: 'busy',
  deleting: 'busy',
  idle: 'muted',
  stopped: 'muted',
  error: 'bad',
  crashed: 'bad',
  // backups and schedule runs
  creating: 'busy',
  restoring: 'busy',
  failed: 'bad',
  ok: 'ok',
  skipped: 'muted',
};

export function StateBadge({ state, id }: { state: string; id?: number }) {
  const cls = STATE_CLASS[state] ?? 'muted';
  return (
    <span class={`badge badge-${cls}`} data-testid={id !== undefined ? `state-${id}` : undefined}>
      {state || 'unknown'}
    </span>
  );
}

export function Alert({ error, kind = 'error' }: { error: unknown; kind?: 'error' | 'info' }) {
  if (!error) return null;
  const msg = error instanceof Error ? error.message : String(error);
  if (kind === 'info')
    return (
      <div class="alert alert-info" role="status">
        {msg}
      </div>
    );
  return (
    <div class="alert alert-error" role="alert">
      {msg}
    </div>
  );
}

export function FieldError({ id, error }: { id: string; error?: string }) {
  if (!error) return null;
  return (
    <p class="field-error" id={id} role="alert">
      {error}
    </p>
  );
}

// A modal <dialog>: focus moves into it, Escape closes it, focus returns.
export function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    const prev = document.activeElement as HTMLElement | null;
    if (d && !d.open) d.showModal();
    return () => {
      if (d?.open) d.close();
      prev?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class="modal"
      aria-labelledby="modal-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id="modal-title">{title}</h2>
      {children}
    </dialog>
  );
}

export function ConfirmDialog({
  title,
  message,
  confirmLabel = 'Confirm',
  danger = true,
  busy = false,
  error,
  onConfirm,
  onCancel,
}: {
  title: string;
  message: ComponentChildren;
  confirmLabel?: string;
  danger?: boolean;
  busy?: boolean;
  error?: unknown;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Modal title={title} onClose={onCancel}>
      <div class="modal-body">{message}</div>
      <Alert error={error} />
      <div class="modal-actions">
        <button type="button" class="btn" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="button" class={`btn ${danger ? 'btn-danger' : 'btn-primary'}`} onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </button>
      </div>
    </Modal>
  );
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 100)));
  return (
    <div class="progress-wrap">
      <div
        class="progress"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        aria-valuetext={`${pct}%`}
      >
        <div class="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <span class="progress-pct" aria-hidden="true">
        {pct}%
      </span>
    </div>
  );
}

// Calls `fn` now and every `ms` while the page is visible; stops on unmount.
export function usePoll(fn: () => Promise<void> | void, ms: number, deps: unknown[]) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    let timer: number | undefined;
    let stopped = false;
    let inflight = false;
    const tick = async () => {
      if (stopped || inflight) return;
      window.clearTimeout(timer);
      if (document.visibilityState === 'visible') {
        inflight = true;
        try {
          await saved.current();
        } catch {
          /* the callback shows its own errors */
        }
        inflight = false;
      }
      if (!stopped) timer = window.setTimeout(tick, ms);
    };
    const onVis = () => {
      if (document.visibilityState === 'visible' && !inflight) {
        window.clearTimeout(timer);
        tick();
      }
    };
    tick();
    document.addEventListener('visibilitychange', onVis);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVis);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function useTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · zlh` : 'zlh';
  }, [title]);
}
