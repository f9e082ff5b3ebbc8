/**
 * Ingest: 200,000 events through the SDK into PostgreSQL and into the embedded database, and the
 * same rows loaded with COPY into an identical table in the same run. Prints events/s and the ratio,
 * with the per-event structured log line on (pino to /dev/null) and off.
 *
 *   node --import tsx bench/ingest.ts [--events 200000] [--database-url postgres://…] [--skip-embedded]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { createAuditLogger, type AuditLogger } from '../src/index.js';
import { COPY_COLUMNS, encodeUnchained } from '../src/trust/chain.js';
import type { EventRow } from '../src/events/types.js';
import { validateEvent } from '../src/events/validate.js';
import { openStore, resolveStoreOptions } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { machine } from './machine.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    'database-url': { type: 'string', default: process.env.VIGIL_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'skip-embedded': { type: 'boolean', default: false },
    'skip-postgres': { type: 'boolean', default: false },
  },
});
const N = Number(values.events);

/** A realistic mix: the hot types of an agent platform. */
function produce(logger: AuditLogger, i: number): void {
  switch (i % 5) {
    case 0:
      logger.logTaskCreated({ task_id: `task_${i}`, task_type: 'content_generation', created_by: `user_${i % 100}`, description: 'Generate blog post about AI' });
      break;
    case 1:
      logger.logModelCalled({ model_name: 'gpt-4', provider: 'openai', tokens_used: 1200 + (i % 500), response_time_ms: 850, cost_usd: 0.036 });
      break;
    case 2:
      logger.logAgentExecuted({ agent_name: 'ContentAgent', task_type: 'content_generation', status: 'success', execution_time_ms: 4100 });
      break;
    case 3:
      logger.logApiCall({ endpoint: '/api/generate', method: 'POST', user_id: `user_${i % 100}`, status_code: 200, response_time_ms: 120 });
      break;
    default:
      logger.logTaskCompleted({ task_id: `task_${i}`, result_summary: 'ok', execution_time_ms: 5230 });
  }
}

async function sdkRun(opts: { databaseUrl?: string; dataDir: string }, logLine: boolean): Promise<number> {
  const lines = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
  const logger = createAuditLogger({ ...opts, logLine, logger: lines });
  // Open the store and warm up before timing.
  logger.logTaskCreated({ task_id: 'warmup', task_type: 'x', created_by: 'bench' });
  await logger.flush();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    produce(logger, i);
    // Producers yield now and then, as a real application does between requests.
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
  }
  await logger.flush();
  const seconds = (performance.now() - t0) / 1000;
  await logger.close();
  return N / seconds;
}

/**
 * The same kind of rows, loaded with one COPY into a table identical to logs: same columns and
 * indexes and, with `withTrigger`, the same statistics-rollup triggers (their cost is then on both
 * sides, so the ratio measures the SDK itself).
 */
async function copyRun(store: Store, withTrigger = true): Promise<number> {
  await store.exec('DROP TABLE IF EXISTS logs_copy; CREATE TABLE logs_copy (LIKE logs INCLUDING ALL);');
  if (withTrigger) {
    await store.exec(
      'CREATE TRIGGER logs_copy_stats_rollup AFTER INSERT ON logs_copy REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_rollup();' +
        'CREATE TRIGGER logs_copy_cost_task AFTER INSERT ON logs_copy REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vigil_stats_cost_task_rollup();',
    );
  }
  const rows: EventRow[] = [];
  const collect = {
    logTaskCreated: (f: object) => rows.push(row('task_created', f)),
    logModelCalled: (f: object) => rows.push(row('model_called', f)),
    logAgentExecuted: (f: object) => rows.push(row('agent_executed', f)),
    logApiCall: (f: object) => rows.push(row('api_call', f)),
    logTaskCompleted: (f: object) => rows.push(row('task_completed', f)),
  } as unknown as AuditLogger;
  for (let i = 0; i < N; i++) produce(collect, i);
  const data = encodeUnchained(rows);
  const t0 = performance.now();
  await store.copyIn('logs_copy', COPY_COLUMNS, data);
  const seconds = (performance.now() - t0) / 1000;
  await store.exec('DROP TABLE logs_copy');
  return N / seconds;
}

function row(type: string, fields: object): EventRow {
  const v = validateEvent({ event_type: type, ...fields }, Date.now());
  if (!v.ok) throw new Error('bad bench event');
  return v.row;
}

async function withDatabase<T>(base: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = 'vigil_bench_ingest';
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(base);
  u.pathname = '/' + name;
  try {
    return await fn(u.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const results: string[] = [];
  let pgVersion = 'n/a';
  if (!values['skip-postgres']) {
    await withDatabase(values['database-url']!, async (url) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
      try {
        const store = await openStore(resolveStoreOptions({ databaseUrl: url }), {});
        pgVersion = String((await store.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version).split(' ')[0];
        const bare = await copyRun(store, false);
        const copy = await copyRun(store);
        await store.close();
        const on = await sdkRun({ databaseUrl: url, dataDir }, true);
        const off = await sdkRun({ databaseUrl: url, dataDir }, false);
        results.push(`PostgreSQL  COPY into an identical table, without the rollup trigger: ${fmt(bare)} events/s`);
        results.push(`PostgreSQL  COPY into an identical table: ${fmt(copy)} events/s`);
        results.push(`PostgreSQL  SDK, log line on : ${fmt(on)} events/s  (${(on / copy).toFixed(2)} of COPY; target ≥ 0.80)`);
        results.push(`PostgreSQL  SDK, log line off: ${fmt(off)} events/s  (${(off / copy).toFixed(2)} of COPY; target ≥ 0.80)`);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
  if (!values['skip-embedded']) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-emb-'));
    try {
      const store = await openStore(resolveStoreOptions({ dataDir: join(dir, 'copy') }), {});
      const bare = await copyRun(store, false);
      const copy = await copyRun(store);
      await store.close();
      results.push(`Embedded    COPY into an identical table, without the rollup trigger: ${fmt(bare)} events/s`);
      const on = await sdkRun({ dataDir: join(dir, 'on') }, true);
      const off = await sdkRun({ dataDir: join(dir, 'off') }, false);
      results.push(`Embedded    COPY into an identical table: ${fmt(copy)} events/s`);
      results.push(`Embedded    SDK, log line on : ${fmt(on)} events/s  (${(on / copy).toFixed(2)} of COPY; target ≥ 100,000 events/s)`);
      results.push(`Embedded    SDK, log line off: ${fmt(off)} events/s  (${(off / copy).toFixed(2)} of COPY; target ≥ 100,000 events/s)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`ingest: ${fmt(N)} events per run`);
  for (const r of results) console.log('  ' + r);
  console.log(`  machine: ${machine({ PostgreSQL: pgVersion })}`);
}

await main();
