/**
 * A key's rate limit holds across servers on one PostgreSQL: two apps on one database, each with
 * its own pool, count the same key's requests together.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { SharedRateCounts } from '../../src/http/plugins/sharedRateCounts.js';
import { BACKENDS, openTestStore, PG_SKIP } from '../helpers/stores.js';
import { http, remainingHandles, startHarness } from './harness.js';

describe('rate limits shared by the servers on one PostgreSQL', { skip: PG_SKIP }, () => {
  it('a key limited to 10 a minute gets 10 across two servers, not 10 from each', async () => {
    const env = await BACKENDS[1].setup();
    const shared = { ...BACKENDS[1], setup: async () => ({ ...env, cleanup: async () => undefined }) };
    const servers = [await startHarness(shared), await startHarness(shared)];
    try {
      // The counts are per one-minute window: start well inside one.
      const left = 60_000 - (Date.now() % 60_000);
      if (left < 10_000) await new Promise((r) => setTimeout(r, left + 100));
      const key = await servers[0].key(['read'], 10);
      const get = async (i: number) => (await http(`${servers[i].url}/v1/events?limit=1`, { key })).status;
      for (let n = 0; n < 6; n++) assert.equal(await get(0), 200, `request ${n + 1} on the first server`);
      // The first server adds its count within a second.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await servers[0].store.query<{ n: string | null }>('SELECT sum(count)::text AS n FROM rate_limit_counts');
        if (Number(rows[0].n) === 6) break;
        assert.ok(Date.now() < deadline, `the first server's 6 requests counted in PostgreSQL within 10 s (${rows[0].n})`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const second = [];
      for (let n = 0; n < 6; n++) second.push(await get(1));
      assert.deepEqual(second, [200, 200, 200, 200, 429, 429], 'the second server lets through what is left of the 10');
      const refused = await http(`${servers[1].url}/v1/events?limit=1`, { key });
      assert.equal(refused.body.code, 42901);
      assert.match(String(refused.body.error), /at most 10 per minute/);
      assert.ok(Number(refused.headers.get('retry-after')) <= 60);
    } finally {
      for (const s of servers) await s.close();
      await env.cleanup();
    }
    assert.deepEqual(await remainingHandles(), []);
  });

  it('counts alone while PostgreSQL cannot take the counts, says so once, and adds them when it can', async () => {
    const env = await BACKENDS[1].setup();
    const store = await openTestStore(env);
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const counts = new SharedRateCounts(store, log, 60_000, () => 90_000);
    const incr = (key: string) => new Promise<number>((resolve, reject) => counts.incr(key, (err, res) => (err ? reject(err) : resolve(res.current)), 60_000));
    try {
      await store.query('ALTER TABLE rate_limit_counts RENAME TO rate_limit_counts_away');
      assert.deepEqual([await incr('k'), await incr('k'), await incr('k')], [1, 2, 3], 'counted in this server');
      await counts.sync();
      assert.deepEqual(warnings, ['sharing rate-limit counts failed; counting in this server alone until it works again'], 'said once');
      await store.query('ALTER TABLE rate_limit_counts_away RENAME TO rate_limit_counts');
      // Another server counted 5 meanwhile.
      await store.query('INSERT INTO rate_limit_counts (key_id, window_start, count) VALUES ($1, $2, $3)', ['k', 1, 5]);
      await counts.sync();
      const { rows } = await store.query<{ count: string }>('SELECT count::text FROM rate_limit_counts WHERE key_id = $1 AND window_start = 1', ['k']);
      assert.equal(Number(rows[0].count), 8, 'its 3 added to the 5');
      assert.equal(await incr('k'), 9, 'and the total is what it counts from');
    } finally {
      await counts.close();
      await store.query('ALTER TABLE IF EXISTS rate_limit_counts_away RENAME TO rate_limit_counts');
      await store.close();
      await env.cleanup();
    }
  });
});
