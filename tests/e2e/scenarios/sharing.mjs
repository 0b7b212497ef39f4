// (issue 24) Live stats, sharing and activity against the real stack:
// ann creates a game server → its Overview draws CPU, memory and network
// charts that gain points as samples arrive (over the stats stream), and
// the list shows its CPU and memory → ann invites bob with `console` only
// from the Members tab → bob's list marks the server shared by ann; bob has
// Console but no Files, Members or power buttons, types into the console,
// and a files call from his page is refused 403 naming files.read → the
// Activity tab shows what each did → ann offers the server to bob, bob
// accepts from his list: he owns it, ann no longer sees it.
import { check, eventually, newPage } from '../lib.mjs';
import { register, serverIdFromUrl, waitPageState, waitTerminal } from './common.mjs';

export const slot = 6;
export const deadlineSeconds = 480;

const PERMS = ['Console', 'Read files', 'Write files', 'Power', 'Backups', 'Schedules', 'IDE and ports', 'Settings'];

async function createGame(page, step) {
  await page.getByRole('link', { name: 'Create server' }).first().click();
  await page.getByLabel('Game', { exact: true }).first().check();
  await page.getByLabel('Name').fill('shared-mc');
  await page.getByLabel('Game', { exact: true }).last().selectOption('minecraft');
  await page.getByLabel('Variant').selectOption('paper');
  await page.getByLabel('Version').selectOption('1.21.4');
  await page.getByLabel('Memory (MB)').fill('1024');
  await page.getByLabel('I accept the Minecraft EULA').check();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/servers\/\d+/);
  const id = serverIdFromUrl(page);
  await waitPageState(page, 'running', 180000);
  step(`server ${id} running`);
  return id;
}

const points = (page, chart) =>
  page.getByTestId(chart).getAttribute('data-points').then(Number).catch(() => 0);

// The charts exist, draw on a canvas and gain points as samples arrive.
async function liveCharts(page, api, id, shot, step) {
  for (const c of ['chart-cpu', 'chart-memory', 'chart-net']) {
    await eventually(async () => (await points(page, c)) >= 1, { timeout: 60000, what: `${c} to have a point` });
    check(await page.getByTestId(c).locator('canvas').count() >= 1, `${c} draws on a canvas`);
  }
  const before = await points(page, 'chart-cpu');
  await eventually(async () => (await points(page, 'chart-cpu')) > before && (await points(page, 'chart-net')) > before,
    { timeout: 30000, what: `the charts to gain points past ${before}` });
  await eventually(async () => (await page.getByTestId('stats-feed').innerText()) === 'live',
    { timeout: 30000, what: 'the stats stream to be live' });
  const streamed = await points(page, 'chart-cpu');
  await eventually(async () => (await points(page, 'chart-cpu')) > streamed,
    { timeout: 30000, what: `a streamed sample past ${streamed}` });
  const mem = await page.getByTestId('chart-memory-now').innerText();
  check(/\d/.test(mem), `the memory chart shows a value: ${mem}`);
  check(/Memory limit/.test(await page.getByTestId('limits').innerText()), 'the limits are listed');
  const r = await page.request.get(`${api.base}/api/servers/${id}/stats`);
  check(r.ok(), `GET stats: ${r.status()}`);
  const n = (await r.json()).samples.length;
  await shot(page, 'stats-charts');
  step(`charts: ${before} → ${await points(page, 'chart-cpu')} points (stream live; GET stats has ${n})`);

  // The list's CPU and memory cells.
  await page.getByRole('link', { name: 'Servers', exact: true }).first().click();
  await page.waitForURL((u) => u.pathname === '/');
  await eventually(async () => /\d/.test(await page.getByTestId(`memory-${id}`).innerText()),
    { timeout: 30000, what: 'the list to show the memory' });
  const cpu = await page.getByTestId(`cpu-${id}`).innerText();
  check(/^(\d+(\.\d)? %|—)$/.test(cpu.trim()), `the CPU cell: ${cpu}`);
  step(`list: cpu ${cpu.trim()}, memory ${await page.getByTestId(`memory-${id}`).innerText()}`);
  await page.goto(`${api.base}/servers/${id}`);
}

async function invite(page, api, id, shot, step) {
  await page.getByRole('link', { name: 'Members' }).click();
  const form = page.locator('form', { has: page.getByRole('heading', { name: 'Invite a member' }) });
  await form.waitFor();
  // An unknown user: said under the field, nothing added.
  await form.getByLabel('Username or email').fill('nobody-here');
  await form.getByRole('button', { name: 'Invite' }).click();
  await eventually(async () => /no user "nobody-here"/.test(await form.innerText()), { what: 'the unknown user error' });
  await form.getByLabel('Username or email').fill('bob');
  for (const p of PERMS) await form.getByLabel(p, { exact: true }).setChecked(p === 'Console');
  await form.getByRole('button', { name: 'Invite' }).click();
  const perms = page.getByTestId('member-perms-bob');
  await eventually(async () => (await perms.innerText()).trim() === 'Console', { what: 'bob listed with Console' });
  const r = await page.request.get(`${api.base}/api/servers/${id}/members`);
  check(r.ok(), `GET members: ${r.status()}`);
  const m = (await r.json()).members.find((x) => x.username === 'bob');
  check(m && JSON.stringify(m.permissions) === '["console"]', `bob stored with console only: ${JSON.stringify(m)}`);
  await shot(page, 'members');
  step('bob invited with console only');
}

