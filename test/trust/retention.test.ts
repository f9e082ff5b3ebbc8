/**
 * Retention: the only path that removes events. PostgreSQL drops whole monthly partitions, the
 * embedded database deletes rows; either way the removed positions become signed anchors, the
 * rollups of those hours are pruned, the removal is an audit event, and verify still succeeds —
 * while any other removal is still named. Also the CLI: verify, checkpoint --export, retention.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { insertEvents } from '../../src/events/insertEvents.js';
import type { EventRow } from '../../src/events/types.js';
import { validateEvent } from '../../src/events/validate.js';
import type { Store } from '../../src/store/store.js';
import { createCheckpoint, loadSigningKey, readCheckpointFile } from '../../src/trust/checkpoints.js';
import { applyRetention, parseAge, RETENTION_EVENT } from '../../src/trust/retention.js';
import { verifyChain } from '../../src/trust/verify.js';
import { startServe, vigil } from '../cli/cli.js';
import { BACKENDS, openHandles, openTestStore, tempDir } from '../helpers/stores.js';

const DAY = 86_400_000;
const NOW = new Date();

function modelCall(i: number, time: number): EventRow {
  const v = validateEvent(
    { event_type: 'model_called', model_name: 'gpt-4', provider: 'openai', tokens_used: 100 + i, response_time_ms: 10, cost_usd: 0.01, timestamp: new Date(time).toISOString() },
    NOW.getTime(),
  );
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.row;
}

/** Old events (from ~600 to ~400 days ago) and recent ones, written interleaved as late arrivals would be. */
function mixed(n: number): { rows: EventRow[]; old: number } {
  const rows: EventRow[] = [];
  let old = 0;
  for (let i = 0; i < n; i++) {
    const isOld = i % 3 !== 2;
    if (isOld) old++;
    const time = isOld ? NOW.getTime() - 600 * DAY + i * (200 * DAY) / n : NOW.getTime() - 30 * DAY + i * 1000;
    rows.push(modelCall(i, time));
  }
  return { rows, old };
}

describe('parseAge', () => {
  it('reads 365d, 52w, 1y and 36h, and refuses anything else with the reason', () => {
    assert.equal(parseAge('365d'), 365 * DAY);
    assert.equal(parseAge('52w'), 364 * DAY);
    assert.equal(parseAge('1y'), 365 * DAY);
    assert.equal(parseAge('36h'), 1.5 * DAY);
    assert.throws(() => parseAge('5m'), /expected an age like 365d/);
    assert.throws(() => parseAge('12h'), /at least 1 day/);
    assert.throws(() => parseAge('forever'), /got "forever"/);
  });
});

