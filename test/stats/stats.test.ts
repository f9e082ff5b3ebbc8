import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertEvents } from '../../src/events/insertEvents.js';
import { COPY_COLUMNS, encodeUnchained } from '../../src/trust/chain.js';
import type { EventRow } from '../../src/events/types.js';
import { validateEvent } from '../../src/events/validate.js';
import { loadMigrations, migrate } from '../../src/store/migrate.js';
import { openStore, resolveStoreOptions } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { PERCENTILE_ERROR_BOUND, pruneRollups, SECURITY_TOP_N, STATS, STATS_SCHEMAS } from '../../src/stats/index.js';
import { BACKENDS, openHandles, openTestStore } from '../helpers/stores.js';
import { HOUR, makeEvents, prng, refAgents, refCache, refCosts, refDatabase, refErrors, refSecurity, refTasks, T0, type Range } from './reference.js';

/** Figures the SQL sums in a different order than JavaScript: equal within rounding. */
const FLOAT_KEYS = new Set(['cost_usd', 'avg_ms', 'success_rate', 'hit_ratio']);
const PERCENTILE_KEYS = new Set(['p50_ms', 'p95_ms']);

/**
 * Compares a statistic with the reference: counts and names exactly, sums within 1e-9 (relative),
 * percentiles within the stated bound of the exact nearest-rank value.
 */
function assertMatches(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const key = path.slice(path.lastIndexOf('.') + 1);
    if (PERCENTILE_KEYS.has(key)) {
      const err = expected === 0 ? actual : Math.abs(actual - expected) / expected;
      assert.ok(err <= PERCENTILE_ERROR_BOUND, `${path}: ${actual} is not within ${PERCENTILE_ERROR_BOUND} of ${expected}`);
    } else if (FLOAT_KEYS.has(key)) {
      assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${path}: ${actual} ≠ ${expected}`);
    } else assert.equal(actual, expected, path);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((e, i) => assertMatches(actual[i], e, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object`);
    const a = actual as Record<string, unknown>;
    for (const [k, v] of Object.entries(expected)) assertMatches(a[k], v, `${path}.${k}`);
    return;
  }
  assert.equal(actual, expected, path);
}

/** The subset of JSON Schema STATS_SCHEMAS uses: type, properties, required, additionalProperties, items. */
function assertSchema(value: unknown, schema: Record<string, unknown>, path = '$'): void {
  const types = ([] as string[]).concat(schema.type as string | string[]);
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  assert.ok(types.includes(actual), `${path}: ${actual} is not ${types.join(' or ')}`);
  if (actual === 'object') {
    const props = schema.properties as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(value as object).sort(), [...(schema.required as string[])].sort(), `${path}: properties`);
    for (const [k, v] of Object.entries(value as object)) assertSchema(v, props[k], `${path}.${k}`);
  }
  if (actual === 'array') (value as unknown[]).forEach((v, i) => assertSchema(v, schema.items as Record<string, unknown>, `${path}[${i}]`));
}

const at = (ms: number) => new Date(ms);

function event(time: number, fields: Record<string, unknown>): EventRow {
  const v = validateEvent({ ...fields, timestamp: new Date(time).toISOString() }, Date.now());
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.row;
}

/** Ranges that exercise every path: whole hours, partial edges, no whole hour, open ends, empty. */
const RANGES: [string, Range][] = [
  ['open', {}],
  ['whole hours', { since: at(T0 + 5 * HOUR), until: at(T0 + 50 * HOUR) }],
  ['edges off the hour', { since: at(T0 + 5 * HOUR + 123_456), until: at(T0 + 50 * HOUR + 7) }],
  ['inside one hour', { since: at(T0 + 10 * HOUR + 100_000), until: at(T0 + 10 * HOUR + 2_000_000) }],
  ['across one boundary, no whole hour', { since: at(T0 + 10.5 * HOUR), until: at(T0 + 11.4 * HOUR) }],
  ['since only', { since: at(T0 + 30 * HOUR + 999) }],
  ['until only', { until: at(T0 + 20 * HOUR + 1) }],
  ['since inclusive, until exclusive, on events', { since: at(T0 + 7 * HOUR), until: at(T0 + 40 * HOUR) }],
  ['one millisecond holding events', { since: at(T0 + 12 * HOUR), until: at(T0 + 12 * HOUR + 1) }],
  ['empty: since = until', { since: at(T0 + 12 * HOUR), until: at(T0 + 12 * HOUR) }],
  ['empty: since after until', { since: at(T0 + 30 * HOUR), until: at(T0 + 20 * HOUR) }],
  ['no events in range', { since: at(T0 + 1000 * HOUR), until: at(T0 + 2000 * HOUR) }],
  ['beyond what PostgreSQL dates hold', { since: new Date('-000500-01-01T00:00:00Z'), until: new Date('+020000-01-01T00:00:00Z') }],
  ['entirely beyond year 9999', { since: new Date('+020000-01-01T00:00:00Z'), until: new Date('+020001-01-01T00:00:00Z') }],
];

