// Time to interactive of the portal's server list (bench/portal.sh).
// usage: node bench/portal_tti.mjs BASE TOKEN ROWS RUNS
// Each run is a cold load in a new browser context (no cache) with the
// session cookie: navigation start → ROWS rows in the list, and TTI =
// the later of that and the end of the last long task (> 50 ms) seen
// within 1 s after. Prints "run <i> rows_ms <x> tti_ms <y> fcp_ms <z>".
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/e2e/package.json'));
const { chromium } = require('playwright-core');

const [base, token, rows, runs] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5] || 5)];
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  for (let i = 1; i <= runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addCookies([{ name: 'zlh_session', value: token, url: base }]);
    await ctx.addInitScript(() => {
      window.__lt = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__lt.push(e.startTime + e.duration); })
        .observe({ type: 'longtask', buffered: true });
    });
    const page = await ctx.newPage();
    await page.goto(base + '/', { waitUntil: 'commit' });
    // The time is taken in the page, in the frame the rows are first there.
    const handle = await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid^="state-"]').length >= n && performance.now(), rows,
      { polling: 'raf', timeout: 60000 });
    const rowsMs = await handle.jsonValue();
    await page.waitForTimeout(1000);
    const { lastLong, fcp } = await page.evaluate(() => ({
      lastLong: Math.max(0, ...window.__lt),
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? 0,
    }));
    console.log(`run ${i} rows_ms ${rowsMs.toFixed(1)} tti_ms ${Math.max(rowsMs, lastLong).toFixed(1)} fcp_ms ${fcp.toFixed(1)}`);
    await ctx.close();
  }
} finally {
  await browser.close();
}
