// The Schedules tab's form model, kept out of the component so it is
// unit-tested: drafts (what the inputs hold) to the API body and back, the
// checks zlh-api also makes, and the task list edits.
import { checkCron } from './cron';
import type { Schedule, ScheduleBody, ScheduleTask, TaskAction } from './api';

export const POWER_ACTIONS = ['start', 'stop', 'restart'] as const;
export const ACTIONS: { id: TaskAction; label: string }[] = [
  { id: 'command', label: 'Console command' },
  { id: 'power', label: 'Power' },
  { id: 'backup', label: 'Backup' },
];
export const MAX_COMMAND_BYTES = 256;

/**
 * The actions a server's schedule offers: a dev container has no game
 * console (the agent refuses console commands there), so no command.
 * An action already in the schedule stays offered so it can be seen.
 */
export function actionsFor(type: string, keep: TaskAction[] = []): { id: TaskAction; label: string }[] {
  return ACTIONS.filter((a) => type !== 'dev' || a.id !== 'command' || keep.includes(a.id));
}

export interface TaskDraft {
  /** A stable key for the list (moves keep focus on the moved task). */
  uid: number;
  action: TaskAction;
  command: string;
  power: string;
  offset: string;
}

export interface ScheduleDraft {
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  catch_up: boolean;
  only_when_running: boolean;
  tasks: TaskDraft[];
}

let nextUid = 1;

export const newTask = (action: TaskAction = 'command'): TaskDraft => ({
  uid: nextUid++,
  action,
  command: '',
  power: 'restart',
  offset: '0',
});

export function draftFrom(s?: Schedule | null, type = 'game'): ScheduleDraft {
  if (!s)
    return {
      name: '',
      cron: '0 4 * * *',
      timezone: 'UTC',
      enabled: true,
      catch_up: true,
      only_when_running: false,
      tasks: [newTask(type === 'dev' ? 'backup' : 'command')],
    };
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone || 'UTC',
    enabled: s.enabled,
    catch_up: s.catch_up,
    only_when_running: s.only_when_running,
    tasks: s.tasks.map((t) => ({
      uid: nextUid++,
      action: t.action,
      command: t.action === 'command' ? (t.payload ?? '') : '',
      power: t.action === 'power' ? (t.payload ?? 'restart') : 'restart',
      offset: String(t.offset_s ?? 0),
    })),
  };
}

/** Field errors keyed "name", "cron", "timezone", "tasks", "tasks.<i>.command", "tasks.<i>.offset". */
export type DraftErrors = Record<string, string>;

function taskErrors(t: TaskDraft, i: number, errors: DraftErrors) {
  if (t.action === 'command') {
    const c = t.command.trim();
    if (!c) errors[`tasks.${i}.command`] = 'Enter the console command.';
    else if (/[\u0000-\u001f\u007f]/.test(c)) errors[`tasks.${i}.command`] = 'A command is one line without control characters.';
    else if (new TextEncoder().encode(c).length > MAX_COMMAND_BYTES)
      errors[`tasks.${i}.command`] = `At most ${MAX_COMMAND_BYTES} bytes.`;
  }
  if (!/^\d+$/.test(t.offset.trim())) errors[`tasks.${i}.offset`] = 'Whole seconds, 0 or more.';
}

/** The checks zlh-api makes too; `body` only when there are no errors. */
export function validateDraft(d: ScheduleDraft): { errors: DraftErrors; body?: ScheduleBody } {
  const errors: DraftErrors = {};
  if (!d.name.trim()) errors.name = 'Enter a name.';
  const cron = checkCron(d.cron);
  if (!cron.ok) errors.cron = cron.error;
  if (!d.timezone) errors.timezone = 'Choose a time zone.';
  if (!d.tasks.length) errors.tasks = 'Add at least one task.';
  d.tasks.forEach((t, i) => taskErrors(t, i, errors));
  if (Object.keys(errors).length) return { errors };
  const tasks: ScheduleTask[] = d.tasks.map((t) => ({
    action: t.action,
    payload: t.action === 'command' ? t.command.trim() : t.action === 'power' ? t.power : null,
    offset_s: Number(t.offset.trim()),
  }));
  return {
    errors,
    body: {
      name: d.name.trim(),
      cron: d.cron.trim().split(/\s+/).join(' '),
      timezone: d.timezone,
      enabled: d.enabled,
      catch_up: d.catch_up,
      only_when_running: d.only_when_running,
      tasks,
    },
  };
}

/**
 * Where an API field error is shown: "name"/"cron"/"timezone" as is, a task's
 * field ("tasks[1].payload", "tasks.1.offset_s") under that task, other
 * task errors above the task list, anything else in the form's alert (null).
 */
export function draftErrorKey(field: string | undefined, d: ScheduleDraft): string | null {
  if (!field) return null;
  if (field === 'name' || field === 'cron' || field === 'timezone') return field;
  const m = /^tasks(?:\[(\d+)\]|\.(\d+))(?:\.(\w+))?$/.exec(field);
  if (m) {
    const i = Number(m[1] ?? m[2]);
    if (i >= d.tasks.length) return 'tasks';
    if (m[3] === 'offset_s') return `tasks.${i}.offset`;
    if (m[3] === 'payload' && d.tasks[i].action === 'command') return `tasks.${i}.command`;
    return `tasks.${i}`;
  }
  return field.startsWith('tasks') ? 'tasks' : null;
}

export function moveTask<T>(tasks: T[], i: number, delta: -1 | 1): T[] {
  const j = i + delta;
  if (i < 0 || i >= tasks.length || j < 0 || j >= tasks.length) return tasks;
  const out = tasks.slice();
  [out[i], out[j]] = [out[j], out[i]];
  return out;
}

export function removeTask<T>(tasks: T[], i: number): T[] {
  return tasks.filter((_, k) => k !== i);
}

/** "Console command: say hi", "Power: restart", "Backup", with the offset. */
export function taskSummary(t: ScheduleTask): string {
  const what =
    t.action === 'command' ? `Console command: ${t.payload ?? ''}` : t.action === 'power' ? `Power: ${t.payload ?? ''}` : 'Backup';
  return t.offset_s > 0 ? `${what} (after ${durationText(t.offset_s)})` : what;
}

/** 45 → "45 s", 300 → "5 min", 3720 → "1 h 2 min", 90 → "1 min 30 s". */
export function durationText(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts: string[] = [];
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  if (sec || !parts.length) parts.push(`${sec} s`);
  return parts.join(' ');
}

/** IANA zones for the select, UTC first (also where Intl lacks supportedValuesOf). */
export function timeZones(): string[] {
  let zones: string[] = [];
  try {
    const sv = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf;
    if (sv) zones = sv('timeZone');
  } catch {
    /* an old browser: UTC only, plus the current value */
  }
  return ['UTC', ...zones.filter((z) => z !== 'UTC')];
}
