import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setUnauthorizedHandler, type User } from './api';
import { Header } from './components';
import { navigate, useLocation } from './router';
import { Login } from './pages/Login';
import { Register } from './pages/Register';
import { ServerList } from './pages/ServerList';
import { CreateServer } from './pages/CreateServer';
import { ServerPage } from './pages/ServerPage';
import './styles.css';

function NotFound() {
  return (
    <main class="page narrow" id="main">
      <h1>Page not found</h1>
      <p>
        <a href="/">Back to your servers</a>
      </p>
    </main>
  );
}

function loginTarget(): string {
  const here = window.location.pathname + window.location.search;
  return here === '/' ? '/login' : `/login?next=${encodeURIComponent(here)}`;
}

function App() {
  const loc = useLocation();
  // undefined: still asking /api/auth/me
  const [user, setUser] = useState<User | null | undefined>(undefined);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setUser(null);
      if (!['/login', '/register'].includes(window.location.pathname)) navigate(loginTarget(), { replace: true });
    });
    api
      .me()
      .then((r) => setUser(r.user))
      .catch(() => setUser(null));
  }, []);

  const publicPage = loc.path === '/login' || loc.path === '/register';
  useEffect(() => {
    if (user === null && !publicPage) navigate(loginTarget(), { replace: true });
  }, [user, publicPage]);

  let page;
  if (user === undefined) {
    page = (
      <main class="page" id="main" aria-busy="true">
        <p class="muted">Loading…</p>
      </main>
    );
  } else if (loc.path === '/login') {
    page = <Login user={user} onLogin={setUser} next={loc.search.get('next')} />;
  } else if (loc.path === '/register') {
    page = <Register user={user} onLogin={setUser} />;
  } else if (!user) {
    page = null;
  } else if (loc.path === '/') {
    page = <ServerList />;
  } else if (loc.path === '/new') {
    page = <CreateServer />;
  } else {
    const m = /^\/servers\/(\d+)(?:\/(console|files|mods|ide|tailscale|backups|schedules|members|activity))?\/?$/.exec(loc.path);
    page = m ? <ServerPage key={m[1]} id={Number(m[1])} tab={m[2] ?? 'overview'} search={loc.search} /> : <NotFound />;
  }

  return (
    <div class="app">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header user={user ?? null} onLogout={() => setUser(null)} />
      {page}
    </div>
  );
}

render(<App />, document.getElementById('app')!);
