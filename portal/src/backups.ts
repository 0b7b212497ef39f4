// The Backups tab's logic, kept out of the component so it is unit-tested:
// job progress, quota and error wording, times.
import { ApiError, formatBytes, type Backup, type BackupList, type Job } from './api';

/** Job states after which nothing changes any more. */
export const FINAL_JOB = new Set(['done', 'failed', 'compensated', 'cancelled']);

export function jobFinal(job: Pick<Job, 'state'> | null | undefined): boolean {
  return !!job && FINAL_JOB.has(job.state);
}

/** 0..1 from the job's steps: done ones count 1, the running one 1/2. */
export function jobProgress(job: Pick<Job, 'state' | 'steps'>): number {
  if (job.state === 'done') return 1;
  const steps = job.steps ?? [];
  if (!steps.length) return 0;
  const done = steps.filter((s) => s.state === 'done').length;
  const running = steps.some((s) => s.state === 'running') ? 0.5 : 0;
  return Math.min(1, (done + running) / steps.length);
}

/** What the job does now: "archive (312 MiB)", "queued", "done". */
export function jobStepText(job: Pick<Job, 'state' | 'steps'>): string {
  const cur = (job.steps ?? []).find((s) => s.state === 'running');
  if (!cur) return job.state;
  return cur.detail ? `${cur.name} (${cur.detail})` : cur.name;
}

export function backupLabel(b: Pick<Backup, 'id' | 'name'>): string {
  return b.name || `backup-${b.id}`;
}

export const KIND_LABEL: Record<string, string> = {
  manual: 'manual',
  scheduled: 'scheduled',
  pre_restore: 'pre-restore',
};

export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : '—';
}

export function sizeText(size: number | null | undefined): string {
  return typeof size === 'number' && size >= 0 ? formatBytes(size) : '—';
}

/** A time from the API (unix ms or an ISO string) in the browser's locale and zone. */
export function fmtWhen(v: number | string | null | undefined): string {
  if (v === null || v === undefined || v === '') return '—';
  const d = new Date(v);
  return isNaN(d.getTime()) ? String(v) : d.toLocaleString();
}

export function hasQuota(q: BackupList['quota'] | null | undefined): boolean {
  return !!q && typeof q.limit_bytes === 'number' && q.limit_bytes > 0;
}

export function quotaText(q: BackupList['quota']): string {
  if (!hasQuota(q)) return `${formatBytes(q.used_bytes)} used (no quota)`;
  return `${formatBytes(q.used_bytes)} of ${formatBytes(q.limit_bytes!)} used`;
}

/** Used/limit in 0..1 (0 without a quota). */
export function quotaFraction(q: BackupList['quota']): number {
  if (!hasQuota(q)) return 0;
  return Math.max(0, Math.min(1, q.used_bytes / q.limit_bytes!));
}

/**
 * What a failed backup action says. E_QUOTA names the quota and the way
 * out; the API's message follows so nothing is hidden.
 */
export function backupErrorText(
  e: unknown,
  action: 'create' | 'restore' | 'delete' | 'load',
  quota?: BackupList['quota'] | null,
): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof ApiError && e.code === 'E_QUOTA') {
    const used = quota && hasQuota(quota) ? ` (${quotaText(quota)})` : '';
    const what =
      action === 'restore'
        ? 'The pre-restore backup of the current files would exceed your backup quota'
        : 'This backup would exceed your backup quota';
    return `${what}${used}. Delete older backups to make room, then try again. (${msg})`;
  }
  const verb = { create: 'Backup', restore: 'Restore', delete: 'Delete', load: 'Loading backups' }[action];
  return `${verb} failed: ${msg}`;
}
