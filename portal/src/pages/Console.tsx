// The interactive console (docs/design.md §7): binary frames both ways, JSON text
// control frames, automatic reconnect with backoff. A dev console reattaches
// to its shell with ?session=<id> (the agent announces the id in a
// {"type":"session","id"} text frame when it opens).
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import type { Server } from '../api';

type Status = 'connecting…' | 'connected' | 'reconnecting…' | 'closed';

// Which dev shell this tab reattaches to. sessionStorage holds only the
// console session id (not a credential: the WebSocket still needs the
// HttpOnly cookie and ownership), so a reload finds the same shell again.
const sessionKey = (id: number) => `zlh.console-session.${id}`;
function loadSession(id: number): string | null {
  try {
    return sessionStorage.getItem(sessionKey(id));
  } catch {
    return null;
  }
}
function saveSession(id: number, s: string | null) {
  try {
    if (s) sessionStorage.setItem(sessionKey(id), s);
    else sessionStorage.removeItem(sessionKey(id));
  } catch {
    /* storage disabled: no reattach after a reload */
  }
}

const SESSION_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function Console({ server }: { server: Server }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<Status>('connecting…');
  const [remote, setRemote] = useState<string>('');
  const [retryIn, setRetryIn] = useState<number | null>(null);
  const wsRef = useRef<WebSocket | null>(null);
  const reconnectNow = useRef<() => void>(() => {});
  const dev = server.type === 'dev';

  useEffect(() => {
    const el = box.current!;
    const term = new Terminal({
      cursorBlink: true,
      convertEol: false,
      scrollback: 5000,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      theme: { background: '#0f1420', foreground: '#e6e9ef', cursor: '#8fb3ff' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    const safeFit = () => {
      try {
        fit.fit();
      } catch {
        /* not laid out yet */
      }
    };
    safeFit();

    const enc = new TextEncoder();
    let ws: WebSocket | null = null;
    let disposed = false;
    let attempt = 0;
    let timer: number | undefined;
    let countdown: number | undefined;
    let session = dev ? loadSession(server.id) : null;

    const sendResize = () => {
      if (ws && ws.readyState === WebSocket.OPEN)
        ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
    };

    const connect = () => {
      window.clearTimeout(timer);
      window.clearInterval(countdown);
      setRetryIn(null);
      if (disposed) return;
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const q = dev && session && SESSION_RE.test(session) ? `?session=${encodeURIComponent(session)}` : '';
      const sock = new WebSocket(`${proto}//${location.host}/api/servers/${server.id}/console${q}`);
      sock.binaryType = 'arraybuffer';
      ws = sock;
      wsRef.current = sock;
      let opened = false;
      sock.onopen = () => {
        opened = true;
        attempt = 0;
        setStatus('connected');
        term.reset();
        safeFit();
        sendResize();
      };
      sock.onmessage = (ev) => {
        if (typeof ev.data !== 'string') {
          term.write(new Uint8Array(ev.data as ArrayBuffer));
          return;
        }
        let msg: { type?: string; [k: string]: unknown };
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (msg.type === 'session' && typeof msg.id === 'string') {
          session = msg.id;
          if (dev) saveSession(server.id, session);
        } else if (msg.type === 'state' && typeof msg.state === 'string') {
          setRemote(msg.state);
        } else if (msg.type === 'exit') {
          const how = msg.signal !== undefined ? `signal ${msg.signal}` : `code ${msg.code ?? 0}`;
          term.write(`\r\n\x1b[2m[process exited with ${how}]\x1b[0m\r\n`);
          setRemote('exited');
          // That shell is gone: the next connection starts a new one.
          session = null;
          if (dev) saveSession(server.id, null);
        }
      };
      sock.onclose = () => {
        if (ws !== sock) return;
        ws = null;
        if (disposed) return;
        if (!opened && attempt === 0) term.write('\x1b[2m[cannot connect to the console]\x1b[0m\r\n');
        else if (opened) term.write('\r\n\x1b[2m[connection lost]\x1b[0m\r\n');
        setStatus('reconnecting…');
        // 0.5 s, 1 s, 2 s … capped at 15 s, with jitter.
        const delay = Math.min(15000, 500 * 2 ** Math.min(attempt, 5)) * (0.8 + Math.random() * 0.4);
        attempt++;
        let left = Math.ceil(delay / 1000);
        setRetryIn(left);
        countdown = window.setInterval(() => {
          left = Math.max(0, left - 1);
          setRetryIn(left);
        }, 1000);
        timer = window.setTimeout(connect, delay);
      };
    };
    reconnectNow.current = () => {
      attempt = 0;
      if (ws) ws.close();
      else connect();
    };

    const data = term.onData((d) => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
    });
    const bin = term.onBinary((d) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const b = new Uint8Array(d.length);
      for (let i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 0xff;
      ws.send(b);
    });
    const resized = term.onResize(sendResize);
    const ro = new ResizeObserver(() => safeFit());
    ro.observe(el);
    window.addEventListener('resize', safeFit);
    connect();
    term.focus();

    return () => {
      disposed = true;
      window.clearTimeout(timer);
      window.clearInterval(countdown);
      window.removeEventListener('resize', safeFit);
      ro.disconnect();
      data.dispose();
      bin.dispose();
      resized.dispose();
      if (ws) ws.close(1000, 'page closed');
      term.dispose();
    };
  }, [server.id, dev]);

  const signal = (name: string) => {
    const ws = wsRef.current;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'signal', name }));
  };

  return (
    <div class="console-page">
      <div class="console-bar">
        <span class={`conn conn-${status === 'connected' ? 'ok' : 'wait'}`} role="status" aria-live="polite">
          <span class="dot" aria-hidden="true" />
          <span data-testid="console-status">{status}</span>
          {status === 'reconnecting…' && retryIn !== null && <span class="muted small"> (retry in {retryIn}s)</span>}
        </span>
        {remote && <span class="muted small">console: {remote}</span>}
        <span class="spacer" />
        <button type="button" class="btn btn-small" onClick={() => signal('INT')} disabled={status !== 'connected'}>
          Send Ctrl-C
        </button>
        <button type="button" class="btn btn-small" onClick={() => reconnectNow.current()}>
          Reconnect
        </button>
      </div>
      <div class="console-term" data-testid="console" ref={box} role="region" aria-label={`Console of ${server.name || server.id}`} />
      <p class="hint">
        {dev
          ? 'A shell in your workspace. It keeps running for a few minutes if you close this page.'
          : 'The game server console, shared with everyone viewing it.'}
      </p>
    </div>
  );
}
