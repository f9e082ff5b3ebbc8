/**
 * Statistics at scale, on PostgreSQL.
 *
 *   node --import tsx bench/stats.ts [--rows 10000000] [--url postgres://postgres@127.0.0.1:5432/test]
 *                                    [--runs 5] [--ingest-rows 200000] [--skip-ingest] [--skip-stats]
 *                                    [--keep] [--reuse]
 *
 * (or VIGIL_BENCH_ROWS, VIGIL_BENCH_DATABASE_URL, VIGIL_BENCH_RUNS, VIGIL_BENCH_INGEST_ROWS).
 *
 * 1. Ingest cost of the rollup trigger: the SDK's COPY path (insertEvents' encoding, store.copyIn)
 *    writes the same events into `logs` (with the trigger) and into `logs_plain`, an identical table
 *    (LIKE logs INCLUDING ALL) without it, batch by batch in turn.
 * 2. Loads `--rows` events (a mix of the 12 types over 90 days, in time order, UUIDv7-like ids) into
 *    `logs` with INSERT ... SELECT generate_series in chunks; the trigger builds the rollups as it
 *    would in production. Then times each statistic over the whole table and over 30 days with
 *    edges off the hour (which read partial hours from `logs`).
 *
 * Each part uses its own database (vigil_bench_stats, vigil_bench_ingest), created and dropped here;
 * `--keep` keeps vigil_bench_stats loaded, `--reuse` times the statistics on it without reloading.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { COPY_COLUMNS, encodeUnchained } from '../src/trust/chain.js';
import type { EventRow } from '../src/events/types.js';
import { validateEvent } from '../src/events/validate.js';
import { migrate } from '../src/store/migrate.js';
import { PostgresStore } from '../src/store/postgres.js';
import type { Store } from '../src/store/store.js';
import { STATS, type StatName } from '../src/stats/index.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: process.env.VIGIL_BENCH_ROWS ?? '10000000' },
    url: { type: 'string', default: process.env.VIGIL_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    runs: { type: 'string', default: process.env.VIGIL_BENCH_RUNS ?? '5' },
    'ingest-rows': { type: 'string', default: process.env.VIGIL_BENCH_INGEST_ROWS ?? '200000' },
    'skip-ingest': { type: 'boolean', default: false },
    'skip-stats': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const RUNS = Number(args.runs);
const INGEST_ROWS = Number(args['ingest-rows']);
const BASE_URL = args.url!;
const DAYS = 90;
/** Rows per INSERT ... SELECT of the load: the trigger aggregates each chunk once. */
const LOAD_CHUNK = 250_000;
/** Ingest batch sizes: one COPY of everything, the SDK writer's default batch, a small HTTP-like batch. */
const INGEST_BATCHES = [INGEST_ROWS, 5_000, 500];
const INGEST_ROUNDS = 3;

