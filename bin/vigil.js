#!/usr/bin/env node
// The `vigil` command line. Runs the compiled CLI (npm run build).
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli')) {
    console.error('vigil: not built yet; run `npm run build` first');
    process.exit(1);
  }
  throw err;
});
