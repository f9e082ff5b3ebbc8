/**
 * `npm run bench [-- name…]`: runs the benchmarks one after another, each in its own process, and
 * prints their figures. Names: ingest, overhead (default), and any other bench/<name>.ts
 * (e.g. `npm run bench -- stats`, which loads 10 million events and takes several minutes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEFAULT = ['ingest', 'overhead'];
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT;
let failed = 0;
for (const name of names) {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  if (!existsSync(file) || ['run', 'machine'].includes(name)) {
    console.error(`no benchmark named ${name} (bench/${name}.ts)`);
    failed++;
    continue;
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
