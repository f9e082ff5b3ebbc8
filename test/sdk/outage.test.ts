/**
 * The database stops mid-stream (a proxy in front of PostgreSQL is cut), events keep being
 * accepted, the database returns, and every accepted event is stored exactly once.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import pg from 'pg';
import { createAuditLogger } from '../../src/index.js';
import { createDatabase, dropDatabase, openHandles, PG_SKIP, tempDir } from '../helpers/stores.js';
import { TcpProxy } from '../helpers/proxy.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL outage', { skip: PG_SKIP }, () => {
  let url: string;
  let proxy: TcpProxy;
  before(async () => {
    url = await createDatabase();
    proxy = TcpProxy.forUrl(url);
    await proxy.start();
  });
  after(async () => {
    await proxy.close();
    await dropDatabase(url);
    assert.deepEqual(openHandles(), []);
  });

  it('keeps accepting while the database is gone, spools to disk, and stores each event once when it is back', async () => {
    const dataDir = tempDir();
    const spoolDir = join(dataDir, 'spool');
    const logger = createAuditLogger({
      databaseUrl: proxy.url(url),
      dataDir,
      logLine: false,
      logger: pino({ level: 'silent' }),
      batchSize: 500,
      postgres: { connectTimeoutMs: 500 },
    } as Parameters<typeof createAuditLogger>[0]);
    const ids: string[] = [];
    const produce = (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = logger.logModelCalled({ model_name: 'gpt-4', provider: 'openai', tokens_used: i, cost_usd: 0.001 });
        assert.equal(r.success, true);
        if (r.success) ids.push(r.id);
      }
    };

    produce(3000);
    assert.equal(await logger.flush(), true);

    await proxy.cut();
    // Keep producing through the outage, in several bursts.
    for (let burst = 0; burst < 5; burst++) {
      produce(1000);
      await sleep(50);
    }
    // The writer failed, spooled to disk, and is retrying: the events are durable while we wait.
    assert.equal(await logger.flush({ timeoutMs: 300 }), false);
    const spooled = readdirSync(spoolDir).filter((f) => f.endsWith('.ndjson'));
    assert.ok(spooled.length > 0, 'batches are on disk while the database is unreachable');
    assert.ok(logger.stats().failing);

    await proxy.restore();
    produce(2000);
    assert.equal(await logger.flush(), true);
    assert.equal(readdirSync(spoolDir).filter((f) => f.endsWith('.ndjson')).length, 0, 'the spool is drained');
    await logger.close();

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM logs');
      assert.equal(rows[0].n, ids.length);
      assert.equal(rows[0].d, ids.length);
      const { rows: order } = await client.query<{ id: string }>('SELECT id FROM logs ORDER BY seq');
      assert.deepEqual(order.map((r) => r.id), ids, 'replayed in acceptance order');
    } finally {
      await client.end();
    }
  });
});