for (const [k, v] of [['rows', ROWS], ['runs', RUNS], ['ingest-rows', INGEST_ROWS]] as const) {
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${k} must be a positive integer`);
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function databaseUrl(name: string): string {
  const u = new URL(BASE_URL);
  u.pathname = '/' + name;
  return u.toString();
}

/** Creates database `name` afresh (names are constants of this file) and opens it, migrated. */
async function freshStore(name: string): Promise<PostgresStore> {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
  const store = new PostgresStore(databaseUrl(name), { queryTimeoutMs: 3_600_000 });
  await migrate(store);
  return store;
}

async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number): string => n.toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------
// 1. Ingest cost of the trigger

/** A small deterministic PRNG (mulberry32), so every run ingests the same events. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const MODELS = [['gpt-4o', 'openai'], ['gpt-4o-mini', 'openai'], ['o3', 'openai'], ['claude-sonnet', 'anthropic'], ['claude-haiku', 'anthropic'], ['gemini-pro', 'google'], ['gemini-flash', 'google'], ['llama-70b', 'together']] as const;
const AGENTS = ['ContentAgent', 'ResearchAgent', 'ReviewAgent', 'PlannerAgent', 'SupportAgent', 'CodeAgent', 'DataAgent', 'SearchAgent', 'EmailAgent', 'SummaryAgent', 'TranslateAgent', 'QAAgent'];
const TABLES = ['tasks', 'users', 'agents', 'documents', 'embeddings', 'sessions', 'messages', 'audit', 'billing', 'settings'];

/** One event of the bench mix (weights as in the SQL load below), in its flat HTTP form. */
function sampleEvent(r: () => number, time: string): Record<string, unknown> {
  const x = r() * 100;
  const ms = (lo: number, spread: number) => Math.round(lo * Math.exp(r() * spread) * 100) / 100;
  const base = { timestamp: time };
  if (x < 20) {
    const [model_name, provider] = pick(r, MODELS);
    const tokens_used = 100 + Math.floor(r() * 4000);
    return { ...base, event_type: 'model_called', model_name, provider, tokens_used, response_time_ms: ms(200, 3), cost_usd: Math.round(tokens_used * 30) / 1e6 };
  }
  if (x < 30) return { ...base, event_type: 'agent_executed', agent_name: pick(r, AGENTS), task_type: 'content_generation', status: r() < 0.9 ? 'success' : 'failure', execution_time_ms: ms(500, 4), result: { words: 100 } };
  if (x < 45) return { ...base, event_type: 'api_call', endpoint: '/api/generate', method: 'POST', user_id: `user_${Math.floor(r() * 2000)}`, status_code: r() < 0.97 ? 200 : 500, response_time_ms: ms(20, 3) };
  if (x < 60) return { ...base, event_type: 'database_query', query_type: 'SELECT', table_name: pick(r, TABLES), execution_time_ms: ms(0.5, 5), rows_affected: Math.floor(r() * 100), status: 'success' };
  if (x < 75) return { ...base, event_type: 'cache_operation', operation: pick(r, ['get', 'get', 'get', 'set', 'delete']), cache_key: `user:${Math.floor(r() * 5000)}:profile`, status: 'success', hit_miss: r() < 0.8 ? 'hit' : 'miss' };
  if (x < 80) return { ...base, event_type: 'task_created', task_id: `task_${Math.floor(r() * 1e9)}`, task_type: 'content_generation', created_by: `user_${Math.floor(r() * 2000)}`, description: 'Generate a blog post' };
  if (x < 84) return { ...base, event_type: 'task_updated', task_id: `task_${Math.floor(r() * 1e9)}`, updated_by: `user_${Math.floor(r() * 2000)}`, changes: { priority: { from: 'normal', to: 'high' } } };
  if (x < 88) return { ...base, event_type: 'task_completed', task_id: `task_${Math.floor(r() * 1e9)}`, result_summary: 'done', execution_time_ms: ms(1000, 4) };
  if (x < 89) return { ...base, event_type: 'task_failed', task_id: `task_${Math.floor(r() * 1e9)}`, error_message: 'Model returned an empty answer', error_type: pick(r, ['EmptyResponseError', 'TimeoutError', 'RateLimitError']) };
  if (x < 94) return { ...base, event_type: 'content_generated', content_type: 'blog_post', content_id: `content_${Math.floor(r() * 1e9)}`, length_words: Math.floor(r() * 3000), agent_name: pick(r, AGENTS), model_used: pick(r, MODELS)[0] };
  if (x < 97) return { ...base, event_type: 'error', error_type: pick(r, ['TimeoutError', 'ValueError', 'ConnectionError', 'RateLimitError']), error_message: 'API call timed out after 30s', component: pick(r, AGENTS), context: { timeout: 30000 } };
  return { ...base, event_type: 'permission_denied', user_id: `user_${Math.floor(r() * 2000)}`, permission: 'tasks:delete', resource: `task_${Math.floor(r() * 50000)}`, action: 'delete', reason: 'role viewer' };
}

function ingestRows(n: number): EventRow[] {
  const r = prng(42);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const rows: EventRow[] = [];
  for (let i = 0; i < n; i++) {
    const v = validateEvent(sampleEvent(r, new Date(start + i * 50).toISOString()), Date.now());
    if (!v.ok) throw new Error(`bench event refused: ${JSON.stringify(v.problems)}`);
    rows.push(v.row);
  }
  return rows;
}

const COLUMNS = COPY_COLUMNS;

async function benchIngest(): Promise<void> {
  console.log(`\n## Ingest cost of the rollup trigger (${fmt(INGEST_ROWS)} events, COPY as the SDK writes, ${INGEST_ROUNDS} rounds)\n`);
  console.log('Each batch goes into both tables in turn (alternating which goes first), so that load from');
  console.log('other processes weighs on both alike; figures are total events / total time over all rounds.\n');
  const rows = ingestRows(INGEST_ROWS);
  const models = rows.filter((x) => x.event_type === 'model_called').length;
  console.log('| batch (rows per COPY) | plain table, events/s | logs with rollups, events/s | ratio |');
  console.log('|---:|---:|---:|---:|');
  for (const batch of INGEST_BATCHES) {
    const chunks: string[] = [];
    for (let i = 0; i < rows.length; i += batch) chunks.push(encodeUnchained(rows.slice(i, i + batch)));
    const total = { plain: 0, rollups: 0 };
    for (let round = 0; round < INGEST_ROUNDS; round++) {
      const store = await freshStore('vigil_bench_ingest');
      await ensurePartitions(store, '2026-01-01T00:00:00Z', Math.ceil((rows.length * 50) / 86_400_000) + 1);
      try {
        await store.exec('CREATE TABLE logs_plain (LIKE logs INCLUDING ALL)');
        await store.exec('CHECKPOINT');
        for (const [i, data] of chunks.entries()) {
          const order = (i + round) % 2 === 0 ? (['plain', 'rollups'] as const) : (['rollups', 'plain'] as const);
          for (const kind of order) {
            const t0 = performance.now();
            // Into January's partition, as the writer does with a batch of one month (see migration 010).
            await store.copyIn(kind === 'plain' ? 'logs_plain' : 'logs_2026_01', COLUMNS, data);
            total[kind] += performance.now() - t0;
          }
        }
        const { rows: c } = await store.query<{ n: number }>('SELECT sum(calls)::float8 AS n FROM stats_costs_hourly');
        if (c[0].n !== models) throw new Error('rollups disagree with the events ingested');
      } finally {
        await store.close();
      }
    }
    const rate = (ms: number) => (INGEST_ROWS * INGEST_ROUNDS) / (ms / 1000);
    console.log(`| ${fmt(batch)} | ${fmt(Math.round(rate(total.plain)))} | ${fmt(Math.round(rate(total.rollups)))} | ${(total.plain / total.rollups).toFixed(2)} |`);
  }
  await dropDatabase('vigil_bench_ingest');
}

