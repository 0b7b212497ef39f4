// Sharing (docs/design.md §12a): what a member of a server may see and do
// in the portal, and the Members tab's wording. zlh-api decides (a member
// without a permission gets 403 E_FORBIDDEN); the portal only hides what
// would be refused. Pure, unit-tested in sharing_test.ts.
import { ApiError, type Server } from './api';

/** The closed set, in the order the Members form shows it. */
export const PERMISSIONS = ['console', 'files.read', 'files.write', 'power', 'backups', 'schedules', 'ide', 'settings'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const PERMISSION_LABEL: Record<Permission, string> = {
  console: 'Console',
  'files.read': 'Read files',
  'files.write': 'Write files',
  power: 'Power',
  backups: 'Backups',
  schedules: 'Schedules',
  ide: 'IDE and ports',
  settings: 'Settings',
};

export const PERMISSION_HINT: Record<Permission, string> = {
  console: 'open the console and type into it',
  'files.read': 'browse and download files, list mods',
  'files.write': 'upload, edit, rename and delete files; install mods',
  power: 'start, stop, restart and kill',
  backups: 'create, download, restore and delete backups',
  schedules: 'create, edit and run schedules',
  ide: 'open the IDE, preview ports, Tailscale access',
  settings: 'server settings (reserved)',
};

/** True when the caller owns the server (an older zlh-api says nothing: owner). */
export function isOwner(s: Pick<Server, 'shared'>): boolean {
  return !s.shared;
}

/** The caller's permissions; all of them for the owner or when zlh-api does not list them. */
export function permsOf(s: Pick<Server, 'shared' | 'permissions'>): Set<string> {
  if (isOwner(s) || !Array.isArray(s.permissions)) return new Set(PERMISSIONS);
  return new Set(s.permissions);
}

export function can(s: Pick<Server, 'shared' | 'permissions'>, p: Permission): boolean {
  return permsOf(s).has(p);
}

export interface Tab {
  key: string;
  label: string;
  href: string;
}

/**
 * The server page's tabs for this caller: Overview and Activity for every
 * member; Console with `console`; Files and Mods with `files.read`; IDE and
 * Tailscale (dev) with `ide`; Backups, Schedules with theirs; Members for
 * the owner.
 */
export function tabsFor(s: Pick<Server, 'id' | 'type' | 'shared' | 'permissions'>): Tab[] {
  const base = `/servers/${s.id}`;
  const p = permsOf(s);
  const tabs: Tab[] = [{ key: 'overview', label: 'Overview', href: base }];
  const add = (key: string, label: string, when: boolean) => {
    if (when) tabs.push({ key, label, href: `${base}/${key}` });
  };
  add('console', 'Console', p.has('console'));
  add('files', 'Files', p.has('files.read'));
  add('mods', 'Mods', s.type === 'game' && p.has('files.read'));
  add('ide', 'IDE', s.type === 'dev' && p.has('ide'));
  add('tailscale', 'Tailscale', s.type === 'dev' && p.has('ide'));
  add('backups', 'Backups', p.has('backups'));
  add('schedules', 'Schedules', p.has('schedules'));
  add('activity', 'Activity', true);
  add('members', 'Members', isOwner(s));
  return tabs;
}

/** The permission a tab needs, for the "not allowed" page. */
export function tabNeeds(tab: string): string | null {
  const need: Record<string, string> = {
    console: 'console',
    files: 'files.read',
    mods: 'files.read',
    ide: 'ide',
    tailscale: 'ide',
    backups: 'backups',
    schedules: 'schedules',
    members: 'owner',
  };
  return need[tab] ?? null;
}

/** Permissions in the closed set's order, unknown names dropped. */
export function sortPerms(perms: Iterable<string>): Permission[] {
  const have = new Set(perms);
  return PERMISSIONS.filter((p) => have.has(p));
}

/** "Console, Read files" or "view only". */
export function permsText(perms: Iterable<string>): string {
  const list = sortPerms(perms);
  return list.length ? list.map((p) => PERMISSION_LABEL[p]).join(', ') : 'view only';
}

/** The invite/transfer field's check: a username or an email; null when fine. */
export function whoError(who: string): string | null {
  const w = who.trim();
  if (!w) return 'Enter a username or an email address.';
  if (w.includes('@')) return /^[^\s@]+@[^\s@]+$/.test(w) ? null : 'This email address does not look right.';
  return /^[A-Za-z0-9._-]{1,32}$/.test(w) ? null : 'A username has 1–32 letters, digits, dots, dashes or underscores.';
}

/** What a failed sharing action says, in the user's words. */
export function sharingErrorText(e: unknown, who = ''): string {
  if (e instanceof ApiError) {
    const name = who.trim();
    if (e.status === 404 && (e.field === 'username' || e.field === 'email'))
      return `There is no user ${name ? `"${name}"` : 'with that name'}: they need an account first.`;
    if (e.code === 'E_CONFLICT') return e.message;
    if (e.status === 403) return `Only the owner can do this (${e.message}).`;
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}
