/**
 * The dashboard's build: `vite build web` writes web/dist/, which `vigil serve` serves at `/`.
 * `vite web` runs a dev server that proxies the API to a local `vigil serve` (port 4870).
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { '/v1': { target: 'http://127.0.0.1:4870', ws: true } } },
});