// ---------------------------------------------------------------------------------------------
// 2. Statistics over ROWS events

/**
 * One chunk of the load: events [$1, $2) of $3, spread evenly over 90 days from $4, types drawn
 * with the weights of sampleEvent, durations log-normal-ish. Ids are UUIDv7-like (time first).
 */
const LOAD_SQL = `
WITH g AS (
  SELECT i, $4::timestamptz + (i * ${DAYS} * 86400000.0 / $3::bigint) * interval '1 millisecond' AS ts,
         random() * 100 AS x, random() AS a, random() AS b, random() AS c
    FROM generate_series($1::bigint, $2::bigint - 1) AS i
), e AS (
  SELECT *, CASE WHEN x < 20 THEN 'model_called' WHEN x < 30 THEN 'agent_executed' WHEN x < 45 THEN 'api_call'
                 WHEN x < 60 THEN 'database_query' WHEN x < 75 THEN 'cache_operation' WHEN x < 80 THEN 'task_created'
                 WHEN x < 84 THEN 'task_updated' WHEN x < 88 THEN 'task_completed' WHEN x < 89 THEN 'task_failed'
                 WHEN x < 94 THEN 'content_generated' WHEN x < 97 THEN 'error' ELSE 'permission_denied' END AS t
    FROM g
)
INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata)
SELECT (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7' || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid,
       CASE t WHEN 'task_failed' THEN 'ERROR' WHEN 'error' THEN 'ERROR' WHEN 'permission_denied' THEN 'WARNING'
              WHEN 'database_query' THEN 'DEBUG' WHEN 'cache_operation' THEN 'DEBUG' ELSE 'INFO' END,
       'bench ' || t || ' event ' || i, ts, t,
       CASE t
         WHEN 'model_called' THEN jsonb_build_object('event_type', t,
           'model_name', (ARRAY['gpt-4o','gpt-4o-mini','o3','claude-sonnet','claude-haiku','gemini-pro','gemini-flash','llama-70b'])[1 + floor(a * 8)::int],
           'provider', (ARRAY['openai','openai','openai','anthropic','anthropic','google','google','together'])[1 + floor(a * 8)::int],
           'tokens_used', 100 + floor(b * 4000)::int, 'response_time_ms', round((200 * exp(c * 3))::numeric, 2),
           'cost_usd', round(((100 + floor(b * 4000)) * 30 / 1e6)::numeric, 6))
         WHEN 'agent_executed' THEN jsonb_build_object('event_type', t, 'agent_name', 'Agent' || floor(a * 12)::int,
           'task_type', 'content_generation', 'status', CASE WHEN b < 0.9 THEN 'success' ELSE 'failure' END,
           'execution_time_ms', round((500 * exp(c * 4))::numeric, 2), 'result', jsonb_build_object('words', 100))
         WHEN 'api_call' THEN jsonb_build_object('event_type', t, 'endpoint', '/api/generate', 'method', 'POST',
           'user_id', 'user_' || floor(a * 2000)::int, 'status_code', CASE WHEN b < 0.97 THEN 200 ELSE 500 END,
           'response_time_ms', round((20 * exp(c * 3))::numeric, 2))
         WHEN 'database_query' THEN jsonb_build_object('event_type', t, 'query_type', 'SELECT', 'table_name', 'table_' || floor(a * 10)::int,
           'execution_time_ms', round((0.5 * exp(c * 5))::numeric, 2), 'rows_affected', floor(b * 100)::int, 'status', 'success')
         WHEN 'cache_operation' THEN jsonb_build_object('event_type', t, 'operation', (ARRAY['get','get','get','set','delete'])[1 + floor(a * 5)::int],
           'cache_key', 'user:' || floor(b * 5000)::int || ':profile', 'status', 'success', 'hit_miss', CASE WHEN c < 0.8 THEN 'hit' ELSE 'miss' END)
         WHEN 'task_created' THEN jsonb_build_object('event_type', t, 'task_id', 'task_' || i, 'task_type', 'content_generation',
           'created_by', 'user_' || floor(a * 2000)::int, 'description', 'Generate a blog post')
         WHEN 'task_updated' THEN jsonb_build_object('event_type', t, 'task_id', 'task_' || i, 'updated_by', 'user_' || floor(a * 2000)::int,
           'changes', jsonb_build_object('priority', jsonb_build_object('from', 'normal', 'to', 'high')))
         WHEN 'task_completed' THEN jsonb_build_object('event_type', t, 'task_id', 'task_' || i, 'result_summary', 'done',
           'execution_time_ms', round((1000 * exp(c * 4))::numeric, 2))
         WHEN 'task_failed' THEN jsonb_build_object('event_type', t, 'task_id', 'task_' || i, 'error_message', 'Model returned an empty answer',
           'error_type', (ARRAY['EmptyResponseError','TimeoutError','RateLimitError'])[1 + floor(a * 3)::int])
         WHEN 'content_generated' THEN jsonb_build_object('event_type', t, 'content_type', 'blog_post', 'content_id', 'content_' || i,
           'length_words', floor(a * 3000)::int, 'agent_name', 'Agent' || floor(b * 12)::int, 'model_used', 'gpt-4o')
         WHEN 'error' THEN jsonb_build_object('event_type', t, 'error_type', (ARRAY['TimeoutError','ValueError','ConnectionError','RateLimitError'])[1 + floor(a * 4)::int],
           'error_message', 'API call timed out after 30s', 'component', 'Agent' || floor(b * 12)::int, 'context', jsonb_build_object('timeout', 30000))
         ELSE jsonb_build_object('event_type', t, 'user_id', 'user_' || floor(a * 2000)::int, 'permission', 'tasks:delete',
           'resource', 'task_' || floor(b * 50000)::int, 'action', 'delete', 'reason', 'role viewer')
       END
  FROM e`;

