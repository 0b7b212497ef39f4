// (2) create a game server with the stand-in jar → the EULA is required
// while unchecked → console shows the ready line → `say hi` appears → mods
// tab installs (upload) and disables a mod.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { check, eventually, newPage } from '../lib.mjs';
import { register, serverIdFromUrl, waitPageState, waitTerminal } from './common.mjs';

export const slot = 1;
export const deadlineSeconds = 360;

export default async function ({ api, browser, step, shot, track }) {
  const page = track(await newPage(browser));
  await register(page, api, { email: 'gus@example.com', username: 'gus', password: 'gus-password-1' });

  await page.getByRole('link', { name: 'Create server' }).first().click();
  await page.getByLabel('Game', { exact: true }).first().check();
  await page.getByLabel('Name').fill('mc');
  await page.getByLabel('Game', { exact: true }).last().selectOption('minecraft');
  await page.getByLabel('Variant').selectOption('paper');
  await page.getByLabel('Version').selectOption('1.21.4');
  await page.getByLabel('Memory (MB)').fill('1024');
  // EULA unchecked: refused, shown next to the checkbox, nothing created.
  check(!(await page.getByLabel('I accept the Minecraft EULA').isChecked()), 'EULA unchecked by default');
  await page.getByRole('button', { name: 'Create' }).click();
  await eventually(async () => {
    const alerts = await page.getByRole('alert').allInnerTexts();
    return alerts.some((t) => /eula/i.test(t));
  }, { what: 'an EULA error' });
  await shot(page, 'create-game-eula');
  const list = await (await page.request.get(api.base + '/api/servers')).json();
  check((list.servers || list).length === 0, 'no server created without the EULA');
  step('EULA required');

  await page.getByLabel('I accept the Minecraft EULA').check();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/servers\/\d+/);
  const id = serverIdFromUrl(page);
  await waitPageState(page, 'running', 180000);
  await shot(page, 'game-overview');
  step(`server ${id} running`);

  await page.getByRole('link', { name: 'Console' }).click();
  await eventually(async () => (await page.getByTestId('console-status').innerText()) === 'connected',
    { what: 'the console to connect' });
  await waitTerminal(page, /Done \(/, 'the ready line');
  await page.getByTestId('console').click();
  await page.keyboard.type('say hi\n');
  await waitTerminal(page, /\[Server\] hi/, '"[Server] hi"');
  await shot(page, 'game-console');
  step('console: ready line, say hi');

  // Mods: upload a .jar, then disable it.
  await page.getByRole('link', { name: 'Mods' }).click();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zlh-e2e-mod-'));
  try {
    const jar = path.join(tmp, 'worldedit.jar');
    fs.writeFileSync(jar, 'PK\x03\x04 zlh e2e test mod\n');
    await page.getByLabel('Upload mod (.jar)').setInputFiles(jar);
    const row = page.locator('[data-testid^="mod-"]').filter({ hasText: 'worldedit' });
    await row.first().waitFor({ timeout: 30000 });
    await eventually(async () => /restart/i.test(await page.locator('main').innerText()), { what: 'restart required notice' });
    await shot(page, 'mods-installed');
    const disable = page.getByRole('button', { name: /^Disable worldedit/ });
    await disable.click();
    await page.getByRole('button', { name: /^Enable worldedit/ }).waitFor();
    const mods = await (await page.request.get(`${api.base}/api/servers/${id}/mods`)).json();
    const m = (mods.mods || mods).find((x) => /worldedit/.test(x.id));
    check(m && m.enabled === false && /plugins-disabled\//.test(m.file), `the mod is disabled on the server (${JSON.stringify(m)})`);
    await shot(page, 'mods-disabled');
    step('mod installed and disabled');

    // The list's quick actions; the badge follows by itself.
    await page.getByRole('link', { name: 'Servers', exact: true }).first().click();
    await page.waitForURL((u) => u.pathname === '/');
    const badge = page.getByTestId(`state-${id}`);
    const badgeIs = (want) => eventually(async () => (await badge.innerText()).trim() === want,
      { timeout: 90000, what: `the list badge to read ${want}` });
    await badgeIs('running');
    await page.getByRole('button', { name: 'Stop mc' }).click();
    await badgeIs('stopped');
    await shot(page, 'game-list-stopped');
    await page.getByRole('button', { name: 'Start mc' }).click();
    await badgeIs('running');
    step('list quick actions: stop and start, the badge followed');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
