import { useState } from 'preact/hooks';
import { api, describe, displayState, type IncomingTransfer, type Server } from '../api';
import { fmtAt } from '../activity';
import { Alert, StateBadge, errorText, usePoll, useTitle } from '../components';
import { Link, navigate } from '../router';
import { can, isOwner } from '../sharing';
import { listCpu, listMemory } from '../stats';

const POLL_MS = 2500;

export function ServerList() {
  useTitle('Servers');
  const [servers, setServers] = useState<Server[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<Record<number, string>>({});
  const [actionError, setActionError] = useState<string | null>(null);
  const [offers, setOffers] = useState<IncomingTransfer[]>([]);

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
  // Servers offered to this user (a 404 from an older zlh-api: none).
  usePoll(
    async () => {
      try {
        setOffers((await api.transfers()).transfers ?? []);
      } catch {
        setOffers([]);
      }
    },
    15000,
    [],
  );

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
      {offers.length > 0 && <TransferOffers offers={offers} onAccepted={load} />}
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
              <th scope="col">CPU</th>
              <th scope="col">Memory</th>
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
              const canPower = can(s, 'power') && s.state === 'ready' && !!s.vmid && !(s.type === 'dev' && !s.spec?.enable_code_server);
              const running = ['running', 'starting'].includes(st);
              return (
                <tr key={s.id}>
                  <th scope="row" data-label="Name">
                    <Link href={`/servers/${s.id}`} class="server-name">
                      {name}
                    </Link>
                    {!isOwner(s) && (
                      <span class="sub" data-testid={`shared-${s.id}`}>
                        <span class="badge badge-shared">shared</span> by {s.owner?.username ?? 'another user'}
                      </span>
                    )}
                    {s.hostname && <span class="sub">{s.hostname}</span>}
                  </th>
                  <td data-label="Type">
                    <span class={`type type-${s.type}`}>{s.type}</span>
                  </td>
                  <td data-label="Runtime / game">{describe(s) || '—'}</td>
                  <td data-label="State">
                    <StateBadge state={st} id={s.id} />
                  </td>
                  <td data-label="CPU" data-testid={`cpu-${s.id}`} class="num">
                    {listCpu(s.stats)}
                  </td>
                  <td data-label="Memory" data-testid={`memory-${s.id}`} class="num">
                    {listMemory(s.stats)}
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

// Servers another user offered to this one: accept makes them the owner.
function TransferOffers({ offers, onAccepted }: { offers: IncomingTransfer[]; onAccepted: () => Promise<void> }) {
  const [busy, setBusy] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const accept = async (o: IncomingTransfer) => {
    setBusy(o.server_id);
    setError(null);
    try {
      await api.acceptTransfer(o.server_id);
      await onAccepted();
      navigate(`/servers/${o.server_id}`);
    } catch (e) {
      setError(`Accepting ${o.server_name} failed: ${errorText(e)}`);
    } finally {
      setBusy(null);
    }
  };
  return (
    <section class="card offers" aria-labelledby="offers-h">
      <h2 id="offers-h">Servers offered to you</h2>
      <Alert error={error} />
      <ul>
        {offers.map((o) => (
          <li key={o.server_id} data-testid={`offer-${o.server_id}`}>
            <strong>{o.server_name || `server-${o.server_id}`}</strong> from {o.from_username}
            {o.expires_at ? (
              <span class="muted small">
                {' '}
                (until {fmtAt(o.expires_at)})
              </span>
            ) : null}{' '}
            <button
              type="button"
              class="btn btn-small btn-primary"
              disabled={busy !== null}
              aria-label={`Accept ${o.server_name || `server-${o.server_id}`}`}
              onClick={() => accept(o)}
            >
              {busy === o.server_id ? 'Accepting…' : 'Accept'}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
