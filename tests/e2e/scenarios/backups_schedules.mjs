// (issue 23) Backups and Schedules tabs against the real stack: a dev
// server (node, code-server on: a workload that a restore stops and
// starts) → a marker file → Backups: create with progress, ready → download
// (bytes, sha256 as listed) → the marker changed → restore with the
// confirmation → the earlier marker is back, a pre-restore backup kept, the
// server running again → Schedules: create one with a live cron preview and
// see its next run, then run it now and see the run's result.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { check, eventually, newPage, sleep } from '../lib.mjs';
import { progressSeen, register, serverIdFromUrl, waitPageState, watchProgress } from './common.mjs';

export const slot = 5;
export const deadlineSeconds = 480;

const CSRF = { 'X-ZLH-CSRF': '1' };

async function writeFile(page, api, id, p, text) {
  const r = await page.request.put(`${api.base}/api/servers/${id}/files/write?path=${encodeURIComponent(p)}`, {
    headers: { ...CSRF, 'Content-Type': 'application/octet-stream' },
    data: text,
  });
  check(r.ok(), `write ${p}: ${r.status()} ${await r.text()}`);
}

async function readFile(page, api, id, p) {
  const r = await page.request.get(`${api.base}/api/servers/${id}/files/read?path=${encodeURIComponent(p)}`);
  check(r.ok(), `read ${p}: ${r.status()} ${await r.text()}`);
  return r.text();
}

async function backupList(page, api, id) {
  const r = await page.request.get(`${api.base}/api/servers/${id}/backups`);
  check(r.ok(), `GET backups: ${r.status()} ${await r.text()}`);
  return r.json();
}