const LOAD_START = '2026-01-01T00:00:00Z';

async function benchStats(): Promise<void> {
  console.log(`\n## Statistics over ${fmt(ROWS)} events (${DAYS} days)\n`);
  const store = args.reuse ? new PostgresStore(databaseUrl('vigil_bench_stats')) : await freshStore('vigil_bench_stats');
  try {
    if (!args.reuse) await load(store);
    const { rows: sizes } = await store.query<{ name: string; n: number; size: string }>(
      `SELECT 'logs' AS name, sum(c.reltuples)::float8 AS n, pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS size
         FROM pg_partition_tree('logs') t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf
       UNION ALL
       SELECT relname, reltuples::float8, pg_size_pretty(pg_total_relation_size(oid))
         FROM pg_class WHERE relkind = 'r' AND relname LIKE 'stats\\_%\\_hourly' ORDER BY 1`,
    );
    console.log('Table sizes: ' + sizes.map((s) => `${s.name} ${fmt(Math.round(s.n))} rows ${s.size}`).join('; ') + '\n');

    const start = Date.parse(LOAD_START);
    const day = 86_400_000;
    const ranges: [string, { since?: Date; until?: Date }][] = [
      ['all (no since/until)', {}],
      ['30 days, edges off the hour', { since: new Date(start + 45 * day + 1_234_567), until: new Date(start + 75 * day + 2_345_678) }],
      ['24 hours, edges off the hour', { since: new Date(start + 60 * day + 1_234_567), until: new Date(start + 61 * day + 1_234_567) }],
    ];
    console.log(`| statistic | range | median ms | max ms |`);
    console.log('|---|---|---:|---:|');
    for (const [name, fn] of Object.entries(STATS) as [StatName, (typeof STATS)[StatName]][]) {
      for (const [label, range] of ranges) {
        await fn(store, range); // warm-up
        const ms: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          const t = performance.now();
          await fn(store, range);
          ms.push(performance.now() - t);
        }
        console.log(`| ${name} | ${label} | ${median(ms).toFixed(1)} | ${Math.max(...ms).toFixed(1)} |`);
      }
    }
  } finally {
    await store.close();
    if (!args.keep) await dropDatabase('vigil_bench_stats');
  }
}

