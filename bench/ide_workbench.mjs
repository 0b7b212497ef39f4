// Time to workbench of the real code-server (bench/ide_workbench.sh runs it).
// usage: node bench/ide_workbench.mjs CONFIG.json
// CONFIG: {api, token, server, direct, nginx, rounds, warmups, clk_tck,
//          api_pid, nginx_pids: [...]}
//   api     zlh-api's base URL; each zlh load first asks it for a ticket
//           (POST /api/servers/{server}/ide-ticket with the bearer token),
//           then opens the URL it returns (302 with the zlh_ide cookie to
//           http://<vmid>.localhost:<port>/dev/<vmid>/ide/)
//   direct  code-server itself, http://<container ip>:6000/
//   nginx   the nginx peer, http://127.0.0.1:<port>/dev/<vmid>/ide/
// One browser; every load in a new context (no cache, no cookies, no
// storage). Time to workbench: from page.goto() until .monaco-workbench is
// in the DOM and .explorer-folders-view is visible, checked on every frame.
// Beside it, the CPU time (utime + stime, /proc/<pid>/stat) zlh-api and
// nginx's workers spent over the same window.
// Prints one line per measured load:
//   run <round> <path> ms <time> commit_ms <c> api_cpu_ms <x> nginx_cpu_ms <y> requests <n> failed <m>
// (commit_ms: until the workbench's page commits, after the redirects)
// and "warmup ..." lines in the same form for the warm-up loads. Exits
// non-zero when a load does not reach the workbench within 120 s.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/e2e/package.json'));
const { chromium } = require('playwright-core');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const PATHS = ['zlh', 'direct', 'nginx'];
const TIMEOUT = 120000;

// CPU ms (user + system, all threads) of the processes given.
function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]); // fields 14 and 15: utime, stime
  }
  return (ticks * 1000) / cfg.clk_tck;
}

async function ticketUrl() {
  const r = await fetch(`${cfg.api}/api/servers/${cfg.server}/ide-ticket`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${cfg.token}`, 'Content-Type': 'application/json' },
    body: '{}',
  });
  const body = await r.text();
  if (r.status !== 200) throw new Error(`ide-ticket: ${r.status} ${body}`);
  return JSON.parse(body).url;
}

// The criterion, evaluated in the page on every animation frame.
function workbenchReady() {
  if (!document.querySelector('.monaco-workbench')) return false;
  const e = document.querySelector('.explorer-folders-view');
  if (!e) return false;
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
}

async function load(browser, which) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await ctx.newPage();
    // Requests and failures (no answer, or a status >= 400) until the
    // criterion holds; failures go to stderr, which the script shows when a
    // load fails. Those after it are the page being left.
    let done = false;
    let requests = 0;
    const failed = new Set();
    const fail = (q, why) => {
      if (done || failed.has(q)) return;
      failed.add(q);
      console.error(`${which}: ${why} ${q.url()}`);
    };
    page.on('request', () => { if (!done) requests++; });
    page.on('requestfailed', (q) => fail(q, q.failure()?.errorText));
    page.on('response', (res) => { if (res.status() >= 400) fail(res.request(), res.status()); });
    const url = which === 'zlh' ? await ticketUrl() : which === 'direct' ? cfg.direct : cfg.nginx;
    const api0 = cpuMs([cfg.api_pid]);
    const ngx0 = cpuMs(cfg.nginx_pids);
    const t0 = performance.now();
    await page.goto(url, { waitUntil: 'commit', timeout: TIMEOUT });
    const commit = performance.now() - t0;
    await page.waitForFunction(workbenchReady, null, { polling: 'raf', timeout: TIMEOUT });
    const ms = performance.now() - t0;
    const api = cpuMs([cfg.api_pid]) - api0;
    const ngx = cpuMs(cfg.nginx_pids) - ngx0;
    done = true;
    // Leave the page at once: code-server forks an extension host for each
    // window about when the explorer shows, and one whose window was open a
    // few seconds longer stays for its reconnection grace time (3 h) after
    // the tab is gone; with 1 GiB in the container they would add up.
    await page.goto('about:blank').catch(() => {});
    return { ms, commit, api, ngx, requests, failed: failed.size };
  } finally {
    await ctx.close();
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  // 6000 (code-server's port in the container) is on Chromium's list of
  // unsafe ports (X11); the direct path needs it.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--explicitly-allowed-ports=6000'],
});
const line = (tag, which, r) =>
  `${tag} ${which} ms ${r.ms.toFixed(1)} commit_ms ${r.commit.toFixed(1)} api_cpu_ms ${r.api.toFixed(0)} nginx_cpu_ms ${r.ngx.toFixed(0)}` +
  ` requests ${r.requests} failed ${r.failed}`;
try {
  for (let i = 1; i <= cfg.warmups; i++) {
    for (const which of PATHS) console.log(line(`warmup ${i}`, which, await load(browser, which)));
  }
  for (let round = 1; round <= cfg.rounds; round++) {
    // Rotated order: every path goes first, second and third in turn.
    const k = (round - 1) % PATHS.length;
    const order = [...PATHS.slice(k), ...PATHS.slice(0, k)];
    for (const which of order) console.log(line(`run ${round}`, which, await load(browser, which)));
  }
} finally {
  await browser.close();
}
