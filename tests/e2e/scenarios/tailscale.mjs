// (4) the Tailscale page against the fake Headscale: generate keys, the
// instructions with the device key, the constraints.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { check, env, eventually, newPage } from '../lib.mjs';
import { register, serverIdFromUrl, waitPageState } from './common.mjs';

export const slot = 3;

let fake = null;
let fakeDir = null;
let fakePort = null;
const apiKey = `hs-e2e-${Math.random().toString(16).slice(2)}`;

export async function apiOptions() {
  fakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zlh-e2e-hs-'));
  const portFile = path.join(fakeDir, 'port');
  fake = spawn('python3', ['-u', path.join(env.repo, 'tests/fixtures/fake_headscale.py'), '--version', '0.26',
    '--api-key', apiKey, '--host', '127.0.0.1', '--port', '0', '--port-file', portFile], { stdio: 'ignore' });
  const port = await eventually(() => fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim(),
    { timeout: 10000, what: 'the fake Headscale' });
  fakePort = port;
  const keyFile = path.join(fakeDir, 'api.key');
  fs.writeFileSync(keyFile, apiKey + '\n', { mode: 0o600 });
  return {
    extraArgs: ['--headscale-url', `http://127.0.0.1:${port}`, '--headscale-api-key-file', keyFile,
      '--headscale-version', '0.26', '--headscale-login-url', 'https://hs.example.test'],
  };
}

export async function cleanup() {
  if (fake) fake.kill('SIGTERM');
  if (fakeDir) fs.rmSync(fakeDir, { recursive: true, force: true });
}

export default async function ({ api, browser, step, shot, track }) {
  const page = track(await newPage(browser));
  await register(page, api, { email: 'tia@example.com', username: 'tia', password: 'tia-password-1' });
  await page.getByRole('link', { name: 'Create server' }).first().click();
  await page.getByLabel('Dev', { exact: true }).check();
  await page.getByLabel('Name').fill('box');
  await page.getByLabel('Runtime').selectOption('node');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/servers\/\d+/);
  const id = serverIdFromUrl(page);
  await waitPageState(page, 'running');
  await page.getByRole('link', { name: 'Tailscale' }).click();
  await page.getByRole('button', { name: 'Generate keys' }).click();
  const key = await eventually(async () => {
    const t = (await page.getByTestId('device-key').innerText()).trim();
    return t.length > 10 && t;
  }, { what: 'the device key' });
  const text = await page.locator('main').innerText();
  check(text.includes(`tailscale up --login-server https://hs.example.test --authkey ${key}`), 'the tailscale up command with the key');
  check(/ssh dev@/.test(text), 'the ssh step');
  check(/MagicDNS/.test(text) && /exit node/i.test(text), 'the constraints (no MagicDNS, no exit nodes)');
  await shot(page, 'tailscale');
  // The key came from the fake Headscale.
  const state = await (await fetch(`http://127.0.0.1:${fakePort}/_fake/state`)).json();
  check(JSON.stringify(state).includes(key), 'the device key is one the fake Headscale issued');
  step(`server ${id}: device key shown with the instructions`);
}