/** Loads ROWS events in chunks; the rollup trigger runs once per chunk. */
/** The monthly partitions of `days` from `start` (the writer makes them on demand; these loads are COPY and SQL). */
async function ensurePartitions(store: Store, start: string, days: number): Promise<void> {
  await store.query(
    `SELECT vigil_logs_ensure_partition(m::date) FROM generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'), $1::timestamptz AT TIME ZONE 'UTC' + $2 * interval '1 day', interval '1 month') AS m`,
    [start, days],
  );
}

async function load(store: PostgresStore): Promise<void> {
  await ensurePartitions(store, LOAD_START, DAYS);
  const t0 = performance.now();
  for (let from = 0; from < ROWS; from += LOAD_CHUNK) {
    const to = Math.min(ROWS, from + LOAD_CHUNK);
    await store.query(LOAD_SQL, [from, to, ROWS, LOAD_START]);
    process.stderr.write(`\rloaded ${fmt(to)} / ${fmt(ROWS)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');
  const loadS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await store.exec('VACUUM ANALYZE');
  const vacuumS = (performance.now() - t1) / 1000;
  console.log(`Loaded in ${loadS.toFixed(0)} s (${fmt(Math.round(ROWS / loadS))} events/s, rollups maintained by the trigger), VACUUM ANALYZE ${vacuumS.toFixed(0)} s.`);
}

async function machine(): Promise<void> {
  const cpus = os.cpus();
  const version = await admin(async (c) => (await c.query<{ v: string }>('SELECT version() AS v')).rows[0].v);
  const settings = await admin(async (c) =>
    (await c.query<{ name: string; setting: string }>(`SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather') ORDER BY name`)).rows,
  );
  console.log('# Vigil statistics benchmark\n');
  console.log(`- Machine: ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`);
  console.log(`- Node.js ${process.version}`);
  console.log(`- ${version}`);
  console.log(`- PostgreSQL settings: ${settings.map((s) => `${s.name}=${s.setting}`).join(', ')}`);
}

await machine();
if (!args['skip-ingest']) await benchIngest();
if (!args['skip-stats']) await benchStats();
