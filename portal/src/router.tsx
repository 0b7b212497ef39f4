// A tiny router on history.pushState: no dependency, just what the portal needs.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const EVENT = 'zlh:navigate';

export interface Location {
  path: string;
  search: URLSearchParams;
  state: unknown;
}

function current(): Location {
  return { path: window.location.pathname, search: new URLSearchParams(window.location.search), state: history.state };
}

export function navigate(to: string, opts: { replace?: boolean; state?: unknown } = {}) {
  if (opts.replace) history.replaceState(opts.state ?? null, '', to);
  else history.pushState(opts.state ?? null, '', to);
  window.dispatchEvent(new Event(EVENT));
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    window.addEventListener('popstate', update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return loc;
}

// `next=` after login: only same-origin absolute paths ("/x", never "//x",
// "/\x" or anything with a scheme or control characters).
export function safeNext(next: string | null): string | null {
  if (!next || next[0] !== '/' || next[1] === '/' || next[1] === '\\') return null;
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return null;
  try {
    const u = new URL(next, window.location.origin);
    if (u.origin !== window.location.origin) return null;
    return u.pathname + u.search + u.hash;
  } catch {
    return null;
  }
}

// Goes to a same-origin path: SPA navigation, or a full load for /dev/ (the
// IDE proxy) and /api/.
export function go(path: string, replace = false) {
  if (path.startsWith('/dev/') || path.startsWith('/api/')) {
    if (replace) window.location.replace(path);
    else window.location.assign(path);
  } else navigate(path, { replace });
}

type AnchorProps = JSX.AnchorHTMLAttributes<HTMLAnchorElement> & { href: string; children?: ComponentChildren };

export function Link(props: AnchorProps) {
  const { href, onClick, ...rest } = props;
  const click = (e: JSX.TargetedMouseEvent<HTMLAnchorElement>) => {
    if (onClick) (onClick as (e: JSX.TargetedMouseEvent<HTMLAnchorElement>) => void)(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (props.target && props.target !== '_self') return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={click} {...rest} />;
}
