// The create/edit form of a schedule: the cron field checks and explains
// itself while typed; tasks can be added, removed and reordered.
import { useMemo, useState } from 'preact/hooks';
import { ApiError, api, type Schedule, type Server, type TaskAction } from '../api';
import { Alert, FieldError, errorText } from '../components';
import { checkCron, describeCron, nextFire } from '../cron';
import {
  POWER_ACTIONS,
  actionsFor,
  draftErrorKey,
  draftFrom,
  moveTask,
  newTask,
  removeTask,
  timeZones,
  validateDraft,
  type DraftErrors,
  type ScheduleDraft,
  type TaskDraft,
} from '../schedules';

export function ScheduleForm({
  server,
  schedule,
  onCancel,
  onSaved,
}: {
  server: Server;
  schedule: Schedule | null;
  onCancel: () => void;
  onSaved: (s: Schedule) => void;
}) {
  const [d, setD] = useState<ScheduleDraft>(() => draftFrom(schedule, server.type));
  const [errors, setErrors] = useState<DraftErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const zones = useMemo(() => {
    const z = timeZones();
    return z.includes(d.timezone) ? z : [d.timezone, ...z];
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const set = (patch: Partial<ScheduleDraft>) => setD((cur) => ({ ...cur, ...patch }));
  const setTasks = (tasks: TaskDraft[]) => set({ tasks });

  const submit = async (e: Event) => {
    e.preventDefault();
    const v = validateDraft(d);
    setErrors(v.errors);
    setFormError(null);
    if (!v.body) return;
    setBusy(true);
    try {
      const saved = schedule
        ? await api.updateSchedule(server.id, schedule.id, v.body)
        : await api.createSchedule(server.id, v.body);
      onSaved(saved);
    } catch (err) {
      const key = err instanceof ApiError ? draftErrorKey(err.field, d) : null;
      if (key) setErrors({ [key]: errorText(err) });
      else setFormError(`Saving failed: ${errorText(err)}`);
      setBusy(false);
    }
  };

  const title = schedule ? `Edit ${schedule.name}` : 'New schedule';
  return (
    <form class="card form schedule-form" onSubmit={submit} aria-labelledby="schedule-form-h" noValidate>
      <h2 id="schedule-form-h">{title}</h2>
      <Alert error={formError} />
      <div class="row2">
        <TextField id="sched-name" label="Name" value={d.name} error={errors.name} onInput={(name) => set({ name })} />
        <div class="field">
          <label for="sched-tz">Time zone</label>
          <select id="sched-tz" value={d.timezone} onChange={(e) => set({ timezone: e.currentTarget.value })}>
            {zones.map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
          <FieldError id="sched-tz-error" error={errors.timezone} />
        </div>
      </div>
      <CronField value={d.cron} timezone={d.timezone} error={errors.cron} onInput={(cron) => set({ cron })} />
      <Check id="sched-enabled" label="Enabled" checked={d.enabled} onChange={(enabled) => set({ enabled })} />
      <Check
        id="sched-catch-up"
        label="Run a missed run once after downtime"
        checked={d.catch_up}
        onChange={(catch_up) => set({ catch_up })}
      />
      <Check
        id="sched-only-running"
        label="Only when the server is running"
        checked={d.only_when_running}
        onChange={(only_when_running) => set({ only_when_running })}
      />
      <TaskList type={server.type} tasks={d.tasks} errors={errors} onChange={setTasks} />
      <div class="form-actions">
        <button type="button" class="btn" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save schedule'}
        </button>
      </div>
    </form>
  );
}

function TextField({
  id,
  label,
  value,
  error,
  onInput,
}: {
  id: string;
  label: string;
  value: string;
  error?: string;
  onInput: (v: string) => void;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        value={value}
        autoComplete="off"
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      <FieldError id={`${id}-error`} error={error} />
    </div>
  );
}

function Check({ id, label, checked, onChange }: { id: string; label: string; checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <div class="field check">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.currentTarget.checked)} />
      <label for={id}>{label}</label>
    </div>
  );
}

// The cron input with its live preview (or the parser's message) and the
// next run it gives in the chosen zone, shown in the browser's time.
function CronField({
  value,
  timezone,
  error,
  onInput,
}: {
  value: string;
  timezone: string;
  error?: string;
  onInput: (v: string) => void;
}) {
  const parsed = checkCron(value);
  const live = parsed.ok ? null : parsed.error;
  const next = parsed.ok ? nextFire(parsed.cron, timezone, new Date()) : null;
  const shown = error || live;
  return (
    <div class="field">
      <label for="sched-cron">Cron expression</label>
      <input
        id="sched-cron"
        class="mono"
        value={value}
        autoComplete="off"
        spellcheck={false}
        aria-invalid={shown ? 'true' : undefined}
        aria-describedby="sched-cron-preview sched-cron-help"
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      <p id="sched-cron-preview" class={shown ? 'field-error' : 'hint cron-preview'} aria-live="polite" data-testid="cron-preview">
        {shown
          ? shown
          : `${describeCron(value)}${next ? ` · next: ${next.toLocaleString()} (your time)` : ''}`}
      </p>
      <p id="sched-cron-help" class="hint cron-help">
        minute hour day-of-month month day-of-week, e.g. <code>0 4 * * *</code> (every day at 04:00),{' '}
        <code>*/15 * * * *</code>, <code>30 4 * * mon-fri</code>.
      </p>
    </div>
  );
}

function TaskList({
  type,
  tasks,
  errors,
  onChange,
}: {
  type: string;
  tasks: TaskDraft[];
  errors: DraftErrors;
  onChange: (t: TaskDraft[]) => void;
}) {
  const focusLater = (id: string) =>
    window.requestAnimationFrame(() => (document.getElementById(id) as HTMLElement | null)?.focus());
  const move = (i: number, delta: -1 | 1) => {
    const t = tasks[i];
    onChange(moveTask(tasks, i, delta));
    const to = i + delta;
    // At the ends the button is disabled: focus the other one.
    const dir = (delta < 0 && to === 0) || (delta > 0 && to === tasks.length - 1) ? (delta < 0 ? 'down' : 'up') : delta < 0 ? 'up' : 'down';
    focusLater(`task-${t.uid}-${dir}`);
  };
  const update = (i: number, patch: Partial<TaskDraft>) => onChange(tasks.map((t, k) => (k === i ? { ...t, ...patch } : t)));
  return (
    <fieldset class="task-fieldset">
      <legend>Tasks</legend>
      <p class="hint">Tasks run in order; each starts its offset in seconds after the previous one.</p>
      <FieldError id="sched-tasks-error" error={errors.tasks} />
      <ol class="task-edit-list">
        {tasks.map((t, i) => (
          <li key={t.uid} class="task-edit" data-testid={`task-${i + 1}`}>
            <TaskRow
              t={t}
              actions={actionsFor(type, [t.action])}
              n={i + 1}
              count={tasks.length}
              errors={errors}
              errKey={`tasks.${i}`}
              onChange={(patch) => update(i, patch)}
              onMove={(delta) => move(i, delta)}
              onRemove={() => {
                onChange(removeTask(tasks, i));
                focusLater('sched-add-task');
              }}
            />
          </li>
        ))}
      </ol>
      <button
        type="button"
        class="btn"
        id="sched-add-task"
        onClick={() => {
          const t = newTask(type === 'dev' ? 'backup' : 'command');
          onChange([...tasks, t]);
          focusLater(`task-${t.uid}-action`);
        }}
      >
        Add task
      </button>
    </fieldset>
  );
}

function TaskRow({
  t,
  actions,
  n,
  count,
  errors,
  errKey,
  onChange,
  onMove,
  onRemove,
}: {
  t: TaskDraft;
  actions: { id: TaskAction; label: string }[];
  n: number;
  count: number;
  errors: DraftErrors;
  errKey: string;
  onChange: (p: Partial<TaskDraft>) => void;
  onMove: (delta: -1 | 1) => void;
  onRemove: () => void;
}) {
  const id = `task-${t.uid}`;
  const of = <span class="sr-only"> of task {n}</span>;
  const cmdErr = errors[`${errKey}.command`];
  const offErr = errors[`${errKey}.offset`];
  return (
    <>
      <div class="task-grid">
        <div class="field">
          <label for={`${id}-action`}>Action{of}</label>
          <select id={`${id}-action`} value={t.action} onChange={(e) => onChange({ action: e.currentTarget.value as TaskAction })}>
            {actions.map((a) => (
              <option key={a.id} value={a.id}>
                {a.label}
              </option>
            ))}
          </select>
        </div>
        {t.action === 'command' && (
          <div class="field">
            <label for={`${id}-command`}>Command{of}</label>
            <input
              id={`${id}-command`}
              class="mono"
              value={t.command}
              placeholder="say restarting in 5 minutes"
              autoComplete="off"
              aria-invalid={cmdErr ? 'true' : undefined}
              aria-describedby={cmdErr ? `${id}-command-error` : undefined}
              onInput={(e) => onChange({ command: e.currentTarget.value })}
            />
            <FieldError id={`${id}-command-error`} error={cmdErr} />
          </div>
        )}
        {t.action === 'power' && (
          <div class="field">
            <label for={`${id}-power`}>Power action{of}</label>
            <select id={`${id}-power`} value={t.power} onChange={(e) => onChange({ power: e.currentTarget.value })}>
              {POWER_ACTIONS.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </div>
        )}
        {t.action === 'backup' && (
          <div class="field">
            <span class="label">What{of}</span>
            <p class="hint">Makes a backup of the server (kept as a scheduled backup).</p>
          </div>
        )}
        <div class="field">
          <label for={`${id}-offset`}>Offset (s){of}</label>
          <input
            id={`${id}-offset`}
            type="number"
            min={0}
            step={1}
            inputMode="numeric"
            value={t.offset}
            aria-invalid={offErr ? 'true' : undefined}
            aria-describedby={offErr ? `${id}-offset-error` : undefined}
            onInput={(e) => onChange({ offset: e.currentTarget.value })}
          />
          <FieldError id={`${id}-offset-error`} error={offErr} />
        </div>
      </div>
      <FieldError id={`${id}-error`} error={errors[errKey]} />
      <div class="btn-row task-buttons">
        <button type="button" class="btn btn-small" id={`${id}-up`} disabled={n === 1} aria-label={`Move task ${n} up`} onClick={() => onMove(-1)}>
          ↑ Up
        </button>
        <button
          type="button"
          class="btn btn-small"
          id={`${id}-down`}
          disabled={n === count}
          aria-label={`Move task ${n} down`}
          onClick={() => onMove(1)}
        >
          ↓ Down
        </button>
        <button type="button" class="btn btn-small btn-ghost danger" aria-label={`Remove task ${n}`} onClick={onRemove}>
          Remove
        </button>
      </div>
    </>
  );
}
