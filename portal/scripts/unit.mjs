// Unit tests of the portal's logic: every src/**/*_test.ts, loaded in Node
// through vite's module loader (TypeScript without a build, no extra
// package). A test file exports `tests`, named functions that throw (or
// reject) on failure. Exit status 1 when any test fails.
//
//   npm test
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return testFiles(p);
    return e.name.endsWith('_test.ts') ? [p] : [];
  });
}

const vite = await createServer({
  root,
  configFile: false,
  logLevel: 'error',
  appType: 'custom',
  server: { middlewareMode: true, hmr: false, ws: false },
  optimizeDeps: { noDiscovery: true, include: [] },
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
});

let passed = 0;
let failed = 0;
try {
  for (const file of testFiles(join(root, 'src')).sort()) {
    const name = relative(root, file);
    const mod = await vite.ssrLoadModule('/' + name);
    for (const [title, fn] of Object.entries(mod.tests ?? {})) {
      try {
        await fn();
        passed++;
        console.log(`ok   ${name}: ${title}`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${name}: ${title}\n     ${e instanceof Error ? e.message : e}`);
      }
    }
  }
} finally {
  await vite.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