const REFERENCES = {
  costs: (rows: EventRow[], r: Range) => refCosts(rows, r),
  agents: (rows: EventRow[], r: Range) => ({ agents: refAgents(rows, r) }),
  tasks: (rows: EventRow[], r: Range) => refTasks(rows, r),
  cache: (rows: EventRow[], r: Range) => refCache(rows, r),
  errors: (rows: EventRow[], r: Range) => refErrors(rows, r),
  security: (rows: EventRow[], r: Range) => refSecurity(rows, r, SECURITY_TOP_N),
  database: (rows: EventRow[], r: Range) => ({ tables: refDatabase(rows, r) }),
} as const;

async function assertAllStats(store: Store, rows: EventRow[], ranges: [string, Range][]): Promise<void> {
  for (const [label, range] of ranges) {
    for (const [name, ref] of Object.entries(REFERENCES)) {
      const actual = (await STATS[name as keyof typeof STATS](store, range)) as Record<string, unknown>;
      assertSchema(actual, STATS_SCHEMAS[name as keyof typeof STATS_SCHEMAS], `${name} (${label})`);
      assert.equal(actual.since, range.since?.toISOString() ?? null);
      assert.equal(actual.until, range.until?.toISOString() ?? null);
      assertMatches(actual, ref(rows, range), `${name} (${label})`);
    }
  }
}

/** Inserts in batches of varying size, so rollup rows are both created and added to. */
async function insertInBatches(store: Store, rows: EventRow[], seed: number): Promise<void> {
  const r = prng(seed);
  const shuffled = [...rows].sort(() => r() - 0.5);
  for (let i = 0; i < shuffled.length; ) {
    const n = 1 + Math.floor(r() * 400);
    await insertEvents(store, shuffled.slice(i, i + n));
    i += n;
  }
}