for (const backend of BACKENDS) {
  describe(`retention on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    const { rows, old } = mixed(300);

    before(async () => {
      env = await backend.setup();
      store = await openTestStore(env);
      for (let i = 0; i < rows.length; i += 40) await insertEvents(store, rows.slice(i, i + 40));
    });
    after(async () => {
      await store?.close();
      await env?.cleanup();
      assert.deepEqual(openHandles(), [], 'the test left sockets or servers open');
    });

    it('is the only way rows leave: a plain DELETE is refused', async () => {
      await assert.rejects(store.query('DELETE FROM logs WHERE seq = 1'), /append-only/);
    });

    it('removes the old events, records signed anchors and an audit event, prunes rollups, and verify still succeeds', async () => {
      const key = loadSigningKey(join(tempDir(), 'k.pem'));
      const before = await createCheckpoint(store, key);
      assert.ok(before);
      const dry = await applyRetention(store, { olderThanMs: 365 * DAY, key, dryRun: true, now: NOW });
      assert.equal(dry.dry_run, true);
      const { rows: still } = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM logs');
      assert.equal(still[0].n, rows.length, 'a dry run removes nothing');

      const r = await applyRetention(store, { olderThanMs: 365 * DAY, key, now: NOW });
      assert.equal(r.rows_removed, dry.rows_removed);
      const removedBefore = Date.parse(r.removed_before!);
      const expected = rows.filter((x) => x.time < removedBefore).length;
      assert.equal(r.rows_removed, expected);
      if (backend.name === 'postgres') {
        assert.ok(r.partitions_dropped.length >= 5, `whole months dropped: ${r.partitions_dropped.join(', ')}`);
        assert.ok(removedBefore <= NOW.getTime() - 365 * DAY && new Date(removedBefore).getUTCDate() === 1);
      } else {
        assert.equal(removedBefore, NOW.getTime() - 365 * DAY);
        assert.equal(expected, old);
      }
      // Late arrivals interleave old and new rows in the chain: several runs, one anchor each.
      assert.ok(r.anchors.length > 1, `anchors: ${r.anchors.length}`);

      const { rows: left } = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM logs WHERE "timestamp" < $1`, [r.removed_before]);
      assert.equal(left[0].n, 0);
      const { rows: ev } = await store.query<{ log_metadata: { rows_removed: number; partitions_dropped: string[] } }>(
        'SELECT log_metadata FROM logs WHERE event_type = $1',
        [RETENTION_EVENT],
      );
      assert.equal(ev.length, 1);
      assert.equal(ev[0].log_metadata.rows_removed, expected);
      const { rows: hours } = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM stats_costs_hourly WHERE hour < $1`, [r.removed_before]);
      assert.equal(hours[0].n, 0, 'the rollups of removed hours are pruned');

      const v = await verifyChain(store);
      assert.equal(v.ok, true, JSON.stringify(v.problems));
      assert.equal(v.chained, rows.length - expected + 1);
      assert.ok(v.anchors_used >= 1);
    });

    it('still names a row removed behind Vigil\'s back after retention', async () => {
      const { rows: pick } = await store.query<{ seq: string; chain_pos: string }>('SELECT seq, chain_pos FROM logs ORDER BY seq DESC OFFSET 5 LIMIT 1');
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.query('SET LOCAL session_replication_role = replica');
          await tx.query('DELETE FROM logs WHERE seq = $1', [pick[0].seq]);
          const v = await verifyChain(tx);
          assert.equal(v.ok, false);
          assert.equal(v.problems[0].kind, 'removed');
          assert.equal(v.problems[0].chain_pos, Number(pick[0].chain_pos));
          throw new Error('roll back');
        }),
        /roll back/,
      );
    });
  });
}

describe('the CLI: verify, checkpoint --export, retention', () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  after(() => assert.deepEqual(openHandles(), []));

  it('verifies an intact trail, exports checkpoints, and exits 2 naming a changed row', async () => {
    const store = await openTestStore({ dataDir: data });
    try {
      await insertEvents(store, mixed(30).rows);
    } finally {
      await store.close();
    }
    const cp = await vigil(['checkpoint', '--data', data, '--export', join(dir, 'cp.ndjson')]);
    assert.equal(cp.code, 0, cp.stderr);
    assert.match(cp.stdout, /signed position 30 .* with key [0-9a-f]{16}/);
    assert.ok(existsSync(join(data, 'checkpoint-key.pem')));
    assert.equal(readCheckpointFile(join(dir, 'cp.ndjson')).length, 1);
    assert.doesNotMatch(readFileSync(join(dir, 'cp.ndjson'), 'utf8'), /PRIVATE/);

    const ok = await vigil(['verify', '--data', data, '--checkpoint', join(dir, 'cp.ndjson')]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^OK: 30 rows verified/);
    assert.match(ok.stdout, /1 signed checkpoints agree/);

    const reopened = await openTestStore({ dataDir: data });
    try {
      await reopened.transaction(async (tx) => {
        await tx.query('SET LOCAL session_replication_role = replica');
        await tx.query(`UPDATE logs SET message = 'edited' WHERE chain_pos = 7`);
      });
    } finally {
      await reopened.close();
    }
    const bad = await vigil(['verify', '--data', data]);
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /^TAMPERED: 1 problem .*\n {4}row seq \d+ \(id [0-9a-f-]+, position 7\) was changed/);
    assert.match(bad.stderr, /failed verification/);
  });

  it('refuses a bad --older-than and a malformed checkpoint file with the reason', async () => {
    const r = await vigil(['retention', '--data', data, '--older-than', '5m']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--older-than: expected an age like 365d/);
    const f = join(dir, 'junk.ndjson');
    (await import('node:fs')).writeFileSync(f, '{"kind":"checkpoint"}\n');
    const v = await vigil(['verify', '--data', data, '--checkpoint', f]);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /junk.ndjson:1: not a Vigil checkpoint/);
  });

  it('goes through the running server when one holds the embedded database', async () => {
    const serve = await startServe(['--data', data]);
    try {
      const cp = await vigil(['checkpoint', '--data', data, '--force']);
      assert.equal(cp.code, 0, cp.stderr);
      assert.match(cp.stdout, /signed position \d+/);
      const v = await vigil(['verify', '--data', data, '--json']);
      assert.equal(v.code, 2, 'the row edited above is still named, through the server');
      const report = JSON.parse(v.stdout) as { ok: boolean; problems: { kind: string; chain_pos: number }[] };
      assert.deepEqual(report.problems.map((p) => [p.kind, p.chain_pos]), [['changed', 7]]);
      const dry = await vigil(['retention', '--data', data, '--older-than', '365d', '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^would remove 20 events older than /);
    } finally {
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0);
    }
  });

  it('retention removes old events and says so', async () => {
    const r = await vigil(['retention', '--data', data, '--older-than', '365d']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^removed 20 events older than /);
    assert.match(r.stdout, /signed retention anchors/);
  });
});