// Waits until one of `texts()` matches `ok`; one matching `bad` fails at
// once with its text (a failed job is shown, and is the reason).
async function waitFor(texts, ok, bad, what, timeout) {
  const end = Date.now() + timeout;
  for (;;) {
    const all = await texts();
    const failed = all.find((t) => bad.test(t));
    if (failed) throw new Error(`${what}: ${failed}`);
    if (all.some((t) => ok.test(t))) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what} (saw ${JSON.stringify(all)})`);
    await sleep(250);
  }
}

// The tab's notices (role=status) and alerts.
const notices = (page) => async () => [
  ...(await page.getByRole('status').allInnerTexts()),
  ...(await page.getByRole('alert').allInnerTexts()),
];

async function createServer(page, api, step) {
  await page.getByRole('link', { name: 'Create server' }).first().click();
  await page.waitForURL((u) => u.pathname === '/new');
  await page.getByLabel('Dev', { exact: true }).check();
  await page.getByLabel('Name').fill('bk');
  await page.getByLabel('Runtime').selectOption('node');
  await page.getByLabel('Enable code-server').check();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/servers\/\d+/);
  const id = serverIdFromUrl(page);
  await waitPageState(page, 'running');
  step(`server ${id} running`);
  return id;
}

async function backupAndDownload(page, api, id, shot, step) {
  await page.getByRole('link', { name: 'Backups' }).click();
  await page.getByRole('heading', { name: 'Backup storage' }).waitFor();
  await watchProgress(page);
  await page.getByLabel('Backup name').fill('first');
  await page.getByRole('button', { name: 'Create backup' }).click();
  await waitFor(notices(page), /^Backup first created\./, /^Backup first (?!created\.)|^Cannot follow|quota/, 'the backup to finish', 180000);
  const list = await backupList(page, api, id);
  const b = list.backups.find((x) => x.name === 'first');
  check(b && b.state === 'ready' && b.kind === 'manual', `backup "first" ready: ${JSON.stringify(b)}`);
  check(/^[0-9a-f]{64}$/.test(b.sha256) && b.size > 0, `sha256 and size listed: ${JSON.stringify(b)}`);
  const row = page.getByTestId(`backup-${b.id}`);
  await eventually(async () => /ready/.test(await row.innerText()), { what: 'the row to read ready' });
  check((await page.getByTestId(`backup-sha-${b.id}`).innerText()).trim() === b.sha256.slice(0, 12), 'the short sha256 shown');
  check(list.quota && list.quota.used_bytes >= b.size, `quota counts the backup: ${JSON.stringify(list.quota)}`);
  const seen = await progressSeen(page);
  await shot(page, 'backups-created');
  step(`backup ${b.id}: ${b.size} bytes, sha256 ${b.sha256.slice(0, 12)} (progress values seen: ${JSON.stringify([...new Set(seen)])})`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zlh-e2e-backup-'));
  try {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download first', exact: true }).click(),
    ]);
    const file = path.join(tmp, 'first.tar.zst');
    await download.saveAs(file);
    const bytes = fs.readFileSync(file);
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');
    check(bytes.length > 0 && bytes.length === b.size, `downloaded ${bytes.length} bytes, listed ${b.size}`);
    check(sha === b.sha256, `downloaded sha256 ${sha} = listed ${b.sha256}`);
    check(bytes.readUInt32LE(0) === 0xfd2fb528, 'a zstd frame');
    step(`downloaded ${bytes.length} bytes, sha256 as listed`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return b;
}

async function restore(page, api, id, b, shot, step) {
  await writeFile(page, api, id, 'marker.txt', 'after\n');
  // By keyboard: Enter opens the confirmation (focus on Cancel), Escape
  // closes it and gives the focus back; nothing was restored.
  const restoreButton = page.getByRole('button', { name: 'Restore first', exact: true });
  await restoreButton.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  check(await page.evaluate(() => document.activeElement?.textContent) === 'Cancel', 'focus on Cancel in the dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  check(await restoreButton.evaluate((b) => b === document.activeElement), 'focus back on the Restore button');
  await restoreButton.click();
  await dialog.waitFor();
  const text = await dialog.innerText();
  check(/will be stopped/.test(text) && /pre-restore backup/.test(text), `the confirmation says what happens: ${text}`);
  await shot(page, 'restore-confirm');
  await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
  await waitFor(notices(page), /^Restored first/, /^Restore first|^Cannot follow|quota/, 'the restore to finish', 240000);
  check((await readFile(page, api, id, 'marker.txt')) === 'before\n', 'the marker from before the backup is back');
  const list = await backupList(page, api, id);
  const pre = list.backups.find((x) => x.kind === 'pre_restore');
  check(pre && pre.state === 'ready', `a pre-restore backup kept: ${JSON.stringify(list.backups)}`);
  check(list.backups.find((x) => x.id === b.id)?.state === 'ready', 'the restored backup is ready again');
  await waitPageState(page, 'running', 120000);
  await shot(page, 'backups-restored');
  step(`restored; pre-restore backup ${pre.id} kept; running again`);
}

async function schedule(page, api, id, shot, step) {
  await page.getByRole('link', { name: 'Schedules' }).click();
  await page.getByRole('button', { name: 'New schedule' }).click();
  await page.getByLabel('Name').fill('nightly');
  const cron = page.getByLabel('Cron expression');
  await cron.fill('0 4 * * 8');
  await eventually(async () => /day-of-week: 8 is outside 0-7/.test(await page.getByTestId('cron-preview').innerText()),
    { what: 'the live cron error' });
  check(await cron.getAttribute('aria-invalid') === 'true', 'the cron field is marked invalid');
  await cron.fill('0 4 * * *');
  await eventually(async () => /^every day at 04:00/.test(await page.getByTestId('cron-preview').innerText()),
    { what: 'the live cron preview' });
  await page.getByLabel('Time zone').selectOption('Europe/Berlin');
  // A dev server has no game console: no command action, a backup task.
  const actions = await page.getByLabel('Action of task 1').locator('option').evaluateAll((os) => os.map((o) => o.value));
  check(!actions.includes('command') && actions.includes('backup'), `dev task actions: ${actions}`);
  await page.getByLabel('Action of task 1').selectOption('backup');
  await shot(page, 'schedule-form');
  await page.getByRole('button', { name: 'Save schedule' }).click();
  await page.getByText('Schedule nightly saved.').waitFor();
  const r = await page.request.get(`${api.base}/api/servers/${id}/schedules`);
  check(r.ok(), `GET schedules: ${r.status()}`);
  const s = (await r.json()).schedules.find((x) => x.name === 'nightly');
  check(s && s.cron === '0 4 * * *' && s.timezone === 'Europe/Berlin' && s.enabled, `stored: ${JSON.stringify(s)}`);
  check(typeof s.next_run_at === 'number' && s.next_run_at > Date.now(), `a next run in the future: ${s.next_run_at}`);
  const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .format(new Date(s.next_run_at));
  check(berlin === '04:00', `the next run is 04:00 in Berlin, got ${berlin}`);
  const card = page.getByTestId(`schedule-${s.id}`);
  check((await page.getByTestId(`schedule-preview-${s.id}`).innerText()) === 'every day at 04:00', 'the card preview');
  const next = (await page.getByTestId(`schedule-next-${s.id}`).innerText()).trim();
  check(next && next !== '—', `the card shows the next run: ${next}`);
  step(`schedule ${s.id}: next run ${new Date(s.next_run_at).toISOString()} (${next} in the browser)`);

  // Run now: the run and its task's result appear in the card.
  await card.getByRole('button', { name: 'Run nightly now' }).click();
  await waitFor(async () => [await card.locator('.run-list').innerText().catch(() => '')], /^ok\b/, /failed/,
    'the run to show ok', 180000);
  await shot(page, 'schedule-ran');
  step('ran now: the backup task ok');
}

export default async function ({ api, browser, step, shot, track }) {
  const page = track(await newPage(browser));
  await register(page, api, { email: 'bea@example.com', username: 'bea', password: 'bea-password-1' });
  const id = await createServer(page, api, step);
  await writeFile(page, api, id, 'marker.txt', 'before\n');
  const b = await backupAndDownload(page, api, id, shot, step);
  await restore(page, api, id, b, shot, step);
  await schedule(page, api, id, shot, step);
}
