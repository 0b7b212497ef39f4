// Smoke test of the built portal against a running zlh-api (not part of the
// C++ test suite; the lead's Playwright tests are the real ones).
//
//   ZLH_URL=http://127.0.0.1:18300 node scripts/smoke.mjs [--shots DIR] [--flow dev|pages]
//
// `pages` renders login/register/list/create at 1280×800 and 390×844 and
// fails on console errors; `dev` also creates a dev server and drives the
// overview, console, files and tailscale pages, then deletes it.
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';

const base = process.env.ZLH_URL ?? 'http://127.0.0.1:18300';
const args = process.argv.slice(2);
const shots = args.includes('--shots') ? args[args.indexOf('--shots') + 1] : '/tmp/portal-shots';
const flow = args.includes('--flow') ? args[args.indexOf('--flow') + 1] : 'pages';
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const errors = [];
const step = (m) => console.log(`• ${m}`);

async function newPage(width, height) {
  const ctx = await browser.newContext({ viewport: { width, height }, baseURL: base });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`${width}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${width}: ${e.message}`));
  return { ctx, page };
}

async function noHorizontalScroll(page, what) {
  const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (over > 0) errors.push(`${what}: horizontal scroll of ${over}px`);
}

let cleanup = null;
const user = `smoke${Date.now().toString(36)}`;
const password = 'smoke-password-1';

