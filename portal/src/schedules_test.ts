// Unit tests of the Schedules form model and its API calls (run by `npm
// test`, scripts/unit.mjs): each export of `tests` throws on failure.
import { api, type Schedule } from './api';
import {
  actionsFor,
  draftErrorKey,
  draftFrom,
  durationText,
  moveTask,
  newTask,
  removeTask,
  taskSummary,
  timeZones,
  validateDraft,
  type ScheduleDraft,
} from './schedules';

function eq(got: unknown, want: unknown, what: string) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

function ok(cond: unknown, what: string) {
  if (!cond) throw new Error(what);
}

const stored: Schedule = {
  id: 5,
  name: 'nightly restart',
  cron: '0 4 * * *',
  timezone: 'Europe/Berlin',
  enabled: true,
  catch_up: false,
  only_when_running: true,
  tasks: [
    { action: 'command', payload: 'say restart in 5 minutes', offset_s: 0 },
    { action: 'backup', payload: null, offset_s: 240 },
    { action: 'power', payload: 'restart', offset_s: 60 },
  ],
  next_run_at: null,
  last_runs: [],
};

function draft(patch: Partial<ScheduleDraft> = {}): ScheduleDraft {
  return { ...draftFrom(stored), ...patch };
}

async function recordFetch(fn: () => Promise<unknown>, status = 200, body: unknown = {}) {
  const calls: { url: string; method: string; body?: string; csrf?: string }[] = [];
  const saved = globalThis.fetch;
  globalThis.fetch = (async (url: string, init: RequestInit = {}) => {
    const h = (init.headers ?? {}) as Record<string, string>;
    calls.push({ url, method: init.method ?? 'GET', body: init.body as string | undefined, csrf: h['X-ZLH-CSRF'] });
    return new Response(status === 204 ? null : JSON.stringify(body), { status });
  }) as typeof fetch;
  try {
    await fn();
  } finally {
    globalThis.fetch = saved;
  }
  return calls;
}