for (const backend of BACKENDS) {
  describe(`statistics on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    const rows = makeEvents(3000, 60);

    before(async () => {
      env = await backend.setup();
      store = await openTestStore(env);
    });
    after(async () => {
      await store?.close();
      await env.cleanup();
      assert.deepEqual(openHandles(), [], 'the test left sockets or servers open');
    });

    it('answers an empty trail with zeros and empty lists', async () => {
      await assertAllStats(store, [], [['open', {}]]);
      const tasks = (await STATS.tasks(store, {})) as { success_rate: unknown; completion_time: unknown };
      assert.equal(tasks.success_rate, null);
      assert.deepEqual(tasks.completion_time, { count: 0, avg_ms: null, p50_ms: null, p95_ms: null });
    });

    it('matches the events exactly on every kind of range', async () => {
      await insertInBatches(store, rows, 1);
      await assertAllStats(store, rows, RANGES);
    });

    it('does not count a retried batch twice (COPY falls back to INSERT ... ON CONFLICT DO NOTHING)', async () => {
      const again = rows.slice(100, 400);
      const more = makeEvents(200, 60, 99);
      assert.equal(await insertEvents(store, [...again, ...more]), more.length);
      assert.equal(await insertEvents(store, again), 0);
      rows.push(...more);
      await assertAllStats(store, rows, RANGES.slice(0, 3));
    });

    it('reports 0 ms durations as 0, percentiles by nearest rank, and sums costs as exact decimals', async () => {
      const base = T0 + 500 * HOUR;
      const extra = [0, 0, 0, 5, 0.001, 1e6].map((ms, i) => event(base + i, { event_type: 'database_query', query_type: 'SELECT', table_name: 'zeros', execution_time_ms: ms }));
      for (let i = 0; i < 10; i++) extra.push(event(base + 100 + i, { event_type: 'model_called', model_name: 'decimal', provider: 'p', tokens_used: 1, cost_usd: 0.1 }));
      await insertEvents(store, extra);
      rows.push(...extra);
      const range = { since: at(base), until: at(base + HOUR) };
      const db = (await STATS.database(store, range)) as { tables: { table_name: string; execution_time: { p50_ms: number; p95_ms: number; avg_ms: number } }[] };
      // Sorted: 0, 0, 0, 0.001, 5, 1e6 — rank ceil(0.5 * 6) = 3 is 0; rank ceil(0.95 * 6) = 6 is 1e6.
      assert.equal(db.tables[0].execution_time.p50_ms, 0);
      assert.ok(Math.abs(db.tables[0].execution_time.p95_ms - 1e6) / 1e6 <= PERCENTILE_ERROR_BOUND);
      const costs = (await STATS.costs(store, range)) as { total: { cost_usd: number } };
      assert.equal(costs.total.cost_usd, 1); // in binary floating point, 0.1 added ten times is 0.9999999999999999
      await assertAllStats(store, rows, [['the extra hour', range], ...RANGES.slice(0, 2)]);
    });

    it('adds token counts up past the range of bigint', async () => {
      const base = T0 + 700 * HOUR;
      const call = (i: number) => event(base + i, { event_type: 'model_called', model_name: 'huge', provider: 'p', tokens_used: 1e12, cost_usd: 1 });
      await insertEvents(store, [call(0)]);
      // As if 9.2 million calls at the largest count had been made in this hour already.
      await store.query("UPDATE stats_costs_hourly SET tokens = tokens + 9223372036854775807 WHERE model_name = 'huge'");
      await store.query("UPDATE stats_cost_task_hourly SET tokens = tokens + 9223372036854775807 WHERE hour = $1", [new Date(base)]);
      assert.equal(await insertEvents(store, [call(1), call(2)]), 2, 'the next calls of that hour are stored');
      const costs = (await STATS.costs(store, { since: at(base), until: at(base + HOUR) })) as { total: { tokens: number } };
      assert.equal(costs.total.tokens, Number('9223372036854775807') + 3e12);
      await store.query("UPDATE stats_costs_hourly SET tokens = tokens - 9223372036854775807 WHERE model_name = 'huge'");
      await store.query("UPDATE stats_cost_task_hourly SET tokens = tokens - 9223372036854775807 WHERE hour = $1", [new Date(base)]);
      rows.push(call(0), call(1), call(2));
    });

    it('stays exact under concurrent writers updating the same rollup rows (no deadlock)', async () => {
      const batches = Array.from({ length: 8 }, (_, i) => makeEvents(300, 3, 200 + i).map((r) => ({ ...r, time: r.time + 600 * HOUR })));
      await Promise.all(batches.map((b) => insertEvents(store, b)));
      for (const b of batches) rows.push(...b);
      await assertAllStats(store, rows, [['the concurrent hours', { since: at(T0 + 600 * HOUR), until: at(T0 + 604 * HOUR) }]]);
    });

    it('refuses invalid dates', async () => {
      await assert.rejects(STATS.costs(store, { since: new Date('nope') }), RangeError);
    });

    it('prunes whole hours before a cutoff, keeping later hours exact', async () => {
      const cutoff = T0 + 24 * HOUR;
      assert.ok((await pruneRollups(store, at(cutoff + 1234))) > 0);
      await assertAllStats(store, rows, [['after the cutoff', { since: at(cutoff) }]]);
    });
  });

  describe(`statistics rollups on ${backend.name}: backfill and time zones`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;

    before(async () => {
      env = await backend.setup();
      store = await openStore(resolveStoreOptions({ databaseUrl: env.databaseUrl, dataDir: env.dataDir }, {}), { command: 'test', migrate: false });
    });
    after(async () => {
      await store?.close();
      await env.cleanup();
      assert.deepEqual(openHandles(), [], 'the test left sockets or servers open');
    });

    it('backfills the rollups from events stored before the migration', async () => {
      await migrate(store, loadMigrations().filter((m) => m.version < 4));
      const rows = makeEvents(800, 30, 3);
      // Stored as the writer of that time did: no chain columns yet.
      const data = encodeUnchained(rows).replaceAll('\t\\N\t\\N\n', '\n');
      await store.copyIn('logs', COPY_COLUMNS.slice(0, 6), data);
      await migrate(store);
      await assertAllStats(store, rows, RANGES.slice(0, 4));
      const later = makeEvents(300, 30, 4);
      await insertEvents(store, later);
      await assertAllStats(store, [...rows, ...later], RANGES.slice(0, 4));
    });

    it('buckets hours in UTC whatever the session time zone', { skip: backend.name === 'postgres' && 'a pool has many sessions; the embedded store has one' }, async () => {
      await store.query(`SET TimeZone = 'Asia/Kolkata'`);
      const fresh = makeEvents(300, 10, 5).map((r) => ({ ...r, time: r.time + 100 * HOUR }));
      const { rows: all } = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM logs');
      assert.ok(all[0].n > 0);
      await insertEvents(store, fresh);
      const range = { since: at(T0 + 100 * HOUR), until: at(T0 + 106 * HOUR + 1) };
      await assertAllStats(store, fresh, [['Asia/Kolkata', range]]);
      const { rows: hours } = await store.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM stats_agents_hourly WHERE extract(epoch FROM hour)::bigint % 3600 <> 0`,
      );
      assert.equal(hours[0].n, 0);
      await store.query(`SET TimeZone = 'UTC'`);
    });
  });
}
