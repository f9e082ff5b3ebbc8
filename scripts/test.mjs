#!/usr/bin/env node
// Runs the whole suite (or the files/folders given) with node's test runner, TypeScript via tsx.
// The PostgreSQL suites run when VIGIL_TEST_DATABASE_URL is set; it must then be reachable.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) collect(join(path, name), out);
  } else if (/\.test\.ts$/.test(path)) out.push(path);
  return out;
}

const args = process.argv.slice(2);
const roots = args.length > 0 ? args : ['test'];
const files = roots.flatMap((r) => collect(r, []));
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}

const url = process.env.VIGIL_TEST_DATABASE_URL;
if (!url) {
  console.log('PostgreSQL suite: SKIPPED (VIGIL_TEST_DATABASE_URL is not set; only the embedded database is tested)');
} else {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query('SHOW server_version');
    console.log(`PostgreSQL suite: on (server ${rows[0].server_version} at ${url.replace(/:[^:@/]*@/, ':****@')})`);
  } catch (err) {
    console.error(`VIGIL_TEST_DATABASE_URL is set but PostgreSQL is unreachable: ${err.message}`);
    process.exit(1);
  } finally {
    await client.end().catch(() => {});
  }
}

const concurrency = process.env.VIGIL_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } },
);
process.exit(r.status ?? 1);
