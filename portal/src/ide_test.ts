// Unit tests of the IDE handoff's logic (run by `npm test`, scripts/unit.mjs):
// each export of `tests` throws on failure. Fakes record the window calls.
import { ApiError, type Server } from './api';
import {
  AUTO_OPEN_MAX,
  AUTO_OPEN_WINDOW_MS,
  handoffErrorText,
  noteAutoOpen,
  normalizePorts,
  openInNewTab,
  parsePreviewPort,
  replaceWithTicket,
  ticketTarget,
  type SmallStore,
  type TabHost,
  type TabLike,
} from './ide';

function eq(got: unknown, want: unknown, what: string) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

async function rejects(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: did not fail`);
}

const URL_IDE = 'http://6001.localhost:8081/dev/6001/ide/?zlh_ticket=abc';

class FakeTab implements TabLike {
  opener: unknown = 'portal';
  location = { href: 'about:blank' };
  closed = false;
  document = { title: '', body: { textContent: '' as string | null } };
  close() {
    this.closed = true;
  }
}

class FakeHost implements TabHost {
  opened: [string, string][] = [];
  assigned: string[] = [];
  replaced: string[] = [];
  constructor(public tab: FakeTab | null) {}
  open(url: string, target: string) {
    this.opened.push([url, target]);
    return this.tab;
  }
  location = {
    assign: (u: string) => void this.assigned.push(u),
    replace: (u: string) => void this.replaced.push(u),
  };
}

class MemStore implements SmallStore {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

const dev = { type: 'dev', spec: { enable_code_server: true } } as Pick<Server, 'type' | 'spec'>;
const devNoIde = { type: 'dev', spec: { enable_code_server: false } } as Pick<Server, 'type' | 'spec'>;

export const tests: Record<string, () => void | Promise<void>> = {
  'parsePreviewPort takes 1024–65535 and ignores anything else'() {
    eq(parsePreviewPort('3000'), 3000, '3000');
    eq(parsePreviewPort('1024'), 1024, '1024');
    eq(parsePreviewPort('65535'), 65535, '65535');
    for (const bad of [null, '', '1023', '65536', '99999', '03000', '3000.5', '3e3', ' 3000', '+3000', '-3000', '0x10', 'abc', '300000'])
      eq(parsePreviewPort(bad), undefined, `port ${JSON.stringify(bad)}`);
  },

  'normalizePorts keeps integers in range, once, ascending'() {
    eq(normalizePorts([8080, 3000, 3000, 'x', 3.5, -1, 0, 70000, null]), [3000, 8080], 'mixed');
    eq(normalizePorts(undefined), [], 'missing');
    eq(normalizePorts([]), [], 'empty');
  },

  'ticketTarget accepts only absolute http(s) URLs'() {
    eq(ticketTarget({ url: URL_IDE, expires_in: 60 }), URL_IDE, 'http');
    eq(ticketTarget({ url: 'https://6001.ide.example.com/dev/6001/port/3000/?zlh_ticket=x' }),
      'https://6001.ide.example.com/dev/6001/port/3000/?zlh_ticket=x', 'https');
    for (const bad of [{ url: 'javascript:alert(1)' }, { url: '/dev/6001/ide/' }, { url: 3 }, {}, null, 'x'])
      try {
        ticketTarget(bad);
        throw new Error(`accepted ${JSON.stringify(bad)}`);
      } catch (e) {
        eq(e instanceof ApiError && e.code, 'E_BAD_TICKET', `refused ${JSON.stringify(bad)}`);
      }
  },

  async 'openInNewTab opens the blank tab before the ticket arrives, then navigates it without opener'() {
    const tab = new FakeTab();
    const host = new FakeHost(tab);
    let answer!: (v: unknown) => void;
    const done = openInNewTab(() => new Promise((r) => (answer = r)), host);
    // Synchronously, still inside the click: the tab is open, the ticket not yet here.
    eq(host.opened, [['about:blank', '_blank']], 'opened at once');
    eq(tab.opener, null, 'opener dropped');
    eq(tab.location.href, 'about:blank', 'not navigated yet');
    answer({ url: URL_IDE, expires_in: 60 });
    await done;
    eq(tab.location.href, URL_IDE, 'navigated to the ticket URL');
    eq(tab.closed, false, 'kept open');
    eq(host.assigned, [], 'this tab stays');
  },

  async 'openInNewTab closes the tab and rethrows when the ticket is refused'() {
    const tab = new FakeTab();
    const host = new FakeHost(tab);
    const err = new ApiError(409, 'E_CONFLICT', 'no running container');
    eq(await rejects(openInNewTab(() => Promise.reject(err), host), 'refused'), err, 'the error');
    eq(tab.closed, true, 'blank tab closed');
    eq(tab.location.href, 'about:blank', 'never navigated');
  },

  async 'openInNewTab closes the tab on a bad ticket URL'() {
    const tab = new FakeTab();
    await rejects(openInNewTab(() => Promise.resolve({ url: 'javascript:alert(1)' }), new FakeHost(tab)), 'bad url');
    eq(tab.closed, true, 'blank tab closed');
    eq(tab.location.href, 'about:blank', 'never navigated');
  },

  async 'openInNewTab navigates this tab when no tab could be opened'() {
    const host = new FakeHost(null);
    await openInNewTab(() => Promise.resolve({ url: URL_IDE }), host);
    eq(host.assigned, [URL_IDE], 'assigned here');
  },

  async 'replaceWithTicket replaces this location, or rethrows'() {
    const host = new FakeHost(null);
    await replaceWithTicket(() => Promise.resolve({ url: URL_IDE }), host);
    eq(host.replaced, [URL_IDE], 'replaced');
    const err = new ApiError(503, 'E_UNAVAILABLE', 'no IDE origin');
    eq(await rejects(replaceWithTicket(() => Promise.reject(err), host), '503'), err, 'the error');
    eq(host.replaced.length, 1, 'no second navigation');
  },

  'handoffErrorText names the cause'() {
    const c409 = new ApiError(409, 'E_CONFLICT', 'no running container');
    const has = (s: string, part: string, what: string) => {
      if (!s.includes(part)) throw new Error(`${what}: "${s}" lacks "${part}"`);
    };
    has(handoffErrorText(c409, dev), 'not running', '409 with code-server');
    has(handoffErrorText(c409, dev), '(no running container)', 'API message kept');
    has(handoffErrorText(c409, devNoIde), 'code-server is not enabled', '409 without code-server');
    has(handoffErrorText(c409, devNoIde, 3000), 'Port 3000', '409 on a port is about the container');
    has(handoffErrorText(c409, devNoIde, 3000), 'not running', '409 on a port');
    has(handoffErrorText(new ApiError(503, 'E_UNAVAILABLE', 'x'), dev), 'IDE origin is not configured', '503');
    has(handoffErrorText(new ApiError(400, 'E_INVALID', 'port not allowed'), dev, 18888), 'Port 18888', '400');
    has(handoffErrorText(new ApiError(404, 'E_NOT_FOUND', 'x'), dev), 'not found', '404');
    eq(handoffErrorText(new ApiError(0, 'E_NETWORK', 'cannot reach the server'), dev), 'cannot reach the server', 'network');
    eq(handoffErrorText(new Error('boom'), dev), 'boom', 'plain error');
  },

  'noteAutoOpen stops a redirect loop and forgets it after the window'() {
    const store = new MemStore();
    const t0 = 1_000_000;
    for (let i = 0; i < AUTO_OPEN_MAX; i++) eq(noteAutoOpen(store, 'k', t0 + i * 1000), true, `open ${i + 1}`);
    eq(noteAutoOpen(store, 'k', t0 + 5000), false, 'one more within the window');
    eq(noteAutoOpen(store, 'other', t0 + 5000), true, 'other key unaffected');
    eq(noteAutoOpen(store, 'k', t0 + AUTO_OPEN_WINDOW_MS + 3000), true, 'after the window');
  },

  'noteAutoOpen allows the open when storage is missing, broken or holds garbage'() {
    eq(noteAutoOpen(null, 'k', 1), true, 'no store');
    const broken: SmallStore = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
    };
    eq(noteAutoOpen(broken, 'k', 1), true, 'throwing store');
    const store = new MemStore();
    store.setItem('k', '{not json');
    eq(noteAutoOpen(store, 'k', 1), true, 'garbage');
    store.setItem('k', '"text"');
    eq(noteAutoOpen(store, 'k', 2), true, 'not an array');
  },
};
