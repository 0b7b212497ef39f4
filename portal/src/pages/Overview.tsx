import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { api, displayState, type Job, type Server } from '../api';
import { Alert, Modal, ProgressBar, StateBadge, errorText, usePoll } from '../components';
import { useIdeHandoff } from '../ide';
import { navigate } from '../router';
import { can, isOwner } from '../sharing';
import { jobOf } from './jobs';
import { PortsCard } from './Ports';

// The charts (uPlot) are a chunk of their own, loaded with the Overview's
// first render rather than with the app.
const LiveStats = lazy(() => import('./Charts').then((m) => ({ default: m.LiveStats })));

const FINAL_JOB = new Set(['done', 'failed', 'compensated', 'cancelled']);
// The server's latest job may also be a backup or a restore (issue 23).
const JOB_TITLE: Record<string, string> = {
  create: 'Provisioning job',
  delete: 'Deletion job',
  backup: 'Backup job',
  restore: 'Restore job',
};

function fmtTime(s: string | null) {
  if (!s) return '—';
  const d = new Date(s);
  return isNaN(d.getTime()) ? s : d.toLocaleString();
}

export function Overview({ server, reload, jobParam }: { server: Server; reload: () => Promise<void>; jobParam: string | null }) {
  const s = server;
  const jobId = jobOf(s.id) ?? (jobParam && /^\d+$/.test(jobParam) ? Number(jobParam) : undefined) ?? s.job?.id;
  const [job, setJob] = useState<Job | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const ide = useIdeHandoff(s);
  const owner = isOwner(s);
  const mayPower = can(s, 'power');

  usePoll(
    async () => {
      if (!jobId || (job && FINAL_JOB.has(job.state))) return;
      try {
        setJob(await api.job(jobId));
      } catch {
        /* a job of another server or gone: no step list */
      }
    },
    2000,
    [jobId, job?.state],
  );

  const state = displayState(s);
  const provisioning = s.state === 'provisioning';
  const hasContainer = !!s.vmid && s.state !== 'deleting';
  // A dev container's workload is code-server: without it the agent has
  // nothing to start or stop (409), so only the container buttons apply.
  const noWorkload = s.type === 'dev' && !s.spec.enable_code_server;
  const canPower = hasContainer && !!s.ip && s.state === 'ready' && !noWorkload;
  const canHost = hasContainer && (s.state === 'ready' || s.state === 'error');
  // The container runs while its agent answers, whatever the workload does
  // (a dev server's ports can come from the console).
  const containerUp = hasContainer && s.state === 'ready' && !!s.agent_state && s.agent_state !== 'unreachable';

  const act = async (action: string, label: string) => {
    setBusy(action);
    setActionError(null);
    setNotice(null);
    try {
      await api.power(s.id, action);
      setNotice(`${label}: done.`);
      await reload();
    } catch (e) {
      setActionError(`${label} failed: ${errorText(e)}`);
    } finally {
      setBusy(null);
    }
  };

  const power = (action: string, label: string, extra = '') => (
    <button type="button" class={`btn ${extra}`} disabled={!canPower || !!busy} onClick={() => act(action, label)}>
      {busy === action ? `${label}…` : label}
    </button>
  );
  const host = (action: string, label: string) => (
    <button
      type="button"
      class="btn"
      disabled={!canHost || !!busy}
      onClick={() => act(`host/${action}`, label)}
    >
      {busy === `host/${action}` ? `${label}…` : label}
    </button>
  );

  return (
    <div class="overview">
      {provisioning && (
        <div class="card provisioning" role="status" aria-live="polite">
          <h2>Setting up</h2>
          <p>{s.install_step || 'Waiting for the first step…'}</p>
          <ProgressBar value={s.progress || 0} label="Install progress" />
        </div>
      )}
      {s.error && (
        <div class="alert alert-error" role="alert">
          <strong>Error:</strong> {s.error}
        </div>
      )}
      <Alert error={actionError} />
      {notice && (
        <div class="alert alert-info" role="status">
          {notice}
        </div>
      )}

      <div class="grid2">
        <section class="card" aria-labelledby="status-h">
          <h2 id="status-h">Status</h2>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <StateBadge state={state} />
            </dd>
            <dt>Control plane</dt>
            <dd>{s.state}</dd>
            <dt>Agent state</dt>
            <dd>{s.agent_state || '—'}</dd>
            {!provisioning && s.install_step && (
              <>
                <dt>Install step</dt>
                <dd>{s.install_step}</dd>
              </>
            )}
            <dt>Crashes</dt>
            <dd>{s.crash_count}</dd>
            {s.last_exit && (
              <>
                <dt>Last exit</dt>
                <dd data-testid="last-exit">{describeExit(s.last_exit)}</dd>
              </>
            )}
            {s.resources && (
              <>
                <dt>Memory</dt>
                <dd>
                  {mib(s.resources.memory_bytes)} of {mib(s.resources.memory_max)} MiB
                </dd>
                <dt>Disk</dt>
                <dd>
                  {mib(s.resources.disk_bytes)} of {mib(s.resources.disk_max)} MiB
                </dd>
                <dt>Processes</dt>
                <dd>{s.resources.pids}</dd>
              </>
            )}
            <dt>Agent last seen</dt>
            <dd>{fmtTime(s.agent_last_seen)}</dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="details-h">
          <h2 id="details-h">Details</h2>
          <dl class="facts">
            <dt>Type</dt>
            <dd>{s.type}</dd>
            {s.type === 'dev' ? (
              <>
                <dt>Runtime</dt>
                <dd>
                  {s.spec.runtime ?? '—'} {s.spec.version ?? ''}
                </dd>
                <dt>code-server</dt>
                <dd>{s.spec.enable_code_server ? 'enabled' : 'disabled'}</dd>
              </>
            ) : (
              <>
                <dt>Game</dt>
                <dd>
                  {[s.spec.game, s.spec.variant, s.spec.version].filter(Boolean).join(' / ') || '—'}
                </dd>
                <dt>Ports</dt>
                <dd>{s.ports.length ? s.ports.join(', ') : '—'}</dd>
              </>
            )}
            <dt>Memory</dt>
            <dd>{s.spec.memory_mb ? `${s.spec.memory_mb} MB` : '—'}</dd>
            <dt>vmid</dt>
            <dd>{s.vmid ?? '—'}</dd>
            <dt>Address</dt>
            <dd>{s.ip || '—'}</dd>
            <dt>Created</dt>
            <dd>{fmtTime(s.created_at)}</dd>
          </dl>
          {s.ide_url && can(s, 'ide') && (
            <>
              <Alert error={ide.error} />
              <button type="button" class="btn btn-primary" disabled={ide.busy !== null} onClick={() => ide.open()}>
                Open IDE
              </button>
            </>
          )}
        </section>
      </div>

      {s.state === 'ready' && !!s.vmid && (
        <Suspense fallback={<p class="muted">Loading live stats…</p>}>
          <LiveStats server={s} />
        </Suspense>
      )}

      {s.type === 'dev' && containerUp && can(s, 'ide') && <PortsCard server={s} />}

      {job && (
        <section class="card" aria-labelledby="job-h">
          <h2 id="job-h">
            {JOB_TITLE[job.kind] ?? 'Job'} #{job.id} <span class="muted small">({job.state})</span>
          </h2>
          <ol class="steps">
            {job.steps.map((st) => (
              <li key={st.name} class={`step step-${st.state}`}>
                <span class="step-mark" aria-hidden="true" />
                <span class="step-name">{st.name}</span>
                <span class="step-state">{st.state}</span>
                {st.detail && <span class="step-detail">{st.detail}</span>}
              </li>
            ))}
          </ol>
          {job.error && <p class="field-error">{job.error}</p>}
        </section>
      )}

      {mayPower && (
        <section class="card" aria-labelledby="power-h">
          <h2 id="power-h">Power</h2>
          <div class="power-group" role="group" aria-labelledby="power-workload">
            <span class="group-label" id="power-workload">
              {s.type === 'game' ? 'Game server' : 'Workload'}
            </span>
            {power('start', 'Start', 'btn-primary')}
            {power('stop', 'Stop')}
            {power('restart', 'Restart')}
            {power('kill', 'Kill', 'btn-danger-outline')}
          </div>
          <div class="power-group" role="group" aria-labelledby="power-host">
            <span class="group-label" id="power-host">
              Container
            </span>
            {host('start', 'Host start')}
            {host('stop', 'Host stop')}
            {host('restart', 'Host restart')}
          </div>
          {noWorkload ? (
            <p class="hint">
              This dev container has no workload (code-server is disabled): use the Console, or the container buttons.
            </p>
          ) : (
            !canPower && !provisioning && <p class="hint">Power actions are available once the server is ready.</p>
          )}
        </section>
      )}

      {owner && (
        <section class="card danger-zone" aria-labelledby="danger-h">
          <h2 id="danger-h">Danger zone</h2>
          <p class="muted">Deleting stops the server, destroys its container and all its files.</p>
          <button type="button" class="btn btn-danger" disabled={s.state === 'deleting'} onClick={() => setConfirmDelete(true)}>
            {s.state === 'deleting' ? 'Deleting…' : 'Delete'}
          </button>
        </section>
      )}

      {confirmDelete && <DeleteDialog server={s} onClose={() => setConfirmDelete(false)} />}
    </div>
  );
}

