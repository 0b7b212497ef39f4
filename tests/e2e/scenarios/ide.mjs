// (5) The real browser IDE: code-server from the demo store (the npm
// package on its own Node, packed by `zlhctl demo-store`) in a dev server,
// on the lxc driver when ZLH_E2E_DRIVER=lxc, reached from the portal through
// the ticket handoff on the server's own IDE origin:
//   portal → Open IDE → the workbench renders;
//   a file written through the file API shows in the explorer, opens in the editor, is edited and
//   saved with Ctrl+S, and the file API returns the new content;
//   the integrated terminal: id -un → dev, pwd → /home/dev/workspace,
//   node --version → the server's catalog version;
//   python3 -m http.server 3000 → the Ports card lists 3000 → Open shows the
//   listing (and through code-server's own /proxy/3000/); a page served
//   through port preview that fetches the API's
//   /api/servers with credentials gets no data.
// Screenshots go to build/e2e-artifacts/ide-*.png.
import path from 'node:path';
import { check, env, eventually, newPage, sleep } from '../lib.mjs';
import { register } from './common.mjs';

export const slot = 4;
export const deadlineSeconds = 540;

// The demo store (tests/integration: demo_store_fixture) holds the real code-server.
export async function apiOptions() {
  const demo = process.env.ZLH_DEMO_DIR || path.join(path.dirname(env.store), 'demo');
  return { store: { artifacts: path.join(demo, 'artifacts'), catalogKey: path.join(demo, 'keys', 'catalog.pub') } };
}

// The text of code-server's integrated terminal (xterm's DOM renderer).
async function termText(page) {
  const t = await page.locator('.terminal .xterm-rows').last().innerText().catch(() => '');
  return t.replace(/\u00a0/g, ' ');
}

