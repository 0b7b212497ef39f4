// Unit tests of the Backups tab's logic and its API calls (run by `npm test`,
// scripts/unit.mjs): each export of `tests` throws on failure. fetch is
// replaced by a recorder for the calls' tests (the wire shapes are those of
// docs/design.md; nothing here pretends to be zlh-api beyond one answer).
import { ApiError, api, type Job } from './api';
import {
  backupErrorText,
  backupLabel,
  fmtWhen,
  jobFinal,
  jobProgress,
  jobStepText,
  quotaFraction,
  quotaText,
  shortSha,
  sizeText,
} from './backups';

function eq(got: unknown, want: unknown, what: string) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

function ok(cond: unknown, what: string) {
  if (!cond) throw new Error(what);
}

interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

// Runs `fn` with fetch answering `status` and `body` once per call, and
// returns what was asked.
async function withFetch(status: number, body: unknown, fn: () => Promise<unknown>): Promise<{ calls: Recorded[]; result: unknown; error: unknown }> {
  const calls: Recorded[] = [];
  const saved = globalThis.fetch;
  globalThis.fetch = (async (url: string, init: RequestInit = {}) => {
    calls.push({
      url,
      method: init.method ?? 'GET',
      headers: (init.headers ?? {}) as Record<string, string>,
      body: init.body as string | undefined,
    });
    const text = body === null ? '' : JSON.stringify(body);
    return new Response(status === 204 ? null : text, { status, headers: { 'Content-Type': 'application/json' } });
  }) as typeof fetch;
  try {
    return { calls, result: await fn(), error: null };
  } catch (e) {
    return { calls, result: null, error: e };
  } finally {
    globalThis.fetch = saved;
  }
}

const step = (name: string, state: string, detail = '') => ({ name, state, detail, started_at: null, finished_at: null });
const job = (state: string, steps: ReturnType<typeof step>[] = []): Job => ({ id: 7, server_id: 1, kind: 'backup', state, error: null, steps });

