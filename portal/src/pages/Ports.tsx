// The Ports card of a running dev server: the container's listening TCP
// ports (GET /api/servers/{id}/ports, every 5 s while the page is visible),
// each previewed in a new tab on the IDE origin through a one-time ticket.
import { useState } from 'preact/hooks';
import { ApiError, api, type Server } from '../api';
import { Alert, errorText, usePoll } from '../components';
import { normalizePorts, useIdeHandoff } from '../ide';

const POLL_MS = 5000;

function pollErrorText(e: unknown): string {
  if (e instanceof ApiError && e.status === 409) return 'The container is not running, so no ports can be listed.';
  if (e instanceof ApiError && e.status === 502) return 'The container’s agent does not answer; trying again.';
  return `Could not list the ports: ${errorText(e)}`;
}

export function PortsCard({ server }: { server: Server }) {
  const [ports, setPorts] = useState<number[] | null>(null);
  const [pollError, setPollError] = useState<string | null>(null);
  const handoff = useIdeHandoff(server);

  usePoll(
    async () => {
      try {
        const r = await api.ports(server.id);
        setPorts(normalizePorts(r?.ports));
        setPollError(null);
      } catch (e) {
        // Not running: the old list would offer ports that are gone.
        if (e instanceof ApiError && e.status === 409) setPorts(null);
        setPollError(pollErrorText(e));
      }
    },
    POLL_MS,
    [server.id],
  );

  return (
    <section class="card ports-card" aria-labelledby="ports-h">
      <h2 id="ports-h">Ports</h2>
      <p class="muted small">
        TCP ports listening in the container. Open one to preview it in a new tab (on the IDE origin).
      </p>
      {pollError && (
        <div class="alert alert-info" role="status">
          {pollError}
        </div>
      )}
      <Alert error={handoff.error} />
      {ports === null && !pollError && <p class="muted">Looking for listening ports…</p>}
      {ports !== null && ports.length === 0 && (
        <div class="ports-empty">
          <p>No ports listening</p>
          <p class="hint">
            Start a web server in the container (e.g. <code>python3 -m http.server 3000</code>) and it appears here.
          </p>
        </div>
      )}
      {ports !== null && ports.length > 0 && (
        <ul class="port-list" aria-label="Listening ports">
          {ports.map((p) => (
            <li key={p} class="port-row">
              <span class="mono">{p}</span>
              <button
                type="button"
                class="btn btn-small"
                aria-label={`Open port ${p}`}
                disabled={handoff.busy === p}
                onClick={() => handoff.open(p)}
              >
                Open
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
