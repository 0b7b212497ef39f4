import { useState } from 'preact/hooks';
import { api, describe, displayState, type Server } from '../api';
import { Alert, StateBadge, errorText, usePoll, useTitle } from '../components';
import { Link } from '../router';

const POLL_MS = 2500;

export function ServerList() {
  useTitle('Servers');
  const [servers, setServers] = useState<Server[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<Record<number, string>>({});
  const [actionError, setActionError] = useState<string | null>(null);

  const load = async () => {
    try {
      const r = await api.servers();
      setServers(r.servers);
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  };
  usePoll(load, POLL_MS, []);

  const power = async (s: Server, action: 'start' | 'stop') => {
    setBusy((b) => ({ ...b, [s.id]: action }));
    setActionError(null);
    try {
      await api.power(s.id, action);
      await load();
    } catch (e) {
      setActionError(`${s.name || `Server ${s.id}`}: ${errorText(e)}`);
    } finally {
      setBusy((b) => {
        const n = { ...b };
        delete n[s.id];
        return n;
      });
    }
  };

  return (
    <main class="page" id="main">
      <div class="page-head">
        <h1>Servers</h1>
        <Link href="/new" class="btn btn-primary">
          Create server
        </Link>
      </div>
      <Alert error={error} />
      <Alert error={actionError} />
      {servers === null && !error && <p class="muted">Loading servers…</p>}
      {servers && servers.length === 0 && (
        <div class="empty card">
          <h2>No servers yet</h2>
          <p class="muted">Create a dev container with your favourite runtime, or a Minecraft server.</p>
        </div>
      )}
      {servers && servers.length > 0 && (
        <table class="server-table">
          <caption class="sr-only">Your servers, refreshed every few seconds</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Runtime / game</th>
              <th scope="col">State</th>
              <th scope="col">Crashes</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {servers.map((s) => {
              const st = displayState(s);
              const name = s.name || `server-${s.id}`;
              const canPower = s.state === 'ready' && !!s.vmid && !(s.type === 'dev' && !s.spec?.enable_code_server);
              const running = ['running', 'starting'].includes(st);
              return (
                <tr key={s.id}>
                  <th scope="row" data-label="Name">
                    <Link href={`/servers/${s.id}`} class="server-name">
                      {name}
                    </Link>
                    {s.hostname && <span class="sub">{s.hostname}</span>}
                  </th>
                  <td data-label="Type">
                    <span class={`type type-${s.type}`}>{s.type}</span>
                  </td>
                  <td data-label="Runtime / game">{describe(s) || '—'}</td>
                  <td data-label="State">
                    <StateBadge state={st} id={s.id} />
                  </td>
                  <td data-label="Crashes">{s.crash_count}</td>
                  <td class="actions">
                    {canPower &&
                      (running ? (
                        <button
                          type="button"
                          class="btn btn-small"
                          aria-label={`Stop ${name}`}
                          disabled={!!busy[s.id]}
                          onClick={() => power(s, 'stop')}
                        >
                          {busy[s.id] === 'stop' ? 'Stopping…' : 'Stop'}
                        </button>
                      ) : (
                        <button
                          type="button"
                          class="btn btn-small"
                          aria-label={`Start ${name}`}
                          disabled={!!busy[s.id]}
                          onClick={() => power(s, 'start')}
                        >
                          {busy[s.id] === 'start' ? 'Starting…' : 'Start'}
                        </button>
                      ))}
                    <Link href={`/servers/${s.id}`} class="btn btn-small btn-ghost" aria-label={`Open ${name}`}>
                      Open
                    </Link>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}
