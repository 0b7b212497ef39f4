// The IDE handoff (docs/design.md §10.4). code-server and port previews live on their
// own origin, which trusts only its own cookie, never the portal's session.
// The portal asks the API for a one-time ticket URL (single use, 60 s) right
// before each navigation and never keeps it; the IDE origin trades the ticket
// for its cookie. A browser reaching the IDE origin without that cookie is
// sent back to /servers/<id>/ide?open=1[&port=<n>], which hands off again.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, type Server } from './api';

export const PORT_MIN = 1024;
export const PORT_MAX = 65535;

/** The `port` query parameter as a preview port: a decimal 1024–65535 without
 * sign, spaces or leading zeros; anything else is undefined (ignored). */
export function parsePreviewPort(raw: string | null): number | undefined {
  if (!raw || !/^[1-9]\d{3,4}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= PORT_MIN && n <= PORT_MAX ? n : undefined;
}

/** GET /api/servers/{id}/ports' list as shown: integers in range, each once,
 * ascending; anything else in the answer is dropped. */
export function normalizePorts(ports: unknown): number[] {
  if (!Array.isArray(ports)) return [];
  const ok = ports.filter((p): p is number => Number.isInteger(p) && p >= 1 && p <= PORT_MAX);
  return [...new Set(ok)].sort((a, b) => a - b);
}

/** The URL of a ticket answer. Only an absolute http(s) URL is navigated to
 * (a `javascript:` URL set on a same-origin blank tab would run in the
 * portal); anything else throws ApiError E_BAD_TICKET. */
export function ticketTarget(answer: unknown): string {
  const raw = (answer as { url?: unknown } | null)?.url;
  if (typeof raw === 'string') {
    try {
      const u = new URL(raw);
      if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
    } catch {
      /* not absolute: refused below */
    }
  }
  throw new ApiError(0, 'E_BAD_TICKET', 'the API answered without a usable IDE link');
}

/** What the user reads when a handoff fails. `server` tells "not enabled"
 * from "not running" when the API answers 409; the API's own message follows
 * in parentheses, since it knows best. */
export function handoffErrorText(e: unknown, server: Pick<Server, 'type' | 'spec'>, port?: number): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  const why = e.message ? ` (${e.message})` : '';
  if (e.status === 503 || e.code === 'E_UNAVAILABLE')
    return 'The IDE origin is not configured on this zlh installation, so the IDE and port previews cannot open. Ask the operator to set --ide-origin.';
  if (e.status === 409 || e.code === 'E_CONFLICT') {
    if (port === undefined && (server.type !== 'dev' || !server.spec.enable_code_server))
      return `code-server is not enabled on this server.${why}`;
    const what = port === undefined ? 'The IDE' : `Port ${port}`;
    return `${what} cannot open: the container is not running yet. Start it and try again.${why}`;
  }
  if (e.status === 400 || e.code === 'E_INVALID')
    return port === undefined ? e.message : `Port ${port} cannot be previewed.${why}`;
  if (e.status === 404) return 'This server was not found, or it is not yours.';
  if (e.status === 401) return 'Your session has ended. Log in again.';
  return e.message;
}

// The parts of `window` the handoff uses, so tests can record the calls.
export interface TabLike {
  opener: unknown;
  location: { href: string };
  close(): void;
  document?: { title: string; body: { textContent: string | null } | null };
}
export interface TabHost {
  open(url: string, target: string): TabLike | null;
  location: { assign(url: string): void; replace(url: string): void };
}

/**
 * Opens the URL of `ticket()` in a new tab. Call it synchronously from the
 * click handler: the blank tab opens before the first await, inside the
 * user's gesture, so popup blockers let it through. The tab gets no opener.
 * If no tab could be opened the current tab navigates instead. If `ticket()`
 * fails, the blank tab is closed and the error is rethrown.
 */
export async function openInNewTab(ticket: () => Promise<unknown>, host: TabHost = window): Promise<void> {
  const w = host.open('about:blank', '_blank');
  if (w) {
    try {
      w.opener = null;
      if (w.document?.body) {
        w.document.title = 'Opening…';
        w.document.body.textContent = 'Opening…';
      }
    } catch {
      /* cosmetic only */
    }
  }
  let url: string;
  try {
    url = ticketTarget(await ticket());
  } catch (e) {
    w?.close();
    throw e;
  }
  if (w) w.location.href = url;
  else host.location.assign(url);
}

/** Replaces the current location with the URL of `ticket()` (the ?open=1
 * handoff: the portal page leaves history). Errors are rethrown. */
export async function replaceWithTicket(ticket: () => Promise<unknown>, host: Pick<TabHost, 'location'> = window) {
  host.location.replace(ticketTarget(await ticket()));
}

export interface SmallStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}
export const AUTO_OPEN_WINDOW_MS = 30_000;
export const AUTO_OPEN_MAX = 3;

/**
 * Records an automatic handoff (?open=1) of `key` at `now` and says whether
 * it may go ahead: false once AUTO_OPEN_MAX happened within
 * AUTO_OPEN_WINDOW_MS, i.e. the IDE origin keeps sending this tab back
 * (its cookie refused or blocked) and another ticket would only loop. A
 * missing or failing store allows the handoff.
 */
export function noteAutoOpen(store: SmallStore | null, key: string, now: number): boolean {
  if (!store) return true;
  try {
    let seen: number[] = [];
    try {
      const parsed: unknown = JSON.parse(store.getItem(key) ?? '[]');
      if (Array.isArray(parsed)) seen = parsed.filter((t): t is number => typeof t === 'number');
    } catch {
      /* garbage: start over */
    }
    seen = seen.filter((t) => t <= now && now - t < AUTO_OPEN_WINDOW_MS);
    if (seen.length >= AUTO_OPEN_MAX) return false;
    seen.push(now);
    store.setItem(key, JSON.stringify(seen));
    return true;
  } catch {
    return true;
  }
}

export function autoOpenKey(serverId: number, port?: number): string {
  return `zlh:ide-open:${serverId}:${port ?? 'ide'}`;
}

export function sessionStore(): SmallStore | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** Which handoff is in flight: 'ide' or the port. */
export type HandoffTarget = 'ide' | number;

/**
 * The handoff for one server's buttons: `open(port?)` (new tab, call it from
 * the click handler) and `replace(port?)` (this tab), `busy` while a ticket
 * is being asked for, `error` (readable text) when the last one failed.
 * `replace` resolves to the error, or null when the tab is leaving.
 */
export function useIdeHandoff(server: Server) {
  const [busy, setBusy] = useState<HandoffTarget | null>(null);
  const [error, setError] = useState<string | null>(null);
  const live = useRef(true);
  useEffect(
    () => () => {
      live.current = false;
    },
    [],
  );
  const ticket = (port?: number) => () => api.ideTicket(server.id, port);

  const open = (port?: number) => {
    setError(null);
    setBusy(port ?? 'ide');
    openInNewTab(ticket(port))
      .catch((e) => {
        if (live.current) setError(handoffErrorText(e, server, port));
      })
      .finally(() => {
        if (live.current) setBusy(null);
      });
  };

  const replace = async (port?: number): Promise<unknown> => {
    setError(null);
    setBusy(port ?? 'ide');
    try {
      await replaceWithTicket(ticket(port));
      return null; // leaving: stay busy
    } catch (e) {
      if (live.current) {
        setError(handoffErrorText(e, server, port));
        setBusy(null);
      }
      return e;
    }
  };

  return { busy, error, open, replace };
}
