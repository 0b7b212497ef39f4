// Unit tests of the Activity tab's wording and paging (run by `npm test`,
// scripts/unit.mjs): each export of `tests` throws on failure.
import { api, type ActivityEntry } from './api';
import { actionText, actorText, appendPage, detailText, fmtAt } from './activity';

function eq(got: unknown, want: unknown, what: string) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

const entry = (id: number, over: Partial<ActivityEntry> = {}): ActivityEntry => ({
  id, at: 1_765_000_000, action: 'server.start', actor: { id: 1, username: 'ann' }, remote_addr: '127.0.0.1', detail: {}, ...over,
});

export const tests = {
  actionsInWords() {
    eq(actionText('console.command'), 'ran a console command', 'known');
    eq(actionText('member.add'), 'added a member', 'member');
    eq(actionText('ide.ticket'), 'opened the IDE', 'ide');
    eq(actionText('server.tailscale_enable'), 'gave Tailscale access', 'tailscale');
    eq(actionText('dns.flush'), 'dns.flush', 'unknown: as is');
  },
  detailsWorthReading() {
    eq(detailText({ command: 'say hi' }), 'say hi', 'command');
    eq(detailText({ from: 'a.txt', to: 'b.txt' }), 'a.txt → b.txt', 'rename');
    eq(detailText({ path: 'server.properties' }), 'server.properties', 'path');
    eq(detailText({ paths: ['a', 'b'] }), 'a, b', 'paths');
    eq(detailText({ username: 'bob', permissions: ['console'] }), 'bob · console', 'member');
    eq(detailText({ username: 'bob', permissions: [] }), 'bob · view only', 'no permissions');
    eq(detailText({ from_user_id: 3, from_username: 'ann' }), 'ann', 'transfer accepted from');
    eq(detailText({ command: 'x'.repeat(200) }).length, 120, 'long commands clipped');
    eq(detailText(null), '', 'none');
    eq(detailText({ other: { nested: 1 } }), '', 'nothing known');
  },
  whoAndWhen() {
    eq(actorText(entry(1)), 'ann', 'user');
    eq(actorText(entry(1, { actor: null })), 'system', 'no user');
    eq(fmtAt(1_765_000_000), new Date(1_765_000_000_000).toLocaleString(), 'unix seconds');
    eq(fmtAt(null), '—', 'none');
    eq(fmtAt('soon'), 'soon', 'garbage as is');
  },
  pagesAppendOnce() {
    const a = [entry(9), entry(8)];
    eq(appendPage(a, [entry(8), entry(7)]).map((e) => e.id), [9, 8, 7], 'the overlap once');
  },
  pageQuery: async () => {
    const urls: string[] = [];
    const saved = globalThis.fetch;
    globalThis.fetch = (async (url: string) => {
      urls.push(url);
      return new Response(JSON.stringify({ activity: [], next_before: null }), { status: 200 });
    }) as typeof fetch;
    try {
      await api.activity(4);
      await api.activity(4, 120, 50);
      await api.activity(4, null);
    } finally {
      globalThis.fetch = saved;
    }
    eq(urls, ['/api/servers/4/activity', '/api/servers/4/activity?before=120&limit=50', '/api/servers/4/activity'], 'urls');
  },
};
