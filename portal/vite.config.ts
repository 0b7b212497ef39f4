import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The portal is served by zlh-api at / (DESIGN §11): absolute /assets/ paths.
// `npm run dev` proxies the API to a local zlh-api (ZLH_API, default :18300).
const api = process.env.ZLH_API ?? 'http://127.0.0.1:18300';

export default defineConfig({
  base: '/',
  plugins: [preact({ devtoolsInProd: false, prefreshEnabled: false })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 600,
    // xterm in a chunk of its own (loaded by the console tab only), so the
    // bundle budget (250 KiB gzip without xterm, bench/portal.sh) is
    // measurable; uPlot likewise (loaded with the Overview's live stats).
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes('/node_modules/@xterm/')) return 'xterm';
          if (id.includes('/node_modules/uplot/')) return 'uplot';
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: api, ws: true, changeOrigin: false },
      '/dev': { target: api, ws: true, changeOrigin: false },
    },
  },
});
