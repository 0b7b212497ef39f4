// (3) a second user sees none of the first user's servers and gets no
// ticket for their IDE (and 404 at their server page and API routes).
import { call, check, eventually, newPage } from '../lib.mjs';
import { register } from './common.mjs';

export const slot = 2;

export default async function ({ api, browser, step, shot, track }) {
  // The first user, set up over the API: a dev server with code-server.
  const ann = await call(api, 'POST', '/api/auth/register',
    { body: { email: 'ann@example.com', username: 'ann', password: 'ann-password-1' } });
  check(ann.status === 201, `register ann: ${ann.text}`);
  const token = ann.json.token;
  const catalog = await call(api, 'GET', '/api/catalog/dev', { token });
  const node = catalog.json.runtimes.find((r) => r.id === 'node');
  const created = await call(api, 'POST', '/api/servers', {
    token,
    body: { type: 'dev', name: 'ann-secret', runtime: 'node', version: node.versions[0].version, enable_code_server: true },
  });
  check(created.status === 202, `create: ${created.text}`);
  const id = created.json.id;
  const vmid = await eventually(async () => {
    const d = await call(api, 'GET', `/api/servers/${id}`, { token });
    if (d.json.state === 'error') throw new Error(`provisioning failed: ${d.text}`);
    return d.json.state === 'ready' && d.json.vmid;
  }, { timeout: 180000, what: "ann's server to be ready" });
  // Ann herself reaches her IDE: the bookmark-style URL on the IDE origin
  // goes through the portal for a ticket and back.
  const annPage = track(await newPage(browser));
  await annPage.context().addCookies([{ name: 'zlh_session', value: token, url: api.base }]);
  const ideUrl = `${api.ideOrigin(vmid)}/dev/${vmid}/ide/`;
  await annPage.goto(ideUrl);
  await eventually(async () => (await annPage.title()) === 'stand-in code-server', { what: "ann's IDE" });
  check(annPage.url() === ideUrl, `ann lands on her IDE without the ticket in the URL (${annPage.url()})`);
  step(`ann's server ${id} (vmid ${vmid}) ready, her IDE answers`);

  // Bob, in the browser.
  const page = track(await newPage(browser));
  await register(page, api, { email: 'bob@example.com', username: 'bob', password: 'bob-password-1' });
  await eventually(async () => (await page.locator('main').innerText()).length > 0, { what: 'the list' });
  check(!(await page.locator('main').innerText()).includes('ann-secret'), "bob's list does not show ann's server");
  await shot(page, 'bob-list');
  const list = await (await page.request.get(api.base + '/api/servers')).json();
  check((list.servers || list).length === 0, "bob's API list is empty");
  // Ann's IDE URL sends bob to the portal for a ticket, which is refused
  // like a server that does not exist; he never sees her IDE.
  await page.goto(`${api.ideOrigin(vmid)}/dev/${vmid}/ide/`);
  await page.waitForURL((u) => u.origin === api.base && u.pathname === `/servers/${id}/ide`);
  await eventually(async () => /not found/i.test(await page.locator('main').innerText()), { what: "bob's not-found" });
  check(!(await page.locator('main').innerText()).includes('ann-secret'), 'nothing of ann is shown');
  check((await page.context().cookies(`${api.ideOrigin(vmid)}/dev/${vmid}/ide/`)).length === 0, "bob got no IDE cookie");
  const bobTicket = await page.request.post(`${api.base}/api/servers/${id}/ide-ticket`,
    { headers: { 'X-ZLH-CSRF': '1' }, data: {} });
  check(bobTicket.status() === 404, `bob's ticket for ann's server: 404 (got ${bobTicket.status()})`);
  await shot(page, 'bob-ide-404');
  check((await page.request.get(`${api.base}/api/servers/${id}`)).status() === 404, "bob: ann's server is 404");
  await page.goto(`${api.base}/servers/${id}`);
  await eventually(async () => /not found/i.test(await page.locator('main').innerText()), { what: 'a not-found page' });
  await shot(page, 'bob-server-404');
  step("bob sees nothing of ann's");

  // Keyboard only: ann logs in with Tab/typing/Enter, and the focused
  // control is visibly marked.
  const kb = track(await newPage(browser));
  await kb.goto(`${api.base}/login`);
  let focused = null;
  for (let i = 0; i < 10 && focused !== 'login-identifier'; i++) {
    await kb.keyboard.press('Tab');
    focused = await kb.evaluate(() => document.activeElement?.id || null);
  }
  check(focused === 'login-identifier', 'Tab reaches the identifier field');
  const ring = await kb.evaluate(() => {
    const st = getComputedStyle(document.activeElement);
    return { outline: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0, shadow: st.boxShadow !== 'none' };
  });
  check(ring.outline || ring.shadow, `a visible focus ring (${JSON.stringify(ring)})`);
  await shot(kb, 'login-keyboard-focus');
  await kb.keyboard.type('ann');
  await kb.keyboard.press('Tab');
  check(await kb.evaluate(() => document.activeElement?.id) === 'login-password', 'Tab moves on to the password');
  await kb.keyboard.type('ann-password-1');
  await kb.keyboard.press('Enter');
  await kb.waitForURL((u) => u.pathname === '/');
  await kb.getByRole('link', { name: 'ann-secret', exact: true }).waitFor();
  await shot(kb, 'ann-list');
  step('keyboard-only login, focus ring visible');
}