async function asMember(bob, api, id, shot, step) {
  await bob.goto(api.base + '/');
  const mark = bob.getByTestId(`shared-${id}`);
  await mark.waitFor();
  const text = await mark.innerText();
  check(/shared/.test(text) && /ann/.test(text), `the list marks it shared by ann: ${text}`);
  check(await bob.getByRole('button', { name: /^(Start|Stop) shared-mc$/ }).count() === 0, 'no power buttons in the list');
  await shot(bob, 'member-list');

  await bob.getByRole('link', { name: 'shared-mc', exact: true }).click();
  await bob.getByTestId('shared-note').waitFor();
  const tabs = await bob.getByRole('navigation', { name: 'Server sections' }).getByRole('link').allInnerTexts();
  check(JSON.stringify(tabs) === JSON.stringify(['Overview', 'Console', 'Activity']), `bob's tabs: ${JSON.stringify(tabs)}`);
  check(await bob.getByRole('heading', { name: 'Power' }).count() === 0, 'no power card');
  check(await bob.getByRole('heading', { name: 'Danger zone' }).count() === 0, 'no delete');
  step(`bob's tabs: ${tabs.join(', ')}`);

  await bob.getByRole('link', { name: 'Console' }).click();
  await eventually(async () => (await bob.getByTestId('console-status').innerText()) === 'connected',
    { what: "bob's console to connect" });
  await waitTerminal(bob, /Done \(/, 'the ready line');
  await bob.getByTestId('console').click();
  await bob.keyboard.type('say from-bob\n');
  await waitTerminal(bob, /\[Server\] from-bob/, '"[Server] from-bob"');
  await shot(bob, 'member-console');
  step('bob typed into the console');

  // Files: refused by zlh-api (403 naming the permission), and the page
  // says why instead of a file list.
  const refused = await bob.evaluate(async (sid) => {
    const r = await fetch(`/api/servers/${sid}/files/list?path=`, { credentials: 'same-origin' });
    return { status: r.status, body: await r.json().catch(() => null) };
  }, id);
  check(refused.status === 403 && refused.body?.error?.code === 'E_FORBIDDEN', `files list as bob: ${JSON.stringify(refused)}`);
  check(/files\.read/.test(refused.body.error.message), `the refusal names files.read: ${refused.body.error.message}`);
  await bob.goto(`${api.base}/servers/${id}/files`);
  await bob.getByTestId('tab-forbidden').waitFor();
  check(/"files\.read"/.test(await bob.getByTestId('tab-forbidden').innerText()), 'the Files page names the permission');
  step('bob: files 403 E_FORBIDDEN (files.read)');
}

// The Activity tab: the actions with their actors.
async function activity(page, api, id, shot, step) {
  await page.goto(`${api.base}/servers/${id}/activity`);
  const table = page.getByTestId('activity-table');
  const row = (action, who, re) => async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    const rows = await table.locator(`tr[data-action="${action}"]`).allInnerTexts();
    return rows.some((t) => t.includes(who) && (!re || re.test(t)));
  };
  await eventually(row('console.command', 'bob', /say from-bob/), { timeout: 30000, every: 1000, what: 'console.command by bob' });
  await eventually(row('member.add', 'ann'), { what: 'member.add by ann' });
  await eventually(row('server.create', 'ann'), { what: 'server.create by ann' });
  const from = await table.locator('tr[data-action="console.command"] td[data-label="From"]').first().innerText();
  check(/\d+\.\d+\.\d+\.\d+|:/.test(from), `the address is shown: ${from}`);
  await shot(page, 'activity');
  step('activity: server.create and member.add by ann, console.command by bob');
}

async function transfer(ann, bob, api, id, shot, step) {
  await ann.goto(`${api.base}/servers/${id}/members`);
  await ann.getByLabel('New owner (username or email)').fill('bob@example.com');
  await ann.getByRole('button', { name: 'Offer the server' }).click();
  await ann.getByRole('dialog').getByRole('button', { name: 'Offer', exact: true }).click();
  await ann.getByTestId('transfer-offer').waitFor();
  check(/bob/.test(await ann.getByTestId('transfer-offer').innerText()), 'the offer names bob');

  await bob.goto(api.base + '/');
  await bob.getByTestId(`offer-${id}`).waitFor({ timeout: 30000 });
  await shot(bob, 'transfer-offer');
  await bob.getByRole('button', { name: 'Accept shared-mc' }).click();
  await bob.waitForURL((u) => u.pathname === `/servers/${id}`);
  await eventually(async () => (await bob.getByTestId('shared-note').count()) === 0
      && (await bob.getByRole('link', { name: 'Members' }).count()) === 1,
    { what: 'bob to be the owner (no shared note, a Members tab)' });
  const gone = await ann.evaluate(async (sid) => (await fetch(`/api/servers/${sid}`)).status, id);
  check(gone === 404, `ann no longer sees the server: ${gone}`);
  step('transfer: offered by ann, accepted by bob; ann lost access');
}

export default async function ({ api, browser, step, shot, track }) {
  const bob = track(await newPage(browser));
  await register(bob, api, { email: 'bob@example.com', username: 'bob', password: 'bob-password-1' });
  const ann = track(await newPage(browser));
  await register(ann, api, { email: 'ann@example.com', username: 'ann', password: 'ann-password-1' });
  const id = await createGame(ann, step);
  await liveCharts(ann, api, id, shot, step);
  await invite(ann, api, id, shot, step);
  await asMember(bob, api, id, shot, step);
  await activity(ann, api, id, shot, step);
  await transfer(ann, bob, api, id, shot, step);
}
