// Steps the scenarios share.
import { check, eventually } from '../lib.mjs';

export async function register(page, api, { email, username, password }) {
  await page.goto(api.base + '/register');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL((u) => u.pathname === '/', { timeout: 20000 });
}

// The text xterm.js shows (its DOM renderer keeps the visible rows as text).
export async function terminalText(page) {
  return page.locator('[data-testid="console"] .xterm-rows').innerText().catch(() => '');
}

export async function waitTerminal(page, re, what, timeout = 30000) {
  return eventually(async () => re.test(await terminalText(page)), { timeout, what: `the console to show ${what}` });
}

// The state badge next to the server's name on its page.
export function pageState(page) {
  return page.locator('h1 .badge');
}

export async function waitPageState(page, state, timeout = 120000) {
  await eventually(async () => (await pageState(page).innerText()).trim() === state,
    { timeout, what: `the server page to show state ${state}` });
}

// Records every value a progressbar reached from now on (bars may be
// short-lived on loopback).
export async function watchProgress(page) {
  await page.evaluate(() => {
    window.__progress = [];
    const seen = () => document.querySelectorAll('[role=progressbar]').forEach((b) => {
      window.__progress.push(Number(b.getAttribute('aria-valuenow')));
    });
    seen();
    new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
}

export async function progressSeen(page) {
  return page.evaluate(() => window.__progress || []);
}

export function serverIdFromUrl(page) {
  const m = new URL(page.url()).pathname.match(/^\/servers\/(\d+)/);
  check(m, `a server page URL, got ${page.url()}`);
  return Number(m[1]);
}
