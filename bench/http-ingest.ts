/**
 * HTTP ingest: a real `vigil serve` (a child process, on PostgreSQL) under load from autocannon in
 * this process: batches of 100 events, then single events. Answers come only after the commit, so
 * every figure is durable. Targets: ≥ 100,000 events/s batched, ≥ 10,000 requests/s single,
 * p99 < 50 ms.
 *
 *   node --import tsx bench/http-ingest.ts [--seconds 15] [--connections 32] [--only batched|single]
 *     [--profile DIR] [--database-url postgres://…]
 *
 * The server is the compiled CLI (`bin/vigil.js serve`, what `npm start` runs), compiled first from
 * the sources as they are. --profile writes its CPU profile (node --cpu-prof) into DIR when it exits.
 *
 * Events are `model_called` (each one counted by the default budget rule, so the figure includes
 * the stream rules' work); BENCH_EVENT=cache sends `cache_operation` events, which no rule counts.
 */
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createKey } from '../src/http/apiKeys.js';
import { openStore, resolveStoreOptions } from '../src/store/open.js';
import { machine } from './machine.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    only: { type: 'string' },
    profile: { type: 'string' },
    'database-url': { type: 'string', default: process.env.VIGIL_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const DB = 'vigil_bench_http';
const PORT = 4871;
const seconds = Number(values.seconds);
const connections = Number(values.connections);
if (values.only !== undefined && values.only !== 'batched' && values.only !== 'single') throw new Error(`--only: expected batched or single, got ${JSON.stringify(values.only)}`);

const admin = new pg.Client({ connectionString: values['database-url'] });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${DB}`);
const u = new URL(values['database-url']!);
u.pathname = '/' + DB;
const url = u.toString();

const store = await openStore(resolveStoreOptions({ databaseUrl: url }), {});
const { key } = await createKey(store, { name: 'bench', scopes: ['ingest'], rateLimitPerMinute: 0 });
const pgVersion = (await store.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version.split(' ')[0];

// The server users run (`npm start`: the compiled CLI), compiled from the sources as they are now.
const root = fileURLToPath(new URL('..', import.meta.url));
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const server = spawn(process.execPath, [...(values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : []), 'bin/vigil.js', 'serve', '--database-url', url, '--port', String(PORT)], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, VIGIL_LOG_LEVEL: 'warn' },
});
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${PORT}/readyz`)).ok) break;
  } catch {
    /* not up yet */
  }
  if (i > 200) throw new Error('vigil serve did not start');
  await new Promise((r) => setTimeout(r, 100));
}

const event = (i: number) =>
  process.env.BENCH_EVENT === 'cache'
    ? { event_type: 'cache_operation', operation: 'get', cache_key: `k${i}`, hit_miss: 'hit' }
    : { event_type: 'model_called', model_name: 'gpt-4', provider: 'openai', tokens_used: 1000 + i, response_time_ms: 850, cost_usd: 0.036 };
const batchBody = JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => event(i)) });
const singleBody = JSON.stringify(event(1));

/** The server's group commits so far, from its /metrics: how many, their rows, their time. */
async function commits(): Promise<{ n: number; rows: number; seconds: number }> {
  const text = await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text();
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  return { n: sum(/^vigil_commit_rows_count (\S+)$/gm), rows: sum(/^vigil_commit_rows_sum (\S+)$/gm), seconds: sum(/^vigil_commit_duration_seconds_sum\{[^}]*\} (\S+)$/gm) };
}

interface Run {
  result: autocannon.Result;
  /** Group commits during the run, mean rows per commit and mean commit time (ms). */
  commits: number;
  rowsPerCommit: number;
  commitMs: number;
}

async function run(title: string, body: string): Promise<Run> {
  const before = await commits();
  const result = await autocannon({
    url: `http://127.0.0.1:${PORT}/v1/events`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body,
    connections,
    duration: seconds,
    title,
  });
  const after = await commits();
  const n = after.n - before.n;
  return { result, commits: n, rowsPerCommit: (after.rows - before.rows) / n, commitMs: (1000 * (after.seconds - before.seconds)) / n };
}

// A short warm-up, then the two measured runs.
await autocannon({ url: `http://127.0.0.1:${PORT}/v1/events`, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: singleBody, connections: 4, duration: 2 });
const batched = values.only === 'single' ? undefined : await run('batches of 100', batchBody);
const single = values.only === 'batched' ? undefined : await run('single events', singleBody);

const stored = (await store.query<{ n: string }>('SELECT count(*) AS n FROM logs')).rows[0].n;
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
await store.close();
await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await admin.end();

const line = ({ result: r, commits: n, rowsPerCommit, commitMs }: Run, perRequest: number) =>
  `${Math.round(r.requests.average * perRequest).toLocaleString('en-US')} events/s, ${Math.round(r.requests.average).toLocaleString('en-US')} requests/s, ` +
  `latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms; non-2xx ${r.non2xx}, errors ${r.errors}; ` +
  `${Math.round(n / seconds).toLocaleString('en-US')} commits/s of ${rowsPerCommit.toFixed(1)} rows, ${commitMs.toFixed(2)} ms each`;
console.log(`http-ingest: POST /v1/events on PostgreSQL, ${process.env.BENCH_EVENT === 'cache' ? 'cache_operation' : 'model_called'} events, ${connections} connections, ${seconds} s per run, durable answers`);
if (batched) console.log(`  batches of 100: ${line(batched, 100)} (target ≥ 100,000 events/s, p99 < 50 ms)`);
if (single) console.log(`  single events : ${line(single, 1)} (target ≥ 10,000 requests/s, p99 < 50 ms)`);
console.log(`  rows stored: ${Number(stored).toLocaleString('en-US')}`);
console.log(`  machine: ${machine({ PostgreSQL: pgVersion })}`);