export const tests = {
  aNewDraftHasTheDefaults() {
    const d = draftFrom(null);
    eq([d.name, d.cron, d.timezone, d.enabled, d.catch_up, d.only_when_running], ['', '0 4 * * *', 'UTC', true, true, false],
      'defaults (UTC, catch_up on)');
    eq(d.tasks.length, 1, 'one task to start with');
  },
  devServersGetNoConsoleCommands() {
    eq(actionsFor('game').map((a) => a.id), ['command', 'power', 'backup'], 'game');
    eq(actionsFor('dev').map((a) => a.id), ['power', 'backup'], 'dev');
    eq(actionsFor('dev', ['command']).map((a) => a.id), ['command', 'power', 'backup'], 'a stored command stays visible');
    eq(draftFrom(null, 'dev').tasks[0].action, 'backup', 'a dev schedule starts with a backup task');
    eq(draftFrom(null, 'game').tasks[0].action, 'command', 'a game schedule with a console command');
  },
  aStoredScheduleRoundTrips() {
    const v = validateDraft(draftFrom(stored));
    eq(v.errors, {}, 'no errors');
    const { id: _id, next_run_at: _n, last_runs: _l, ...body } = stored;
    eq(v.body, body, 'the body is what was stored');
  },
  theBodyIsNormalised() {
    const d = draft({ name: '  n  ', cron: ' 0  4 * *   * ' });
    d.tasks[0] = { ...d.tasks[0], command: '  say hi ', offset: ' 30 ' };
    const v = validateDraft(d);
    eq([v.body?.name, v.body?.cron, v.body?.tasks[0]], ['n', '0 4 * * *', { action: 'command', payload: 'say hi', offset_s: 30 }],
      'trimmed, one space between cron fields, offset a number');
  },
  payloadFollowsTheAction() {
    const d = draft();
    d.tasks = [
      { ...newTask('power'), power: 'stop', command: 'left over' },
      { ...newTask('backup'), command: 'left over' },
    ];
    eq(validateDraft(d).body?.tasks.map((t) => t.payload), ['stop', null], 'power: the action; backup: null');
  },
  errorsNameTheField() {
    const d = draft({ name: ' ', cron: '61 * * * *', timezone: '' });
    d.tasks = [
      { ...newTask('command'), command: '' },
      { ...newTask('command'), command: 'say \u0007', offset: '-1' },
      { ...newTask('command'), command: 'x'.repeat(257), offset: '1.5' },
    ];
    const v = validateDraft(d);
    eq(v.body, undefined, 'no body');
    eq(Object.keys(v.errors).sort(), ['cron', 'name', 'tasks.0.command', 'tasks.1.command', 'tasks.1.offset', 'tasks.2.command',
      'tasks.2.offset', 'timezone'], 'fields');
    ok(/minute: 61 is outside 0-59/.test(v.errors.cron), v.errors.cron);
    ok(/256 bytes/.test(v.errors['tasks.2.command']), v.errors['tasks.2.command']);
    eq(validateDraft(draft({ tasks: [] })).errors, { tasks: 'Add at least one task.' }, 'no tasks');
  },
  commandLengthIsInBytes() {
    const d = draft();
    d.tasks = [{ ...newTask(), command: 'é'.repeat(129) }]; // 258 bytes, 129 characters
    ok(validateDraft(d).errors['tasks.0.command'], 'refused by bytes');
    d.tasks = [{ ...newTask(), command: 'é'.repeat(128) }];
    eq(validateDraft(d).errors, {}, '256 bytes is fine');
  },
  apiFieldErrorsFindTheirInput() {
    const d = draft();
    eq(draftErrorKey('cron', d), 'cron', 'cron');
    eq(draftErrorKey('timezone', d), 'timezone', 'timezone');
    eq(draftErrorKey('tasks[0].payload', d), 'tasks.0.command', 'a command payload');
    eq(draftErrorKey('tasks.2.payload', d), 'tasks.2', 'a power payload: under the task');
    eq(draftErrorKey('tasks[1].offset_s', d), 'tasks.1.offset', 'an offset');
    eq(draftErrorKey('tasks[9].action', d), 'tasks', 'a task that is not there');
    eq(draftErrorKey('tasks', d), 'tasks', 'the list');
    eq(draftErrorKey('catch_up', d), null, 'elsewhere: the form alert');
    eq(draftErrorKey(undefined, d), null, 'no field');
  },
  tasksMoveAndGo() {
    eq(moveTask(['a', 'b', 'c'], 0, 1), ['b', 'a', 'c'], 'down');
    eq(moveTask(['a', 'b', 'c'], 2, -1), ['a', 'c', 'b'], 'up');
    eq(moveTask(['a', 'b', 'c'], 0, -1), ['a', 'b', 'c'], 'the first cannot go up');
    eq(moveTask(['a', 'b', 'c'], 2, 1), ['a', 'b', 'c'], 'the last cannot go down');
    eq(removeTask(['a', 'b', 'c'], 1), ['a', 'c'], 'remove');
    ok(newTask().uid !== newTask().uid, 'each task has its own key');
  },
  summariesAndDurations() {
    eq(stored.tasks.map(taskSummary), ['Console command: say restart in 5 minutes', 'Backup (after 4 min)', 'Power: restart (after 1 min)'],
      'summaries');
    eq([0, 45, 90, 300, 3720, 7200].map(durationText), ['0 s', '45 s', '1 min 30 s', '5 min', '1 h 2 min', '2 h'], 'durations');
  },
  timeZonesStartWithUtc() {
    const z = timeZones();
    eq(z[0], 'UTC', 'UTC first');
    eq(z.filter((x) => x === 'UTC').length, 1, 'once');
    ok(z.includes('Europe/Berlin'), 'Intl zones listed');
  },
  apiCalls: async () => {
    const v = validateDraft(draftFrom(stored));
    let calls = await recordFetch(() => api.createSchedule(3, v.body!), 201, stored);
    eq([calls[0].method, calls[0].url, calls[0].csrf, JSON.parse(calls[0].body!).cron], ['POST', '/api/servers/3/schedules', '1', '0 4 * * *'],
      'create');
    calls = await recordFetch(() => api.updateSchedule(3, 5, { enabled: false }), 200, stored);
    eq([calls[0].method, calls[0].url, calls[0].csrf, calls[0].body], ['PATCH', '/api/servers/3/schedules/5', '1', '{"enabled":false}'],
      'a partial PATCH');
    calls = await recordFetch(() => api.runSchedule(3, 5), 202, { run: { id: 1 } });
    eq([calls[0].method, calls[0].url], ['POST', '/api/servers/3/schedules/5/run'], 'run now');
    calls = await recordFetch(() => api.deleteSchedule(3, 5), 204);
    eq([calls[0].method, calls[0].url, calls[0].csrf], ['DELETE', '/api/servers/3/schedules/5', '1'], 'delete');
    calls = await recordFetch(() => api.schedules(3), 200, { schedules: [] });
    eq([calls[0].method, calls[0].url, calls[0].csrf], ['GET', '/api/servers/3/schedules', undefined], 'list: no CSRF header');
  },
};
