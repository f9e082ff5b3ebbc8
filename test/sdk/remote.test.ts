/**
 * The remote SDK against a real Vigil server: batches over HTTP, spools while the server is gone,
 * replays in order when it is back, and never stores an event twice.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/http/app.js';
import { createAuditLogger } from '../../src/index.js';
import { BACKENDS, tempDir } from '../helpers/stores.js';
import { countLogs, remainingHandles, startHarness } from '../http/harness.js';

const silent = pino({ level: 'silent' });

for (const backend of BACKENDS) {
  describe(`remote SDK on ${backend.name}`, { skip: backend.skip }, () => {
    it('survives the server being stopped and restarted: every event stored once, in order', async () => {
      const h = await startHarness(backend);
      const key = await h.key(['ingest']);
      const spoolDir = tempDir();
      const logger = createAuditLogger({ url: h.url, apiKey: key, spoolDir, logLine: false, logger: silent, batchSize: 700 });
      const ids: string[] = [];
      const produce = (n: number) => {
        for (let i = 0; i < n; i++) {
          const r = logger.logModelCalled({ model_name: 'gpt-4', provider: 'openai', tokens_used: i, cost_usd: 0.002 });
          assert.equal(r.success, true);
          if (r.success) ids.push(r.id);
        }
      };
      let app = h.app;
      try {
        produce(2500);
        assert.equal(await logger.flush(), true);
        assert.equal(await countLogs(h.store), 2500);

        // The server goes away; the logger keeps accepting and puts batches on disk.
        await app.close();
        produce(3000);
        assert.equal(await logger.flush({ timeoutMs: 500 }), false);
        assert.ok(readdirSync(spoolDir).some((f) => f.endsWith('.ndjson')), 'batches wait in the spool');
        assert.equal(logger.stats().failing, true);

        // The same server comes back on the same port.
        app = await buildApp({ store: h.store, log: silent });
        await app.listen({ host: '127.0.0.1', port: Number(new URL(h.url).port) });
        produce(1000);
        assert.equal(await logger.flush(), true);
        assert.deepEqual(readdirSync(spoolDir).filter((f) => f.endsWith('.ndjson')), []);

        const { rows } = await h.store.query<{ id: string }>('SELECT id FROM logs ORDER BY seq');
        assert.equal(rows.length, ids.length);
        assert.deepEqual(rows.map((r) => r.id), ids, 'each event once, in acceptance order');
      } finally {
        await logger.close();
        await app.close();
        await h.store.close();
      }
      assert.deepEqual(await remainingHandles(), []);
    });

    it('keeps events spooled while the key is refused, and refuses bad input locally', async () => {
      const h = await startHarness(backend);
      const readOnly = await h.key(['read']);
      const spoolDir = tempDir();
      const logger = createAuditLogger({ url: h.url, apiKey: readOnly, spoolDir, logLine: false, logger: silent });
      try {
        const bad = logger.logTaskCreated({ task_id: 't', task_type: 'x' } as never);
        assert.equal(bad.success, false);
        assert.equal((bad as { error: string }).error, 'created_by: required');
        assert.equal(logger.logTaskCreated({ task_id: 't', task_type: 'x', created_by: 'u' }).success, true);
        assert.equal(await logger.flush({ timeoutMs: 400 }), false, 'a key without the ingest scope commits nothing');
        assert.equal(await countLogs(h.store), 0);
        assert.ok(readdirSync(spoolDir).some((f) => f.endsWith('.ndjson')), 'the event is kept, not dropped');
      } finally {
        await logger.close({ timeoutMs: 100 });
        await h.close();
      }
    });
  });
}
