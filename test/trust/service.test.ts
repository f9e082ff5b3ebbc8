/**
 * What `vigil serve` runs on a schedule: signed checkpoints (appended to the export file) and the
 * configured retention; and the trust and retention options of the config.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { insertEvents } from '../../src/events/insertEvents.js';
import { validateEvent } from '../../src/events/validate.js';
import type { Store } from '../../src/store/store.js';
import { readCheckpointFile } from '../../src/trust/checkpoints.js';
import { TrustService } from '../../src/trust/service.js';
import { openHandles, openTestStore, tempDir } from '../helpers/stores.js';

async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the trust schedules', () => {
  let store: Store;
  const dir = tempDir();
  before(async () => {
    store = await openTestStore({ dataDir: join(dir, 'data') });
  });
  after(async () => {
    await store.close();
    assert.deepEqual(openHandles(), []);
  });

  it('signs the head on its interval when it moved, appends each checkpoint to the export file, and applies retention', async () => {
    const exportFile = join(dir, 'archive', 'checkpoints.ndjson');
    const t = new TrustService(store, {
      store: { data_dir: join(dir, 'data'), pool_size: 1 },
      trust: { checkpoint_interval_ms: 40, checkpoint_export_file: exportFile },
      retention: { older_than: '30d', interval_ms: 60 },
    });
    const old = validateEvent({ event_type: 'task_created', task_id: 'old', task_type: 'x', created_by: 'u', timestamp: new Date(Date.now() - 90 * 86_400_000).toISOString() }, Date.now());
    const fresh = validateEvent({ event_type: 'task_created', task_id: 'new', task_type: 'x', created_by: 'u' }, Date.now());
    assert.ok(old.ok && fresh.ok);
    await insertEvents(store, [old.row, fresh.row]);
    t.start();
    try {
      await until(async () => (await t.list()).some((c) => c.kind === 'checkpoint'), 'a checkpoint');
      await until(async () => (await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM logs WHERE event_type = 'retention.applied'`)).rows[0].n === 1, 'retention');
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      t.stop();
    }
    const stored = await t.list();
    const checkpoints = stored.filter((c) => c.kind === 'checkpoint');
    // The head moved twice (the events, then the retention event): no checkpoint of an unmoved head.
    assert.ok(checkpoints.length >= 1 && checkpoints.length <= 2, `${checkpoints.length} checkpoints`);
    assert.equal(new Set(checkpoints.map((c) => c.chain_pos)).size, checkpoints.length);
    const exported = readCheckpointFile(exportFile);
    assert.deepEqual(
      exported.map((c) => c.signature).sort(),
      stored.map((c) => c.signature).sort(),
      'every checkpoint and anchor is in the export file',
    );
    assert.equal(statSync(join(dir, 'data', 'checkpoint-key.pem')).mode & 0o777, 0o600);
    const v = await t.verify({ fileCheckpoints: exported });
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    assert.equal(v.chained, 2, 'the fresh event and the retention event');
  });

  it('refuses a key file that is not an Ed25519 PEM key, naming the file', async () => {
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, 'not a key');
    const t = new TrustService(store, { store: { data_dir: dir, pool_size: 1 }, trust: { checkpoint_interval_ms: 0, checkpoint_key_file: bad }, retention: { interval_ms: 86_400_000 } });
    await assert.rejects(t.checkpoint(true), new RegExp(`the checkpoint key ${bad} is not a PEM private key`));
    assert.equal(readFileSync(bad, 'utf8'), 'not a key', 'left as it was');
  });
});

describe('trust and retention options', () => {
  it('reads them from the file and the environment, and names a bad value', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'vigil.config.yaml'), 'trust:\n  checkpoint_interval_ms: 60000\nretention:\n  older_than: 400d\n');
    const cfg = loadConfig({ cwd: dir, env: { VIGIL_CHECKPOINT_EXPORT_FILE: 'cp.ndjson' } });
    assert.equal(cfg.trust.checkpoint_interval_ms, 60_000);
    assert.equal(cfg.trust.checkpoint_export_file, join(dir, 'cp.ndjson'), 'relative to the directory Vigil runs in');
    assert.equal(cfg.retention.older_than, '400d');
    assert.equal(cfg.retention.interval_ms, 86_400_000);
    assert.throws(() => loadConfig({ cwd: dir, env: { VIGIL_RETENTION_OLDER_THAN: '10m' } }), (e: unknown) => e instanceof ConfigError && /VIGIL_RETENTION_OLDER_THAN: expected an age like 365d/.test(e.message));
    writeFileSync(join(dir, 'vigil.config.yaml'), 'trust:\n  checkpoint_every: 5\n');
    assert.throws(() => loadConfig({ cwd: dir, env: {} }), /unknown option trust\.checkpoint_every/);
  });
});
