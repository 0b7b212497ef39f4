// Runs one browser scenario: node tests/e2e/run.mjs <name>
// (tests/e2e/scenarios/<name>.mjs exports `slot` and a default async
// function({api, browser, step, shot})). Exit 0 on success. On failure the
// pages' screenshots, the scenario's data dir and zlh-api's log are kept
// and named.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, shot as takeShot, startApi } from './lib.mjs';

const name = process.argv[2];
if (!name) {
  console.error('usage: run.mjs <scenario>');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const mod = await import(path.join(here, 'scenarios', `${name}.mjs`));

const t0 = Date.now();
const step = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
let api = null;
let browser = null;
const pages = [];
let failed = false;
const overall = setTimeout(() => {
  console.error(`scenario ${name}: overall deadline passed`);
  process.exit(1);
}, (mod.deadlineSeconds || 240) * 1000);
try {
  api = await startApi({ name, slot: mod.slot, ...(mod.apiOptions ? await mod.apiOptions() : {}) });
  step(`zlh-api at ${api.base} (data ${api.dir})`);
  browser = await launch();
  await mod.default({
    api, browser, step,
    shot: (page, n) => takeShot(page, name, n),
    track: (page) => { pages.push(page); return page; },
  });
  for (const p of pages) {
    if (p.errors?.length) throw new Error(`errors in the page: ${p.errors.join(' | ')}`);
  }
  step('passed');
} catch (e) {
  failed = true;
  console.error(`scenario ${name} FAILED: ${e.stack || e}`);
  for (const [i, p] of pages.entries()) {
    try {
      if (!p.isClosed()) console.error(`  page ${i} at ${p.url()}: screenshot ${await takeShot(p, name, `failure-${i}`)}`);
      if (p.errors?.length) console.error(`  page ${i} errors: ${p.errors.join(' | ')}`);
    } catch {}
  }
  if (api) console.error(`--- zlh-api log (tail) ---\n${api.log().split('\n').slice(-40).join('\n')}`);
} finally {
  clearTimeout(overall);
  if (browser) await browser.close().catch(() => {});
  if (api) {
    await (mod.cleanup ? mod.cleanup(api).catch(() => {}) : Promise.resolve());
    await api.stop({ keep: failed });
    if (failed) console.error(`kept ${api.dir}`);
  }
}
process.exit(failed ? 1 : 0);
