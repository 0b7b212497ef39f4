import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { ApiError, api, describe, displayState, type Server } from '../api';
import { Alert, ConfirmDialog, StateBadge, errorText, usePoll, useTitle } from '../components';
import { Link, navigate } from '../router';
import { isOwner, permsOf, tabNeeds, tabsFor } from '../sharing';
import { Overview } from './Overview';
import { Files } from './Files';
import { Mods } from './Mods';
import { Ide } from './Ide';
import { Tailscale } from './Tailscale';

// xterm.js is only loaded when a console is opened.
const Console = lazy(() => import('./Console').then((m) => ({ default: m.Console })));
// Backups and Schedules (with the cron parser) are opened rarely: their own
// chunks keep them out of the first load.
const Backups = lazy(() => import('./Backups').then((m) => ({ default: m.Backups })));
const Schedules = lazy(() => import('./Schedules').then((m) => ({ default: m.Schedules })));
const Members = lazy(() => import('./Members').then((m) => ({ default: m.Members })));
const Activity = lazy(() => import('./Activity').then((m) => ({ default: m.Activity })));

const POLL_MS = 2500;

export function ServerPage({ id, tab, search }: { id: number; tab: string; search: URLSearchParams }) {
  const [server, setServer] = useState<Server | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [gone, setGone] = useState(false);

  const load = async () => {
    if (gone) return;
    try {
      setServer(await api.server(id));
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setGone(true);
      setError(e);
    }
  };
  usePoll(load, POLL_MS, [id, gone]);

  const name = server ? server.name || `server-${server.id}` : `Server ${id}`;
  useTitle(tab === 'overview' ? name : `${name} · ${tab}`);

  if (gone)
    return (
      <main class="page narrow" id="main">
        <h1>Server not found</h1>
        <p>It does not exist, or it has been deleted.</p>
        <p>
          <Link href="/">Back to your servers</Link>
        </p>
      </main>
    );
  if (!server)
    return (
      <main class="page" id="main" aria-busy="true">
        <Alert error={error ? errorText(error) : null} />
        {!error && <p class="muted">Loading…</p>}
      </main>
    );

  // Tabs follow the caller's permissions (sharing.ts); zlh-api refuses
  // the rest anyway (403 E_FORBIDDEN).
  const tabs = tabsFor(server);
  // A tab of the other server type (Mods on a dev server) still says why below.
  const need = tabNeeds(tab);
  const allowed = tab === 'overview' || tabs.some((t) => t.key === tab) || (!!need && need !== 'owner' && permsOf(server).has(need));

  let body;
  switch (allowed ? tab : 'forbidden') {
    case 'forbidden':
      body = (
        <div class="card" data-testid="tab-forbidden">
          <h2>Not available to you</h2>
          <p>
            {need === 'owner'
              ? 'Only the owner of this server can open this page.'
              : `The owner has not given you the "${need}" permission on this server.`}
          </p>
        </div>
      );
      break;
    case 'members':
      body = (
        <Suspense fallback={<p class="muted">Loading members…</p>}>
          <Members server={server} />
        </Suspense>
      );
      break;
    case 'activity':
      body = (
        <Suspense fallback={<p class="muted">Loading activity…</p>}>
          <Activity server={server} />
        </Suspense>
      );
      break;
    case 'console':
      body = (
        <Suspense fallback={<p class="muted">Loading console…</p>}>
          <Console server={server} />
        </Suspense>
      );
      break;
    case 'files':
      body = <Files server={server} path={search.get('path') ?? ''} />;
      break;
    case 'mods':
      body = server.type === 'game' ? <Mods server={server} /> : <p>Mods are only available on game servers.</p>;
      break;
    case 'backups':
      body = (
        <Suspense fallback={<p class="muted">Loading backups…</p>}>
          <Backups server={server} />
        </Suspense>
      );
      break;
    case 'schedules':
      body = (
        <Suspense fallback={<p class="muted">Loading schedules…</p>}>
          <Schedules server={server} />
        </Suspense>
      );
      break;
    case 'ide':
      body = <Ide server={server} search={search} />;
      break;
    case 'tailscale':
      body = server.type === 'dev' ? <Tailscale server={server} /> : <p>Tailscale access is only available on dev servers.</p>;
      break;
    default:
      body = <Overview server={server} reload={load} jobParam={search.get('job')} />;
  }

  return (
    <main class="page" id="main">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/">Servers</Link>
        <span aria-hidden="true"> / </span>
        <span aria-current="page">{name}</span>
      </nav>
      <div class="page-head">
        <div>
          <h1 class="server-title">
            {name} <StateBadge state={displayState(server)} />
          </h1>
          <p class="muted small">
            {server.type === 'dev' ? 'Dev container' : 'Game server'}
            {describe(server) ? ` · ${describe(server)}` : ''}
            {server.hostname ? ` · ${server.hostname}` : ''}
          </p>
          {!isOwner(server) && (
            <div class="small shared-note" data-testid="shared-note">
              <span class="badge badge-shared">shared</span> Owned by{' '}
              <strong>{server.owner?.username ?? 'another user'}</strong>, shared with you.{' '}
              <LeaveButton server={server} name={name} />
            </div>
          )}
        </div>
      </div>
      <nav class="tabs" aria-label="Server sections">
        {tabs.map(({ key, label, href }) => (
          <Link key={key} href={href} class={`tab${tab === key ? ' active' : ''}`} aria-current={tab === key ? 'page' : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <Alert error={error ? `Could not refresh: ${errorText(error)}` : null} />
      <section class="tab-body">{body}</section>
    </main>
  );
}

// A member leaves a server shared with them (DELETE …/members/<own id>).
function LeaveButton({ server, name }: { server: Server; name: string }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const leave = async () => {
    setBusy(true);
    setError(null);
    try {
      const me = await api.me();
      await api.removeMember(server.id, me.user.id);
      navigate('/');
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="btn btn-small btn-ghost" onClick={() => setAsking(true)}>
        Leave
      </button>
      {asking && (
        <ConfirmDialog
          title={`Leave ${name}?`}
          message={<p>You lose access to {name} until its owner invites you again.</p>}
          confirmLabel="Leave"
          busy={busy}
          error={error}
          onConfirm={leave}
          onCancel={() => setAsking(false)}
        />
      )}
    </>
  );
}
