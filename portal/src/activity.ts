// The Activity tab's wording (docs/design.md §12a): who did what to a
// server, when, from where. zlh-api records the actions; this only says
// them in words and pages through them. Pure, unit-tested in
// activity_test.ts.
import type { ActivityEntry } from './api';

export const PAGE_SIZE = 50;

const ACTION_TEXT: Record<string, string> = {
  'server.create': 'created the server',
  'server.delete': 'deleted the server',
  'server.start': 'started the server',
  'server.stop': 'stopped the server',
  'server.restart': 'restarted the server',
  'server.kill': 'killed the server',
  'server.host_start': 'started the container',
  'server.host_stop': 'stopped the container',
  'server.host_restart': 'restarted the container',
  'server.tailscale_enable': 'gave Tailscale access',
  'server.tailscale_disable': 'revoked Tailscale access',
  'server.tailscale_enable_failed': 'failed to give Tailscale access',
  'server.tailscale_disable_failed': 'failed to revoke Tailscale access',
  'ide.ticket': 'opened the IDE',
  'console.command': 'ran a console command',
  'files.write': 'wrote a file',
  'files.upload': 'uploaded files',
  'files.mkdir': 'made a folder',
  'files.rename': 'renamed',
  'files.delete': 'deleted files',
  'mods.install': 'installed a mod',
  'mods.enable': 'enabled a mod',
  'mods.disable': 'disabled a mod',
  'mods.delete': 'deleted a mod',
  'backup.create': 'made a backup',
  'backup.restore': 'restored a backup',
  'backup.delete': 'deleted a backup',
  'schedule.create': 'created a schedule',
  'schedule.update': 'changed a schedule',
  'schedule.delete': 'deleted a schedule',
  'schedule.run': 'ran a schedule',
  'member.add': 'added a member',
  'member.update': "changed a member's permissions",
  'member.remove': 'removed a member',
  'transfer.offer': 'offered the server',
  'transfer.accept': 'accepted the server',
  'transfer.cancel': 'cancelled the transfer',
};

/** "ran a console command"; an action this portal does not know is shown as is. */
export function actionText(action: string): string {
  return ACTION_TEXT[action] ?? action;
}

function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function clip(s: string, n = 120): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * The detail worth reading: the command, the path(s), a rename's from → to,
 * a member's name and permissions, a backup or schedule name. Empty when
 * there is nothing more to say.
 */
export function detailText(detail: Record<string, unknown> | null | undefined): string {
  if (!detail || typeof detail !== 'object') return '';
  const d = detail;
  const parts: string[] = [];
  const cmd = str(d.command);
  if (cmd !== null) parts.push(clip(cmd));
  const from = str(d.from);
  const to = str(d.to);
  if (from !== null && to !== null) parts.push(`${from} → ${to}`);
  const path = str(d.path);
  if (path !== null) parts.push(path);
  if (Array.isArray(d.paths)) parts.push(clip(d.paths.map(String).join(', ')));
  for (const k of ['username', 'to_username', 'from_username', 'name', 'mod', 'backup', 'schedule']) {
    const v = str(d[k]);
    if (v !== null) parts.push(v);
  }
  if (Array.isArray(d.permissions)) parts.push(d.permissions.length ? d.permissions.map(String).join(', ') : 'view only');
  return parts.join(' · ');
}

/** Who: the user's name, "system" when no user did it (a schedule, the poller). */
export function actorText(e: Pick<ActivityEntry, 'actor'>): string {
  return e.actor?.username ?? 'system';
}

/** Unix seconds (or ms) in the browser's locale and zone. */
export function fmtAt(at: number | string | null | undefined): string {
  if (at === null || at === undefined || at === '') return '—';
  const ms = typeof at === 'number' ? (at < 1e11 ? at * 1000 : at) : Date.parse(at);
  if (!Number.isFinite(ms)) return String(at);
  return new Date(ms).toLocaleString();
}

/** Older pages appended after the ones shown, each entry once. */
export function appendPage(have: ActivityEntry[], more: ActivityEntry[]): ActivityEntry[] {
  const seen = new Set(have.map((e) => e.id));
  return [...have, ...more.filter((e) => !seen.has(e.id))];
}