export const tests = {
  jobProgressCountsSteps() {
    eq(jobProgress(job('queued')), 0, 'no steps yet');
    eq(jobProgress(job('running', [step('pause', 'done'), step('archive', 'running'), step('resume', 'pending'), step('store', 'pending')])),
      0.375, 'one done, one running of four');
    eq(jobProgress(job('done', [step('archive', 'running')])), 1, 'done is whole whatever the steps say');
    eq(jobProgress({ state: 'running', steps: undefined as unknown as [] }), 0, 'a job without steps');
  },
  jobStepTextNamesTheRunningStep() {
    eq(jobStepText(job('running', [step('pause', 'done'), step('archive', 'running', '312 MiB')])), 'archive (312 MiB)', 'detail');
    eq(jobStepText(job('running', [step('archive', 'running')])), 'archive', 'no detail');
    eq(jobStepText(job('queued')), 'queued', 'no step running');
  },
  finalJobStates() {
    for (const s of ['done', 'failed', 'compensated', 'cancelled']) ok(jobFinal({ state: s }), s);
    for (const s of ['queued', 'running', 'compensating']) ok(!jobFinal({ state: s }), s);
    ok(!jobFinal(null), 'no job');
  },
  labelsShaSizeAndTimes() {
    eq(backupLabel({ id: 3, name: '' }), 'backup-3', 'unnamed');
    eq(backupLabel({ id: 3, name: 'before-update' }), 'before-update', 'named');
    eq(shortSha('0123456789abcdef'.repeat(4)), '0123456789ab', 'short sha');
    eq(shortSha(null), '—', 'no sha yet');
    eq(sizeText(1536), '1.5 KiB', 'size');
    eq(sizeText(null), '—', 'no size yet');
    eq(fmtWhen(null), '—', 'no time');
    eq(fmtWhen(Date.UTC(2026, 11, 6, 4, 0)), new Date(Date.UTC(2026, 11, 6, 4, 0)).toLocaleString(), 'unix ms');
    eq(fmtWhen('not a time'), 'not a time', 'garbage shown as is');
  },
  quotaWording() {
    const q = { used_bytes: 3 * 1024 ** 3, limit_bytes: 4 * 1024 ** 3 };
    eq(quotaText(q), '3.0 GiB of 4.0 GiB used', 'with a quota');
    eq(quotaFraction(q), 0.75, 'fraction');
    eq(quotaText({ used_bytes: 2048, limit_bytes: 0 }), '2.0 KiB used (no quota)', 'limit 0');
    eq(quotaText({ used_bytes: 0, limit_bytes: null }), '0 B used (no quota)', 'limit null');
    eq(quotaFraction({ used_bytes: 9, limit_bytes: 4 }), 1, 'over the quota: capped');
  },
  quotaErrorsSayWhatToDo() {
    const q = { used_bytes: 3 * 1024 ** 3, limit_bytes: 4 * 1024 ** 3 };
    const e = new ApiError(409, 'E_QUOTA', 'backup quota exceeded');
    const create = backupErrorText(e, 'create', q);
    ok(/exceed your backup quota \(3\.0 GiB of 4\.0 GiB used\)/.test(create), create);
    ok(/Delete older backups/.test(create) && /backup quota exceeded/.test(create), create);
    const restore = backupErrorText(e, 'restore', q);
    ok(/pre-restore backup/.test(restore), restore);
    eq(backupErrorText(new ApiError(409, 'E_CONFLICT', 'a restore uses this backup'), 'delete'),
      'Delete failed: a restore uses this backup', 'other errors keep their message');
  },
  listCallsTheRoute: async () => {
    const body = {
      backups: [{ id: 1, name: 'a', kind: 'manual', state: 'ready', size: 10, sha256: 'ab', created_at: 1, error: null }],
      quota: { used_bytes: 10, limit_bytes: 100 },
      keep: 5,
    };
    const r = await withFetch(200, body, () => api.backups(4));
    eq(r.calls.map((c) => [c.method, c.url]), [['GET', '/api/servers/4/backups']], 'request');
    eq(r.result, body, 'answer');
  },
  createSendsTheNameAndCsrf: async () => {
    const answer = { backup: { id: 2, name: 'n' }, job: { id: 9, kind: 'backup', state: 'queued' } };
    const r = await withFetch(202, answer, () => api.createBackup(4, 'nightly'));
    eq([r.calls[0].method, r.calls[0].url, r.calls[0].body], ['POST', '/api/servers/4/backups', '{"name":"nightly"}'], 'named');
    eq(r.calls[0].headers['X-ZLH-CSRF'], '1', 'csrf header');
    eq((r.result as typeof answer).job.id, 9, 'the job');
    const unnamed = await withFetch(202, answer, () => api.createBackup(4));
    eq(unnamed.calls[0].body, '{}', 'unnamed: an empty object');
  },
  restoreDeleteAndDownload: async () => {
    const r = await withFetch(202, { job: { id: 11 } }, () => api.restoreBackup(4, 2));
    eq([r.calls[0].method, r.calls[0].url], ['POST', '/api/servers/4/backups/2/restore'], 'restore');
    const d = await withFetch(204, null, () => api.deleteBackup(4, 2));
    eq([d.calls[0].method, d.calls[0].url, d.calls[0].headers['X-ZLH-CSRF']], ['DELETE', '/api/servers/4/backups/2', '1'], 'delete');
    eq(d.error, null, 'a 204 is fine');
    eq(api.backupDownloadUrl(4, 2), '/api/servers/4/backups/2/download', 'download link');
  },
  quotaRefusalBecomesAnApiError: async () => {
    const r = await withFetch(409, { error: { code: 'E_QUOTA', message: 'backup quota of 4 GiB exceeded' } }, () => api.createBackup(4));
    ok(r.error instanceof ApiError, 'an ApiError');
    eq([(r.error as ApiError).code, (r.error as ApiError).status], ['E_QUOTA', 409], 'code and status');
  },
};