function DeleteDialog({ server, onClose }: { server: Server; onClose: () => void }) {
  const name = server.name || `server-${server.id}`;
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (typed !== name) return;
    setBusy(true);
    setError(null);
    try {
      await api.remove(server.id);
      onClose();
      navigate('/');
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <Modal title={`Delete ${name}?`} onClose={onClose}>
      <form onSubmit={submit}>
        <p>
          This permanently destroys the container and everything in it. Type <strong class="mono">{name}</strong> to
          confirm.
        </p>
        <div class="field">
          <label for="delete-confirm-name">Server name</label>
          <input
            id="delete-confirm-name"
            value={typed}
            autoComplete="off"
            onInput={(e) => setTyped(e.currentTarget.value)}
            autoFocus
          />
        </div>
        <Alert error={error} />
        <div class="modal-actions">
          <button type="button" class="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="btn btn-danger" disabled={busy || typed !== name}>
            {busy ? 'Deleting…' : 'Confirm'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

// "out of memory (killed by signal 9)", "exit code 3", "signal 15".
function describeExit(e: NonNullable<Server['last_exit']>): string {
  const how = e.signal !== undefined ? `signal ${e.signal}` : `exit code ${e.code ?? 0}`;
  return e.reason ? `${e.reason} (${how})` : how;
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(0);
}