// Types a command into the terminal and waits for its output. The keys go
// to xterm's input element, focused first; a command whose keys were lost
// (the terminal still settling, on a loaded machine) is typed again.
async function runInTerminal(page, command, re, what) {
  for (let attempt = 1; ; attempt++) {
    const input = page.locator('.terminal .xterm-helper-textarea').last();
    await input.focus();
    if (attempt > 1) {
      // Whatever a lost key left behind (half a line, an open quote) goes.
      await page.keyboard.press('Control+C');
      await sleep(300);
    }
    await page.keyboard.type(command, { delay: 15 });
    await page.keyboard.press('Enter');
    try {
      return await eventually(async () => re.exec(await termText(page)), { timeout: 15000, what });
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

export default async function ({ api, browser, step, shot, track }) {
  const page = track(await newPage(browser, { width: 1400, height: 900 }));
  await register(page, api, { email: 'ivy@example.com', username: 'ivy', password: 'ivy-password-1' });
  const h = { 'X-ZLH-CSRF': '1' };

  // A dev server with the catalog's code-server.
  const catalog = await (await page.request.get(api.base + '/api/catalog/dev')).json();
  const node = catalog.runtimes.find((r) => r.id === 'node');
  const nodeVersion = (node.versions.find((v) => v.default) || node.versions[0]).version;
  const cs = (catalog.addons || []).find((a) => a.id === 'code-server');
  check(cs, `the demo store offers code-server (${JSON.stringify(catalog.addons || [])})`);
  const created = await page.request.post(api.base + '/api/servers', {
    headers: h, data: { type: 'dev', name: 'ide', runtime: 'node', version: nodeVersion, enable_code_server: true },
  });
  check(created.status() === 202, `create: ${created.status()} ${await created.text()}`);
  const id = (await created.json()).id;
  const server = await eventually(async () => {
    const d = await (await page.request.get(`${api.base}/api/servers/${id}`)).json();
    if (d.state === 'error') throw new Error(`provisioning failed: ${JSON.stringify(d)}`);
    return d.state === 'ready' && d;
  }, { timeout: 300000, every: 1000, what: 'the server with code-server to be ready' });
  const vmid = server.vmid;
  step(`server ${id} (vmid ${vmid}) ready with code-server ${cs.versions?.[0]?.version || ''}`);

  // Workspace settings for the test: xterm's DOM renderer (readable rows).
  const write = async (p, body) => {
    const r = await page.request.put(`${api.base}/api/servers/${id}/files/write?path=${encodeURIComponent(p)}`,
      { headers: h, data: body });
    check(r.status() === 200, `write ${p}: ${r.status()} ${await r.text()}`);
  };
  const read = async (p) => (await page.request.get(`${api.base}/api/servers/${id}/files/read?path=${encodeURIComponent(p)}`)).text();
  await page.request.post(`${api.base}/api/servers/${id}/files/mkdir`, { headers: h, data: { path: '.vscode' } });
  await write('.vscode/settings.json', JSON.stringify({
    'terminal.integrated.gpuAcceleration': 'off', 'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false, 'chat.disableAIFeatures': true,
  }));
  await write('hello.txt', 'hello from the file API\n');

  // Portal → Open IDE → a new tab on the server's own origin → the workbench.
  await page.goto(`${api.base}/servers/${id}`);
  const t0 = Date.now();
  const [ide] = await Promise.all([
    page.context().waitForEvent('page'),
    page.getByRole('button', { name: 'Open IDE' }).click(),
  ]);
  track(ide);
  ide.setDefaultTimeout(60000);
  await ide.waitForURL((u) => /^\/dev\/\d+\/ide\/$/.test(u.pathname) && !u.search.includes('zlh_ticket'));
  check(new URL(ide.url()).origin === api.ideOrigin(vmid), `the IDE on its own origin (${ide.url()})`);
  await ide.locator('.monaco-workbench').waitFor({ timeout: 90000 });
  await ide.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: 90000 });
  step(`workbench rendered in ${Date.now() - t0} ms`);
  await shot(ide, 'workbench');

  // The file from the file API: open it from the explorer, edit, Ctrl+S, read back.
  await ide.locator('.explorer-folders-view .monaco-list-row', { hasText: 'hello.txt' }).dblclick();
  const editor = ide.locator('.editor-instance .monaco-editor .view-lines').first();
  // Monaco renders spaces as U+00A0.
  await eventually(async () => /hello from the file API/.test((await editor.innerText()).replace(/\u00a0/g, ' ')),
    { what: 'the file in the editor' });
  await editor.click();
  await ide.keyboard.press('Control+End');
  await ide.keyboard.type('edited in code-server');
  await ide.keyboard.press('Control+S');
  await eventually(async () => /edited in code-server/.test(await read('hello.txt')),
    { timeout: 20000, what: 'the file API to return the saved content' });
  check((await read('hello.txt')) === 'hello from the file API\nedited in code-server', 'the saved bytes');
  await shot(ide, 'editor-saved');
  step('file API → editor → Ctrl+S → file API');

  // The integrated terminal runs as dev in the workspace, on the catalog's Node.
  await ide.keyboard.press('Control+Backquote');
  await ide.locator('.terminal .xterm-screen').last().waitFor({ timeout: 60000 });
  await eventually(async () => /\$\s*$/m.test(await termText(ide)), { timeout: 60000, what: 'a shell prompt' });
  await sleep(500);  // the shell's first prompt is drawn before its line editor takes keys
  await runInTerminal(ide, 'echo "user=$(id -un)"', /user=dev\b/, 'id -un = dev');
  await runInTerminal(ide, 'echo "dir=$(pwd)"', /dir=\/home\/dev\/workspace\b/, 'pwd = the workspace');
  const nv = await runInTerminal(ide, 'echo "node=$(node --version)"', /node=v(\d+\.\d+\.\d+)/, 'node --version');
  check(nv[1] === nodeVersion, `node --version ${nv[1]} is the catalog's ${nodeVersion}`);
  await shot(ide, 'terminal');
  step(`terminal: dev, /home/dev/workspace, node v${nodeVersion}`);

  // A hostile page in the workspace, served by the user's own web server
  // through port preview: it tries to read the API with the user's cookies.
  await write('probe.html', `<!doctype html><title>probe</title><script>
fetch(${JSON.stringify(api.base + '/api/servers')}, { credentials: 'include' })
  .then((r) => r.text()).then((t) => { document.title = 'got:' + t.slice(0, 200); })
  .catch((e) => { document.title = 'blocked:' + e.name; });
</script>`);
  await runInTerminal(ide, 'python3 -m http.server 3000', /Serving HTTP on .* port 3000/, 'http.server on 3000');

  // The portal's Ports card lists 3000; Open shows the listing.
  await page.bringToFront();
  const open3000 = page.getByRole('button', { name: 'Open port 3000' });
  await open3000.waitFor({ timeout: 30000 });
  await shot(page, 'ports-card');
  const [preview] = await Promise.all([page.context().waitForEvent('page'), open3000.click()]);
  track(preview);
  await preview.waitForURL((u) => u.pathname === `/dev/${vmid}/port/3000/` && !u.search.includes('zlh_ticket'));
  check(new URL(preview.url()).origin === api.ideOrigin(vmid), `port preview on the server's origin (${preview.url()})`);
  await eventually(async () => /Directory listing for \//.test(await preview.locator('body').innerText()),
    { what: 'the listing of the workspace' });
  check(/probe\.html/.test(await preview.locator('body').innerText()), 'the listing shows the workspace');
  await shot(preview, 'port-preview');
  step('Ports card → Open → the listing through port preview');

  // code-server's own /proxy/<port>/ keeps working (the same cookie).
  await preview.goto(`${api.ideOrigin(vmid)}/dev/${vmid}/ide/proxy/3000/`);
  await eventually(async () => /Directory listing for \//.test(await preview.locator('body').innerText()),
    { what: "the listing through code-server's /proxy/3000/" });
  step("code-server's /proxy/3000/ works too");

  // The probe page gets nothing from the API.
  await preview.goto(`${api.ideOrigin(vmid)}/dev/${vmid}/port/3000/probe.html`);
  const title = await eventually(async () => {
    const t = await preview.title();
    return t !== 'probe' && t;
  }, { what: 'the probe to finish' });
  check(!title.startsWith('got:') || !/"servers"/.test(title), `the probe read the API: ${title}`);
  check(title.startsWith('blocked:'), `the probe's fetch is refused (${title})`);
  await shot(preview, 'probe-blocked');
  step(`a page on the IDE origin cannot read the API (${title})`);
  // Give the terminal's server a clean end before the container goes.
  await ide.keyboard.press('Control+C');
  await sleep(200);
}
