// Browser-test harness (docs/design.md §11, §14): a real zlh-api with the local
// driver, a test artifact store and the built portal, driven through
// Debian's Chromium with playwright-core. Each scenario gets its own data
// dir, loopback address and vmid window; everything it started is killed
// at the end, and the data dir is removed unless the scenario failed.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const build = process.env.ZLH_BUILD_DIR || path.join(repo, 'build');

export const env = {
  repo,
  bin: process.env.ZLH_BIN_DIR || path.join(build, 'bin'),
  store: process.env.ZLH_E2E_STORE || path.join(build, 'e2e-store'),
  portal: process.env.ZLH_PORTAL_DIR || path.join(repo, 'portal', 'dist'),
  artifacts: process.env.ZLH_E2E_ARTIFACTS || path.join(build, 'e2e-artifacts'),
  chromium: process.env.ZLH_CHROMIUM || '/usr/bin/chromium',
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value or the deadline passes.
export async function eventually(fn, { timeout = 30000, every = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(every);
  }
}

export function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

function portFree(host, port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

// A random 127.78.a.b free on 8080 (the API) — parallel tests never share one.
async function loopback() {
  for (let i = 0; i < 200; i++) {
    const host = `127.78.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
    if (await portFree(host, 8080)) return host;
  }
  throw new Error('no free loopback address');
}

function agentsUnder(dir) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(dir)) out.push(Number(e));
    } catch {}
  }
  return out;
}

function killServices(dataDir) {
  const cdir = path.join(dataDir, 'containers');
  if (!fs.existsSync(cdir)) return;
  for (const c of fs.readdirSync(cdir)) {
    const run = path.join(cdir, c, 'run', 'zlh');
    if (!fs.existsSync(run)) continue;
    for (const f of fs.readdirSync(run)) {
      if (!f.endsWith('.json')) continue;
      try {
        const st = JSON.parse(fs.readFileSync(path.join(run, f), 'utf8'));
        for (const k of ['pid', 'shim_pid']) if (Number.isInteger(st[k]) && st[k] > 1) process.kill(st[k], 'SIGKILL');
      } catch {}
    }
  }
}

// Starts zlh-api; `slot` (0-3) picks the scenario's vmid window and ports so
// the browser tests never collide with each other or the other test tiers.
// The IDE origin listens on 127.0.0.1 (browsers resolve *.localhost there)
// on a free port of its own, as http://{vmid}.localhost:<port>.
async function idePort() {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 9000);
    if (await portFree('127.0.0.1', port)) return port;
  }
  throw new Error('no free port for the IDE origin');
}

export async function startApi({ name, slot, extraArgs = [], env: extraEnv = {}, store = null }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zlh-e2e-${name}-`));
  const host = await loopback();
  const base = `http://${host}:8080`;
  const devLo = 4000 + slot * 100;
  const ide = await idePort();
  // `store`: {artifacts, catalogKey} of another store (the demo store with
  // the real code-server); default the e2e store.
  const artifacts = store ? store.artifacts : path.join(env.store, 'store');
  const catalogKey = store ? store.catalogKey : path.join(env.store, 'keys', 'catalog.pub');
  const args = [
    '--listen', `${host}:8080`, '--data', path.join(dir, 'data'),
    '--artifacts', artifacts, '--catalog-key', catalogKey,
    '--portal', env.portal, '--public-url', base,
    '--ide-listen', `127.0.0.1:${ide}`, '--ide-origin', `http://{vmid}.localhost:${ide}`,
    '--dev-vmid-lo', String(devLo), '--dev-vmid-hi', String(devLo + 49),
    '--game-vmid-lo', String(devLo + 50), '--game-vmid-hi', String(devLo + 99),
    '--port-lo', String(31200 + slot * 25), '--port-hi', String(31200 + slot * 25 + 24),
    ...extraArgs,
  ];
  // ZLH_E2E_DRIVER=lxc: real unprivileged containers on bridges, subnets,
  // ids and a table of the scenario's own, removed by stop(). Otherwise the
  // local driver unless the scenario picks one (as root it needs the flag).
  let lxc = null;
  if (process.env.ZLH_E2E_DRIVER === 'lxc' && !args.includes('--driver')) {
    const r = crypto.randomBytes(4);
    const tag = 'e' + r.toString('hex').slice(0, 4).replace(/[^a-z0-9]/g, 'a');
    const a = 200 + (r[0] % 40), b = (r[1] % 127) * 2;
    lxc = [path.join(dir, 'data'), tag, `z${tag}d`, `10.${a}.${b}.0/24`, `z${tag}g`, `10.${a}.${b + 1}.0/24`,
      String(1000000 + 65536 * 16 * 61), '16'];  // block 61: the C++ suites use 1-60
    fs.chmodSync(dir, 0o711);
    args.push('--driver', 'lxc', '--lxc-tag', lxc[1], '--lxc-bridge-dev', lxc[2], '--lxc-subnet-dev', lxc[3],
      '--lxc-bridge-game', lxc[4], '--lxc-subnet-game', lxc[5], '--lxc-id-base', lxc[6], '--lxc-slots', lxc[7],
      '--lxc-disk-gb-default', '2');
  }
  if (!args.includes('--driver')) args.push('--driver', 'local', '--insecure-local-driver');
  let proc = null;
  let exited = null;
  const spawnApi = () => {
    const log = fs.openSync(path.join(dir, 'api.log'), 'a');
    proc = spawn(path.join(env.bin, 'zlh-api'), args, {
      stdio: ['ignore', log, log],
      env: { PATH: '/usr/bin:/bin', ZLH_TEST_FAST_HASH: '1', ZLH_ADMIN_PASSWORD: 'admin-password-1', ...extraEnv },
    });
    fs.closeSync(log);
    exited = null;
    const me = proc;
    me.on('exit', (code, sig) => { if (proc === me) exited = { code, sig }; });
  };
  const kill9 = async () => {
    if (exited || !proc) return;
    const me = proc;
    const gone = new Promise((r) => me.once('exit', r));
    me.kill('SIGKILL');
    await Promise.race([gone, sleep(5000)]);
    exited = exited || { code: null, sig: 'SIGKILL' };
  };
  const healthy = () => eventually(async () => {
    if (exited) throw new Error(`zlh-api exited: ${api.log().slice(-2000)}`);
    const r = await fetch(`${base}/healthz`).catch(() => null);
    return r && r.status === 200;
  }, { timeout: 20000, what: 'zlh-api /healthz' });
  const api = {
    dir, host, base,
    // The IDE origin of a server.
    ideOrigin: (vmid) => `http://${vmid}.localhost:${ide}`,
    get pid() { return proc?.pid; },
    log: () => { try { return fs.readFileSync(path.join(dir, 'api.log'), 'utf8'); } catch { return ''; } },
    // kill -9 and start again on the same data dir and address (agents,
    // like containers, keep running meanwhile).
    async restart({ downMs = 0 } = {}) {
      await kill9();
      if (downMs) await sleep(downMs);
      spawnApi();
      await healthy();
    },
    async stop({ keep = false } = {}) {
      await kill9();
      const data = path.join(dir, 'data');
      if (lxc) {
        const r = spawnSync(path.join(env.bin, 'zlh-lxc-cleanup'), lxc, { encoding: 'utf8' });
        if (r.status !== 0) console.error(`lxc cleanup: ${r.stderr}`);
      }
      for (const pid of agentsUnder(data + '/')) { try { process.kill(pid, 'SIGKILL'); } catch {} }
      killServices(data);
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  spawnApi();
  await healthy();
  return api;
}

// JSON over the API with a bearer token (set-up and checks outside the browser).
export async function call(api, method, p, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(api.base + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

export async function launch() {
  return chromium.launch({
    executablePath: env.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

// A page that records uncaught errors (they fail the scenario) and failed
// requests (for the report).
export async function newPage(browser, { width = 1280, height = 800 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  // Console errors count, except the browser's own notes on each non-2xx
  // answer (401 before login and 404 for not-yours are expected here) and
  // on WebSocket connects refused while zlh-api restarts (the console test
  // checks the reconnection itself).
  page.on('console', (m) => {
    const t = m.text();
    if (m.type() !== 'error' || t.startsWith('Failed to load resource') || /^WebSocket connection to .* failed/.test(t)) return;
    page.errors.push(`console: ${t}`);
  });
  page.setDefaultTimeout(20000);
  return page;
}

export async function shot(page, scenario, name) {
  fs.mkdirSync(env.artifacts, { recursive: true });
  const file = path.join(env.artifacts, `${scenario}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
