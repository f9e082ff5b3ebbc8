/**
 * The trail follower's two defensive paths, on a real database: more open holes than it keeps
 * (the oldest are given up, every committed row still comes once, in order), and a subscription
 * that cannot start because the trail cannot be read (the client is told, and is not subscribed).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { EventRow } from '../../src/events/types.js';
import { MAX_HOLES, TrailFollower } from '../../src/http/stream/follower.js';
import { StreamHub, type StreamClient } from '../../src/http/stream/hub.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';

/** A pino logger at debug level whose lines are kept, parsed. */
function capturingLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const backend of BACKENDS) {
  describe(`the trail follower's limits on ${backend.name}`, { skip: backend.skip }, () => {
    it(`gives up the oldest holes beyond ${MAX_HOLES}, and still delivers every committed row once, in order`, async () => {
      const env = await backend.setup();
      const store = await openTestStore(env);
      const { log, lines } = capturingLogger();
      const got: EventRow[] = [];
      // A clock that never moves: no hole is given up for its age, only for their number.
      const follower = new TrailFollower({ db: store, log, deliver: (rows) => got.push(...rows), pollMs: 20, now: () => 0 });
      try {
        await follower.start();
        const n = MAX_HOLES + 10;
        // Each row after a seq taken and never used: a hole before every row, n holes in all.
        await store.query(
          `INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata)
           SELECT gen_random_uuid(), 'INFO', 'row ' || g, now(), 'task_created', jsonb_build_object('task_id', 'row_' || g)
             FROM generate_series(1, $1::int) AS g
            WHERE nextval(pg_get_serial_sequence('logs', 'seq')) > 0`,
          [n],
        );
        const { rows } = await store.query<{ holes: number }>(
          `SELECT count(*)::int AS holes FROM (SELECT seq - lag(seq) OVER (ORDER BY seq) AS step FROM logs) s WHERE step > 1`,
        );
        assert.equal(rows[0].holes, n - 1, 'a hole between every two rows (and one before the first)');
        follower.wake();
        await until('every row', () => got.length >= n);
        assert.equal(follower.gaveUp, 10, 'the ten oldest holes, beyond the cap');
        const gaveUp = lines.filter((l) => l.why === 'too many holes');
        assert.equal(gaveUp.length, 1, JSON.stringify(lines));
        assert.equal(gaveUp[0].holes, 10);
        const tasks = got.map((r) => (r.metadata as { task_id: string }).task_id);
        assert.deepEqual(tasks, Array.from({ length: n }, (_, i) => `row_${i + 1}`), 'each once, in seq order');
      } finally {
        await follower.stop();
        await store.close();
        await env.cleanup();
      }
    });

    it('answers a subscription it cannot start with the reason, and leaves the client unsubscribed', async () => {
      const env = await backend.setup();
      const store = await openTestStore(env);
      const hub = new StreamHub({ store, log: pino({ level: 'silent' }), follow: { pollMs: 20 } });
      const client: StreamClient = {
        id: 1,
        identity: { principal: { id: 'k1', name: 'reader', scopes: ['read'], rateLimitPerMinute: null }, userId: null },
        events: null,
      };
      try {
        // The trail cannot be read: the database is gone.
        await store.close();
        const refused = await hub.subscribeEvents(client, {});
        assert.match(refused ?? '', /^events cannot be streamed now: reading the trail failed \(.+\); subscribe again later$/);
        assert.equal(client.events, null, 'not subscribed');
        assert.equal(hub.follower!.active, false, 'the follower did not start');
      } finally {
        await hub.close();
        await env.cleanup();
      }
    });
  });
}
