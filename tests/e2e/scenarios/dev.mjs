// (1) register → create a dev server (node, code-server on) → progress →
// running → console (node --version, resize, reconnect after zlh-api goes
// away and comes back) → upload with progress, listed, download → Open IDE
// (the stand-in IDE page and its WebSocket, on the server's own IDE origin) → logout.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { check, eventually, newPage } from '../lib.mjs';
import { progressSeen, register, serverIdFromUrl, terminalText, waitPageState, waitTerminal, watchProgress } from './common.mjs';

const vmidOf = (u) => Number(u.pathname.split('/')[2]);

export const slot = 0;
export const deadlineSeconds = 420;

export default async function ({ api, browser, step, shot, track }) {
  const page = track(await newPage(browser));

  // Register, with the validation message for a weak password first.
  await page.goto(api.base + '/register');
  await page.getByLabel('Email').fill('ann@example.com');
  await page.getByLabel('Username').fill('ann');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await eventually(async () => (await page.getByRole('alert').allInnerTexts()).some((t) => /password|8 characters/i.test(t)),
    { what: 'a password validation message' });
  check(await page.getByLabel('Password').getAttribute('aria-invalid') === 'true', 'the password field is marked invalid');
  await shot(page, 'register-validation');
  await register(page, api, { email: 'ann@example.com', username: 'ann', password: 'ann-password-1' });
  await shot(page, 'list-empty');
  // The session is the HttpOnly cookie only: nothing token-like in storage
  // or readable by scripts.
  const stored = await page.evaluate(() => JSON.stringify({ l: { ...localStorage }, s: { ...sessionStorage }, c: document.cookie }));
  check(!/eyJ|zlh_session/.test(stored), `no token in web storage or document.cookie: ${stored}`);
  step('registered');

  // Create: node, the catalog's default version preselected, code-server on.
  const catalog = await (await page.request.get(api.base + '/api/catalog/dev')).json();
  const node = catalog.runtimes.find((r) => r.id === 'node');
  const def = (node.versions.find((v) => v.default) || node.versions[0]).version;
  await page.getByRole('link', { name: 'Create server' }).first().click();
  await page.waitForURL((u) => u.pathname === '/new');
  await page.getByLabel('Dev', { exact: true }).check();
  await page.getByLabel('Name').fill('web');
  await page.getByLabel('Runtime').selectOption('node');
  check(await page.getByLabel('Version').inputValue() === def, `default version ${def} preselected`);
  await page.getByLabel('Enable code-server').check();
  await shot(page, 'create-dev');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/servers\/\d+/);
  const id = serverIdFromUrl(page);
  step(`created server ${id}`);

  // Progress while it provisions, then running.
  await page.getByRole('progressbar').first().waitFor({ timeout: 30000 });
  await shot(page, 'provisioning');
  await waitPageState(page, 'running');
  await shot(page, 'overview-running');
  step('running');

  // Console: the dev user's shell.
  await page.getByRole('link', { name: 'Console' }).click();
  await eventually(async () => (await page.getByTestId('console-status').innerText()) === 'connected',
    { what: 'the console to connect' });
  await page.getByTestId('console').click();
  await page.keyboard.type('node --version\n');
  await waitTerminal(page, new RegExp(`v${def.replace(/\./g, '\\.')}`), `v${def}`);
  await shot(page, 'console');
  // Resize follows the window: the PTY's size changes with the viewport.
  await page.keyboard.type('clear; stty size\n');
  const sizeRe = /^(\d+) (\d+)$/m;
  const before = (await eventually(async () => sizeRe.exec(await terminalText(page)), { what: 'stty size' })).slice(1).map(Number);
  await page.setViewportSize({ width: 900, height: 600 });
  await eventually(async () => {
    await page.keyboard.type('clear; stty size\n');
    await new Promise((r) => setTimeout(r, 300));
    const m = sizeRe.exec(await terminalText(page));
    return m && (Number(m[1]) !== before[0] || Number(m[2]) !== before[1]) && m;
  }, { what: `the PTY size to change from ${before.join('x')}`, every: 500 });
  await page.setViewportSize({ width: 1280, height: 800 });
  step(`console: node --version, resize from ${before.join(' ')}`);
  // Reconnect after a blip: zlh-api killed and restarted; the same shell
  // (its variable) is there again.
  // The mark must be in the shell before the blip: keys typed while zlh-api
  // goes down are lost with its connection.
  await page.keyboard.type('export ZLH_MARK=blip42; echo marked=$ZLH_MARK\n');
  await waitTerminal(page, /marked=blip42/, 'the mark in the shell');
  await api.restart({ downMs: 1500 });
  await eventually(async () => (await page.getByTestId('console-status').innerText()) !== 'connected',
    { what: 'the console to notice the drop', timeout: 20000 }).catch(() => {});
  await eventually(async () => (await page.getByTestId('console-status').innerText()) === 'connected',
    { what: 'the console to reconnect', timeout: 60000 });
  await page.getByTestId('console').click();
  await page.keyboard.type('echo mark=$ZLH_MARK\n');
  await waitTerminal(page, /mark=blip42/, 'the same shell after the reconnect');
  step('console reconnected to the same shell');

  // Files: upload with progress, listed, download the same bytes.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zlh-e2e-up-'));
  try {
    const file = path.join(tmp, 'data.bin');
    const bytes = crypto.randomBytes(24 << 20);
    fs.writeFileSync(file, bytes);
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');
    await page.getByRole('link', { name: 'Files' }).click();
    await page.getByLabel('Upload files').waitFor();
    await watchProgress(page);
    await page.getByLabel('Upload files').setInputFiles(file);
    await page.getByTestId('file-data.bin').waitFor({ timeout: 60000 });
    const seen = await progressSeen(page);
    check(seen.length > 0 && Math.max(...seen) === 100, `upload progress seen reaching 100 (saw ${JSON.stringify(seen.slice(0, 20))})`);
    await shot(page, 'files');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download data.bin' }).click(),
    ]);
    const got = path.join(tmp, 'got.bin');
    await download.saveAs(got);
    const gsha = crypto.createHash('sha256').update(fs.readFileSync(got)).digest('hex');
    check(gsha === sha, 'downloaded bytes equal the uploaded ones');
    step(`uploaded and downloaded 24 MiB (progress values seen: ${new Set(seen).size})`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  // Open IDE: a new tab on the server's own IDE origin (ticket handoff),
  // with the stand-in's page and its WebSocket.
  await page.getByRole('link', { name: 'Overview' }).click();
  const [ide] = await Promise.all([
    page.context().waitForEvent('page'),
    page.getByRole('button', { name: 'Open IDE' }).click(),
  ]);
  track(ide);
  await ide.waitForURL((u) => /^\/dev\/\d+\/ide\/$/.test(u.pathname) && !u.search.includes('zlh_ticket'));
  const ideUrl = new URL(ide.url());
  check(ideUrl.origin === api.ideOrigin(vmidOf(ideUrl)), `IDE tab on its own origin, got ${ide.url()}`);
  await eventually(async () => (await ide.title()) === 'stand-in code-server', { what: 'the IDE page' });
  await eventually(async () => /connected: ping/.test(await ide.locator('#status').innerText()),
    { what: "the IDE page's WebSocket through the proxy" });
  const ideCookies = await ide.context().cookies(ide.url());
  check(ideCookies.some((c) => c.name === 'zlh_ide' && c.httpOnly) && !ideCookies.some((c) => c.name === 'zlh_session'),
    `the IDE origin holds zlh_ide only (${ideCookies.map((c) => c.name).join(', ')})`);
  await shot(ide, 'ide');
  await ide.close();
  await page.bringToFront();  // the portal polls only while it is visible
  // The IDE tab: no frame any more (the IDE lives on another site), a button.
  await page.getByRole('link', { name: 'IDE', exact: true }).click();
  await page.getByRole('button', { name: 'Open IDE' }).waitFor();
  check(await page.locator('iframe').count() === 0, 'no IDE frame in the portal');
  await shot(page, 'ide-tab');
  step('IDE through the proxy, its WebSocket connected');

  // The list updates by itself: a server created elsewhere (here over the
  // API with the same session) appears and goes from provisioning to
  // running without a reload.
  await page.getByRole('link', { name: 'Servers', exact: true }).first().click();
  await page.waitForURL((u) => u.pathname === '/');
  await eventually(async () => (await page.getByTestId(`state-${id}`).innerText()).trim() === 'running',
    { what: 'the first server running in the list' });
  const other = await page.request.post(api.base + '/api/servers', {
    headers: { 'X-ZLH-CSRF': '1' },
    data: { type: 'dev', name: 'second', runtime: 'node', version: def },
  });
  check(other.status() === 202, `second create: ${other.status()} ${await other.text()}`);
  const id2 = (await other.json()).id;
  const badge2 = page.getByTestId(`state-${id2}`);
  const seen2 = new Set();
  await eventually(async () => {
    const t = (await badge2.innerText({ timeout: 500 }).catch(() => '')).trim();
    if (t) seen2.add(t);
    return t === 'running';
  }, { what: 'the new server to appear in the list and turn running', timeout: 120000, every: 50 });
  await shot(page, 'list');
  step(`the list showed a new server by itself (states seen: ${[...seen2].join(' → ')})`);

  // A narrow screen (390 px): no horizontal scrolling on the main pages.
  await page.setViewportSize({ width: 390, height: 844 });
  const noHScroll = async (where) => {
    const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    check(sw <= w, `no horizontal scroll at 390 px on ${where} (scrollWidth ${sw} > ${w})`);
  };
  await noHScroll('the list');
  await shot(page, 'list-narrow');
  await page.getByRole('link', { name: 'Open web' }).click();
  await page.waitForURL(/\/servers\/\d+$/);
  await waitPageState(page, 'running');
  await noHScroll('the server page');
  await shot(page, 'overview-narrow');
  await page.getByRole('link', { name: 'Console' }).click();
  await eventually(async () => (await page.getByTestId('console-status').innerText()) === 'connected',
    { what: 'the console to connect at 390 px' });
  await noHScroll('the console');
  await shot(page, 'console-narrow');
  await page.setViewportSize({ width: 1280, height: 800 });
  step('390 px: list, server page and console fit');

  // Delete with confirmation: the button stays disabled until the name is typed.
  await page.goto(`${api.base}/servers/${id2}`);
  await waitPageState(page, 'running');
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  check(await dialog.getByRole('button', { name: 'Confirm' }).isDisabled(), 'Confirm disabled before the name is typed');
  await dialog.getByLabel('Server name').fill('second');
  await shot(page, 'delete-confirm');
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  await eventually(async () => (await page.getByTestId(`state-${id2}`).count()) === 0 ||
    /deleting/.test(await page.getByTestId(`state-${id2}`).innerText()), { what: 'the deleted server to leave the list' });
  await eventually(async () => (await page.request.get(`${api.base}/api/servers/${id2}`)).status() === 404,
    { timeout: 60000, what: 'the deleted server to be gone' });
  step('deleted a server after typing its name');

  // Logout: back at the login page, the session is gone.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL((u) => u.pathname === '/login');
  check((await page.request.get(api.base + '/api/auth/me')).status() === 401, 'no session after logout');
  await shot(page, 'login');
  step('logged out');
}