try {
  // Register (validation first), then the pages at both sizes.
  {
    const { ctx, page } = await newPage(1280, 800);
    await page.goto('/register');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Enter your email address.').waitFor();
    await page.screenshot({ path: `${shots}/register-errors-1280.png` });
    await page.getByLabel('Email').fill(`${user}@example.com`);
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Servers', exact: true }).waitFor();
    step('registered');
    await page.screenshot({ path: `${shots}/list-empty-1280.png` });
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    await page.getByLabel('Username or email').fill(user);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await page.screenshot({ path: `${shots}/login-error-1280.png` });
    step('wrong password shows an alert');
    await ctx.close();
  }

  for (const [w, h] of [
    [1280, 800],
    [390, 844],
  ]) {
    const { ctx, page } = await newPage(w, h);
    await page.goto('/new');
    await page.waitForURL(/\/login\?next=%2Fnew/);
    await page.getByLabel('Username or email').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/new$/);
    await page.getByLabel('Runtime').waitFor();
    await page.screenshot({ path: `${shots}/create-dev-${w}.png`, fullPage: true });
    await page.getByLabel('Game', { exact: true }).check();
    await page.screenshot({ path: `${shots}/create-game-${w}.png`, fullPage: true });
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.screenshot({ path: `${shots}/create-game-errors-${w}.png`, fullPage: true });
    await noHorizontalScroll(page, `create ${w}`);
    await page.goto('/');
    await page.getByRole('heading', { name: 'Servers', exact: true }).waitFor();
    await noHorizontalScroll(page, `list ${w}`);
    step(`pages render at ${w}px`);
    await ctx.close();
  }

  if (flow === 'dev') {
    const { ctx, page } = await newPage(1280, 800);
    await page.goto('/login');
    await page.getByLabel('Username or email').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('link', { name: 'Create server' }).click();
    await page.getByLabel('Name').fill('smoke-dev');
    await page.getByLabel('Version').selectOption({ index: 0 });
    await page.getByLabel('Memory (MB)').fill('512');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/servers\/\d+/);
    const id = page.url().match(/servers\/(\d+)/)[1];
    cleanup = async () => {
      const r = await page.request.delete(`/api/servers/${id}`, { headers: { 'X-ZLH-CSRF': '1' } });
      console.log(`cleanup: DELETE server ${id} → ${r.status()}`);
    };
    step(`created server ${id}`);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${shots}/overview-provisioning.png`, fullPage: true });
    await page.goto('/');
    await page.getByTestId(`state-${id}`).waitFor();
    await page.screenshot({ path: `${shots}/list-provisioning-1280.png` });
    await page.getByTestId(`state-${id}`).filter({ hasText: /^running$/ }).waitFor({ timeout: 180000 });
    step('list badge reached running');
    await page.screenshot({ path: `${shots}/list-running-1280.png` });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${shots}/list-running-390.png`, fullPage: true });
    await noHorizontalScroll(page, 'list running 390');
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.getByRole('link', { name: 'smoke-dev', exact: true }).click();
    await page.getByRole('button', { name: 'Stop', exact: true }).waitFor();
    await page.screenshot({ path: `${shots}/overview-running.png`, fullPage: true });

    // Console
    await page.getByRole('link', { name: 'Console', exact: true }).click();
    await page.getByTestId('console-status').filter({ hasText: 'connected' }).waitFor({ timeout: 20000 });
    await page.getByTestId('console').click();
    await page.keyboard.type('echo smoke-$((6*7))\n');
    await page.locator('.xterm-rows').filter({ hasText: 'smoke-42' }).waitFor({ timeout: 10000 });
    step('console echoes');
    await page.screenshot({ path: `${shots}/console.png` });
    // Reload: the same shell (session) comes back with its scrollback.
    await page.keyboard.type('export SMOKE_MARK=kept\n');
    await page.waitForTimeout(500);
    await page.reload();
    await page.getByTestId('console-status').filter({ hasText: 'connected' }).waitFor({ timeout: 20000 });
    await page.getByTestId('console').click();
    await page.keyboard.type('echo mark=$SMOKE_MARK\n');
    await page.locator('.xterm-rows').filter({ hasText: 'mark=kept' }).waitFor({ timeout: 10000 });
    step('console reattached to its session after reload');

    // Files
    await page.getByRole('link', { name: 'Files', exact: true }).click();
    await page.getByRole('button', { name: 'New folder' }).click();
    await page.getByLabel('Folder name').fill('smoke-dir');
    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.getByRole('link', { name: 'smoke-dir', exact: true }).click();
    await page.waitForURL(/path=smoke-dir/);
    const big = Buffer.alloc(3 * 1024 * 1024, 97);
    await page.getByLabel('Upload files').setInputFiles([
      { name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from smoke\n') },
      { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big },
    ]);
    await page.getByRole('row', { name: /hello\.txt/ }).waitFor();
    await page.getByRole('row', { name: /big\.bin/ }).waitFor();
    step('uploaded two files');
    await page.screenshot({ path: `${shots}/files.png` });
    await page.getByRole('button', { name: 'hello.txt', exact: true }).click();
    const ta = page.getByLabel('Contents of hello.txt');
    await ta.waitFor();
    await page.waitForFunction(() => document.querySelector('textarea')?.value.includes('hello from smoke'));
    await ta.fill('edited by smoke\n');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved smoke-dir/hello.txt.').waitFor();
    await page.screenshot({ path: `${shots}/editor.png` });
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    const dl = await page.request.get(`/api/servers/${id}/files/download?path=smoke-dir/hello.txt`);
    if ((await dl.text()) !== 'edited by smoke\n') errors.push('download after edit does not match');
    step('edited and downloaded');
    await page.getByRole('row', { name: /hello\.txt/ }).getByRole('button', { name: /Rename/ }).click();
    await page.getByLabel('New name').fill('renamed.txt');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByRole('row', { name: /renamed\.txt/ }).waitFor();
    await page.getByRole('row', { name: /big\.bin/ }).getByRole('button', { name: /Delete/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('row', { name: /big\.bin/ }).waitFor({ state: 'detached' });
    step('renamed and deleted');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${shots}/files-390.png`, fullPage: true });
    await noHorizontalScroll(page, 'files 390');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Tailscale: no Headscale configured on a dev API, so an alert.
    await page.getByRole('link', { name: 'Tailscale' }).click();
    await page.getByRole('button', { name: 'Generate keys' }).click();
    await page.getByRole('alert').waitFor();
    await page.screenshot({ path: `${shots}/tailscale.png`, fullPage: true });
    step('tailscale shows the API error');

    // IDE tab without code-server
    await page.getByRole('link', { name: 'IDE', exact: true }).click();
    await page.getByText('No IDE for this server').waitFor();
    await page.screenshot({ path: `${shots}/ide-none.png` });
    await page.getByRole('link', { name: /Back to overview/ }).click();

    // Power, then delete
    // A dev container without code-server has no workload: its power
    // buttons are disabled; the container (host) restart works.
    if (!(await page.getByRole('button', { name: 'Restart', exact: true }).isDisabled()))
      errors.push('workload Restart enabled on a dev server without code-server');
    await page.getByRole('button', { name: 'Host restart', exact: true }).click();
    await page.getByText('Host restart: done.').waitFor({ timeout: 90000 });
    await page.getByTestId('state-' + id).or(page.locator('.server-title .badge')).first().filter({ hasText: 'running' }).waitFor({ timeout: 60000 });
    step('host restart done, running again');
    await page.screenshot({ path: `${shots}/overview-after-restart.png`, fullPage: true });
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByLabel('Server name').fill('smoke-dev');
    await page.screenshot({ path: `${shots}/delete-dialog.png` });
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(`${base}/`);
    step('deleted');
    cleanup = null;
    await ctx.close();
  }

  if (flow === 'game') {
    const { ctx, page } = await newPage(1280, 800);
    await page.goto('/login');
    await page.getByLabel('Username or email').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('link', { name: 'Create server' }).click();
    await page.getByLabel('Game', { exact: true }).check();
    await page.getByLabel('Name').fill('smoke-mc');
    await page.getByLabel('Variant').selectOption('paper');
    await page.getByLabel('Memory (MB)').fill('512');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByText('You must accept the Minecraft EULA').waitFor();
    await page.getByLabel('I accept the Minecraft EULA').check();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/servers\/\d+/);
    const id = page.url().match(/servers\/(\d+)/)[1];
    cleanup = async () => {
      const r = await page.request.delete(`/api/servers/${id}`, { headers: { 'X-ZLH-CSRF': '1' } });
      console.log(`cleanup: DELETE server ${id} → ${r.status()}`);
    };
    step(`created game server ${id}`);
    await page.getByRole('heading', { name: /smoke-mc/ }).getByText('running').waitFor({ timeout: 240000 });
    step('game server running');
    await page.screenshot({ path: `${shots}/game-overview.png`, fullPage: true });
    await page.getByRole('link', { name: 'Console', exact: true }).click();
    await page.getByTestId('console-status').filter({ hasText: 'connected' }).waitFor({ timeout: 20000 });
    await page.locator('.xterm-rows').filter({ hasText: 'Done (' }).waitFor({ timeout: 10000 });
    step('game console shows the scrollback');
    await page.screenshot({ path: `${shots}/game-console.png` });
    await page.getByRole('link', { name: 'Mods', exact: true }).click();
    await page.getByText('No mods installed.').waitFor();
    await page.getByLabel('Upload mod (.jar)').setInputFiles([
      { name: 'smokemod.jar', mimeType: 'application/java-archive', buffer: Buffer.from('PK\x03\x04 not really a jar') },
    ]);
    await page.getByTestId('mod-smokemod').waitFor();
    await page.getByText('Restart required').waitFor();
    step('mod uploaded, restart required shown');
    await page.getByRole('button', { name: 'Disable smokemod' }).click();
    await page.getByRole('button', { name: 'Enable smokemod' }).waitFor();
    await page.screenshot({ path: `${shots}/mods.png`, fullPage: true });
    await page.getByRole('button', { name: 'Enable smokemod' }).click();
    await page.getByRole('button', { name: 'Disable smokemod' }).waitFor();
    await page.getByRole('button', { name: 'Delete smokemod' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('No mods installed.').waitFor();
    await page.getByLabel('Artifact').fill('mods/none.jar');
    await page.getByLabel('SHA-256').fill('0'.repeat(64));
    await page.getByRole('button', { name: 'Install', exact: true }).click();
    await page.locator('[role=alert]').first().waitFor();
    await page.screenshot({ path: `${shots}/mods-install-error.png`, fullPage: true });
    step('mods enable/disable/delete, install error shown');
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    await page.getByRole('button', { name: 'Restart', exact: true }).click();
    await page.getByText(/Restart: done\.|Restart failed/).waitFor({ timeout: 90000 });
    step(`restart: ${await page.getByText(/Restart: done\.|Restart failed/).textContent()}`);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByLabel('Server name').fill('smoke-mc');
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(`${base}/`);
    cleanup = null;
    step('deleted');
    await ctx.close();
  }
} catch (e) {
  errors.push(`flow failed: ${e.message.split('\n').slice(0, 3).join(' | ')}`);
  if (cleanup) await cleanup().catch(() => {});
} finally {
  await browser.close();
}

writeFileSync(`${shots}/errors.txt`, errors.join('\n'));
if (errors.length) {
  console.error(errors.join('\n'));
  process.exit(1);
}
console.log('smoke ok');
