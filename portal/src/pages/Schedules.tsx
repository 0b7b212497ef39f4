// Schedules of a server: cron (with a readable preview), time zone, tasks
// (console command, power, backup) with offsets, run now, last runs.
import { useState } from 'preact/hooks';
import { api, type Schedule, type ScheduleRun, type Server } from '../api';
import { fmtWhen } from '../backups';
import { Alert, ConfirmDialog, StateBadge, errorText, usePoll } from '../components';
import { describeCron } from '../cron';
import { ScheduleForm } from './ScheduleForm';
import { taskSummary } from '../schedules';

export function Schedules({ server }: { server: Server }) {
  const id = server.id;
  const [list, setList] = useState<Schedule[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [editing, setEditing] = useState<Schedule | 'new' | null>(null);
  const [remove, setRemove] = useState<Schedule | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = async () => {
    try {
      setList((await api.schedules(id)).schedules);
      setLoadError(null);
    } catch (e) {
      setLoadError(`Loading schedules failed: ${errorText(e)}`);
    }
  };
  const running = !!list?.some((s) => s.last_runs?.some((r) => r.state === 'running'));
  usePoll(load, running ? 1500 : 5000, [id, running]);

  const act = async (key: string, what: () => Promise<unknown>, done: string, failed: string) => {
    setBusy(key);
    setError(null);
    setNotice(null);
    try {
      await what();
      setNotice(done);
      await load();
    } catch (e) {
      setError(`${failed}: ${errorText(e)}`);
    } finally {
      setBusy(null);
    }
  };

  if (editing)
    return (
      <ScheduleForm
        server={server}
        schedule={editing === 'new' ? null : editing}
        onCancel={() => setEditing(null)}
        onSaved={(s) => {
          setEditing(null);
          setError(null);
          setNotice(`Schedule ${s.name} saved.`);
          load();
        }}
      />
    );

  return (
    <div class="schedules">
      <Alert error={loadError} />
      <Alert error={error} />
      {notice && (
        <div class="alert alert-info" role="status">
          {notice}
        </div>
      )}
      <div class="toolbar">
        <button type="button" class="btn btn-primary" onClick={() => setEditing('new')}>
          New schedule
        </button>
        <p class="hint">Times are read in each schedule's time zone; next runs are shown in yours.</p>
      </div>
      {list === null ? (
        <p class="muted">Loading…</p>
      ) : list.length === 0 ? (
        <div class="card empty">
          <h2>No schedules yet</h2>
          <p class="muted">Restart nightly, announce it first, back up before: a schedule runs its tasks in order.</p>
        </div>
      ) : (
        list.map((s) => (
          <ScheduleCard
            key={s.id}
            s={s}
            busy={busy}
            onToggle={() =>
              act(
                `toggle-${s.id}`,
                () => api.updateSchedule(id, s.id, { enabled: !s.enabled }),
                `${s.name} ${s.enabled ? 'disabled' : 'enabled'}.`,
                `Changing ${s.name} failed`,
              )
            }
            onRun={() => act(`run-${s.id}`, () => api.runSchedule(id, s.id), `${s.name} started.`, `Running ${s.name} failed`)}
            onEdit={() => setEditing(s)}
            onDelete={() => setRemove(s)}
          />
        ))
      )}
      {remove && (
        <ConfirmDialog
          title={`Delete ${remove.name}?`}
          confirmLabel="Delete"
          message={<p>The schedule and its run history are removed. Backups it made are kept.</p>}
          busy={busy === 'delete'}
          onCancel={() => setRemove(null)}
          onConfirm={async () => {
            const s = remove;
            setRemove(null);
            await act('delete', () => api.deleteSchedule(id, s.id), `Schedule ${s.name} deleted.`, `Deleting ${s.name} failed`);
          }}
        />
      )}
    </div>
  );
}

function ScheduleCard({
  s,
  busy,
  onToggle,
  onRun,
  onEdit,
  onDelete,
}: {
  s: Schedule;
  busy: string | null;
  onToggle: () => void;
  onRun: () => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const h = `schedule-h-${s.id}`;
  const preview = describeCron(s.cron);
  return (
    <section class="card schedule" data-testid={`schedule-${s.id}`} aria-labelledby={h}>
      <div class="schedule-head">
        <h2 id={h}>{s.name}</h2>
        <div class="field check">
          <input
            id={`schedule-enabled-${s.id}`}
            type="checkbox"
            role="switch"
            checked={s.enabled}
            disabled={busy === `toggle-${s.id}`}
            onChange={onToggle}
          />
          <label for={`schedule-enabled-${s.id}`}>
            Enabled<span class="sr-only"> {s.name}</span>
          </label>
        </div>
      </div>
      <dl class="facts">
        <dt>When</dt>
        <dd>
          <span data-testid={`schedule-preview-${s.id}`}>{preview}</span>
          {preview !== s.cron && <code class="mono cron-raw">{s.cron}</code>}
        </dd>
        <dt>Time zone</dt>
        <dd>{s.timezone}</dd>
        <dt>Next run</dt>
        <dd data-testid={`schedule-next-${s.id}`}>
          {s.next_run_at ? fmtWhen(s.next_run_at) : s.enabled ? '—' : 'none (disabled)'}
        </dd>
        <dt>Missed runs</dt>
        <dd>{s.catch_up ? 'run once after downtime' : 'skipped'}</dd>
        <dt>Server stopped</dt>
        <dd>{s.only_when_running ? 'skip the run' : 'run anyway'}</dd>
      </dl>
      <h3 class="small-h">Tasks</h3>
      <ol class="task-list">
        {s.tasks.map((t, i) => (
          <li key={i}>{taskSummary(t)}</li>
        ))}
      </ol>
      <h3 class="small-h">Last runs</h3>
      <RunList runs={s.last_runs ?? []} />
      <div class="btn-row">
        <button type="button" class="btn" disabled={busy === `run-${s.id}`} aria-label={`Run ${s.name} now`} onClick={onRun}>
          {busy === `run-${s.id}` ? 'Starting…' : 'Run now'}
        </button>
        <button type="button" class="btn" aria-label={`Edit ${s.name}`} onClick={onEdit}>
          Edit
        </button>
        <button type="button" class="btn btn-ghost danger" aria-label={`Delete ${s.name}`} onClick={onDelete}>
          Delete
        </button>
      </div>
    </section>
  );
}

function RunList({ runs }: { runs: ScheduleRun[] }) {
  if (!runs.length) return <p class="muted">No runs yet.</p>;
  return (
    <ul class="run-list">
      {runs.map((r) => (
        <li key={r.id} class="run" data-testid={`run-${r.id}`}>
          <div class="run-head">
            <StateBadge state={r.state} />
            <span>
              for {fmtWhen(r.fire_time)}
              {r.finished_at ? `, finished ${fmtWhen(r.finished_at)}` : r.started_at ? `, started ${fmtWhen(r.started_at)}` : ''}
            </span>
          </div>
          {r.error && <p class="field-error">{r.error}</p>}
          {r.tasks?.length > 0 && (
            <ol class="run-tasks">
              {r.tasks.map((t, i) => (
                <li key={i}>
                  {t.action}: <span class={`run-task-${t.state}`}>{t.state}</span>
                  {t.error && <span class="field-error"> — {t.error}</span>}
                </li>
              ))}
            </ol>
          )}
        </li>
      ))}
    </ul>
  );
}
