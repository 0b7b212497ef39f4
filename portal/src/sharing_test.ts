// Unit tests of sharing in the portal and its API calls (run by `npm test`,
// scripts/unit.mjs): each export of `tests` throws on failure. fetch is
// replaced by a recorder for the calls' tests (wire shapes of the issue 24
// contract, docs/portal.md).
import { ApiError, api, whoBody, type Server } from './api';
import { PERMISSIONS, can, isOwner, permsOf, permsText, sharingErrorText, sortPerms, tabNeeds, tabsFor, whoError } from './sharing';

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

async function withFetch(status: number, body: unknown, fn: () => Promise<unknown>) {
  const calls: Recorded[] = [];
  const saved = globalThis.fetch;
  globalThis.fetch = (async (url: string, init: RequestInit = {}) => {
    calls.push({ url, method: init.method ?? 'GET', headers: (init.headers ?? {}) as Record<string, string>, body: init.body as string | undefined });
    return new Response(body === null ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  }) as typeof fetch;
  try {
    return { calls, result: await fn(), error: null as unknown };
  } catch (e) {
    return { calls, result: null, error: e };
  } finally {
    globalThis.fetch = saved;
  }
}

type S = Pick<Server, 'id' | 'type' | 'shared' | 'permissions'>;
const keys = (s: S) => tabsFor(s).map((t) => t.key);

export const tests = {
  ownerSeesEveryTab() {
    const game: S = { id: 4, type: 'game', shared: false, permissions: [...PERMISSIONS] };
    eq(keys(game), ['overview', 'console', 'files', 'mods', 'backups', 'schedules', 'activity', 'members'], 'game owner');
    const dev: S = { id: 5, type: 'dev', shared: false, permissions: [...PERMISSIONS] };
    eq(keys(dev), ['overview', 'console', 'files', 'ide', 'tailscale', 'backups', 'schedules', 'activity', 'members'], 'dev owner');
    eq(tabsFor(game)[1], { key: 'console', label: 'Console', href: '/servers/4/console' }, 'href');
    eq(tabsFor(game)[0].href, '/servers/4', 'overview href');
  },
  olderApiWithoutSharingFieldsIsTheOwner() {
    const s: S = { id: 1, type: 'game' };
    ok(isOwner(s) && can(s, 'files.write'), 'owner with everything');
    ok(keys(s).includes('members'), 'members tab');
  },
  aConsoleOnlyMember() {
    const s: S = { id: 4, type: 'game', shared: true, permissions: ['console'] };
    eq(keys(s), ['overview', 'console', 'activity'], 'console, no files/mods/backups/schedules/members');
    ok(can(s, 'console') && !can(s, 'power') && !can(s, 'files.read'), 'can');
    ok(!isOwner(s), 'not the owner');
  },
  membersTabsFollowPermissions() {
    const files: S = { id: 4, type: 'game', shared: true, permissions: ['files.read', 'backups'] };
    eq(keys(files), ['overview', 'files', 'mods', 'backups', 'activity'], 'files.read shows Files and Mods');
    const ide: S = { id: 5, type: 'dev', shared: true, permissions: ['ide', 'schedules'] };
    eq(keys(ide), ['overview', 'ide', 'tailscale', 'schedules', 'activity'], 'ide shows IDE and Tailscale');
    const none: S = { id: 5, type: 'dev', shared: true, permissions: [] };
    eq(keys(none), ['overview', 'activity'], 'view only');
    const broken: S = { id: 5, type: 'dev', shared: true };
    eq([...permsOf(broken)].length, PERMISSIONS.length, 'a member without a list: not guessed away (zlh-api refuses)');
  },
  tabNeedsNamesThePermission() {
    eq(['files', 'mods', 'console', 'tailscale', 'members', 'activity', 'overview'].map(tabNeeds),
      ['files.read', 'files.read', 'console', 'ide', 'owner', null, null], 'needs');
  },
  permissionWording() {
    eq(sortPerms(['power', 'console', 'bogus']), ['console', 'power'], 'closed set order, unknown dropped');
    eq(permsText(['files.read', 'console']), 'Console, Read files', 'labels');
    eq(permsText([]), 'view only', 'none');
  },
  whoIsAUsernameOrAnEmail() {
    eq(whoBody(' bob '), { username: 'bob' }, 'username');
    eq(whoBody('bob@example.com'), { email: 'bob@example.com' }, 'email');
    eq(whoError(''), 'Enter a username or an email address.', 'empty');
    eq(whoError('bob'), null, 'username ok');
    eq(whoError('bob@example.com'), null, 'email ok');
    ok(whoError('bob smith'), 'a space');
    ok(whoError('bob@'), 'half an email');
    ok(whoError('x'.repeat(33)), 'too long');
  },
  errorWording() {
    const unknown = new ApiError(404, 'E_NOT_FOUND', 'no such user', 'username');
    eq(sharingErrorText(unknown, 'bob'), 'There is no user "bob": they need an account first.', 'unknown user');
    eq(sharingErrorText(new ApiError(409, 'E_CONFLICT', 'already a member'), 'bob'), 'already a member', 'conflict');
    ok(/^Only the owner/.test(sharingErrorText(new ApiError(403, 'E_FORBIDDEN', 'owner only'))), 'forbidden');
    eq(sharingErrorText(new Error('x')), 'x', 'plain error');
  },
  memberCalls: async () => {
    const member = { user_id: 9, username: 'bob', email: 'bob@example.com', permissions: ['console'], added_at: 1 };
    const add = await withFetch(201, { member }, () => api.addMember(4, 'bob', ['console']));
    eq([add.calls[0].method, add.calls[0].url, add.calls[0].body], ['POST', '/api/servers/4/members', '{"username":"bob","permissions":["console"]}'], 'invite by username');
    eq(add.calls[0].headers['X-ZLH-CSRF'], '1', 'csrf');
    const byMail = await withFetch(201, { member }, () => api.addMember(4, 'bob@example.com', []));
    eq(byMail.calls[0].body, '{"email":"bob@example.com","permissions":[]}', 'invite by email');
    const upd = await withFetch(200, { member }, () => api.updateMember(4, 9, ['console', 'power']));
    eq([upd.calls[0].method, upd.calls[0].url, upd.calls[0].body], ['PATCH', '/api/servers/4/members/9', '{"permissions":["console","power"]}'], 'edit');
    const del = await withFetch(200, { removed: 9 }, () => api.removeMember(4, 9));
    eq([del.calls[0].method, del.calls[0].url], ['DELETE', '/api/servers/4/members/9'], 'remove');
    const list = await withFetch(200, { members: [member] }, () => api.members(4));
    eq([list.calls[0].method, list.calls[0].url], ['GET', '/api/servers/4/members'], 'list');
  },
  transferCalls: async () => {
    const offer = await withFetch(201, { transfer: { server_id: 4 } }, () => api.offerTransfer(4, 'carol@example.com'));
    eq([offer.calls[0].method, offer.calls[0].url, offer.calls[0].body], ['POST', '/api/servers/4/transfer', '{"email":"carol@example.com"}'], 'offer');
    const cancel = await withFetch(200, {}, () => api.cancelTransfer(4));
    eq([cancel.calls[0].method, cancel.calls[0].url], ['DELETE', '/api/servers/4/transfer'], 'cancel');
    const open = await withFetch(200, { transfer: null }, () => api.transferOf(4));
    eq([open.calls[0].method, open.calls[0].url, (open.result as { transfer: unknown } | null)?.transfer], ['GET', '/api/servers/4/transfer', null], 'the open offer');
    const mine = await withFetch(200, { transfers: [] }, () => api.transfers());
    eq([mine.calls[0].method, mine.calls[0].url], ['GET', '/api/transfers'], 'offers to me');
    const accept = await withFetch(200, { server: { id: 4 } }, () => api.acceptTransfer(4));
    eq([accept.calls[0].method, accept.calls[0].url, accept.calls[0].headers['X-ZLH-CSRF']], ['POST', '/api/transfers/4/accept', '1'], 'accept');
  },
  unknownUserIsAFieldError: async () => {
    const r = await withFetch(404, { error: { code: 'E_NOT_FOUND', message: 'no user "zed"', field: 'username' } }, () => api.addMember(4, 'zed', []));
    ok(r.error instanceof ApiError, 'an ApiError');
    eq([(r.error as ApiError).status, (r.error as ApiError).field], [404, 'username'], 'status and field');
  },
};
