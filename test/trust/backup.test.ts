/**
 * Backup and restore keep the trail verifiable (docs/operations.md#backup-and-restore):
 *
 * - PostgreSQL: a `pg_dump -Fc` restored with `pg_restore` into another database verifies against
 *   the checkpoints exported before the dump (`vigil verify --checkpoint FILE`: exit 0, OK). A
 *   restore from a dump older than the newest exported checkpoint fails verification naming the
 *   position that checkpoint signed and where the restored chain ends. Writes resume on a restore
 *   from its head (the restored partitions keep their rollup triggers: each row counted once), and
 *   the newer checkpoint is then reported as disagreeing with the positions reused.
 * - Embedded: the data directory copied while no process holds it verifies as the original.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { insertEvents } from '../../src/events/insertEvents.js';
import type { EventRow } from '../../src/events/types.js';
import { validateEvent } from '../../src/events/validate.js';
import { LOCK_FILE } from '../../src/store/dataDirLock.js';
import type { Store } from '../../src/store/store.js';
import { CHECKPOINT_KEY_FILE, createCheckpoint, loadSigningKey, readCheckpointFile, type SigningKey } from '../../src/trust/checkpoints.js';
import { vigil } from '../cli/cli.js';
import { createDatabase, dropDatabase, openHandles, openTestStore, PG_SKIP, tempDir } from '../helpers/stores.js';

const run = promisify(execFile);
const DAY = 86_400_000;
const NOW = Date.now();

/** `n` model calls spread over the last ~70 days (three monthly partitions on PostgreSQL). */
function events(n: number, salt: number): EventRow[] {
  const rows: EventRow[] = [];
  for (let i = 0; i < n; i++) {
    const time = NOW - 70 * DAY + Math.floor((i * 69 * DAY) / n) + salt;
    const v = validateEvent(
      { event_type: 'model_called', model_name: 'gpt-4', provider: 'openai', tokens_used: 100 + i, cost_usd: 0.01, task_id: `task-${salt}-${i}`, timestamp: new Date(time).toISOString() },
      NOW,
    );
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    rows.push(v.row);
  }
  return rows;
}

async function pgDump(url: string, file: string): Promise<void> {
  await run('pg_dump', ['--format=custom', `--file=${file}`, `--dbname=${url}`]);
}

async function pgRestore(file: string, url: string): Promise<void> {
  await run('pg_restore', ['--exit-on-error', '--no-owner', `--dbname=${url}`, file]);
}

describe('backup and restore on PostgreSQL: pg_dump, pg_restore, vigil verify --checkpoint', { skip: PG_SKIP }, () => {
  const dir = tempDir('vigil-backup-');
  const data = join(dir, 'data');
  const databases: string[] = [];
  let source: string;
  let store: Store;
  let key: SigningKey;
  const first = events(300, 1);
  const second = events(120, 2);
  const cp1 = join(dir, 'checkpoints-1.ndjson');
  const cp2 = join(dir, 'checkpoints-2.ndjson');
  const dump1 = join(dir, 'before.dump');
  let restored1: string;

  const fresh = async () => {
    const url = await createDatabase();
    databases.push(url);
    return url;
  };
  const verify = (url: string, file: string) => vigil(['verify', '--database-url', url, '--data', data, '--checkpoint', file]);

  before(async () => {
    source = await fresh();
    store = await openTestStore({ databaseUrl: source, dataDir: data });
    key = loadSigningKey(join(data, CHECKPOINT_KEY_FILE));
  });
  after(async () => {
    await store?.close();
    for (const url of databases) await dropDatabase(url);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(openHandles(), [], 'the test left sockets or servers open');
  });

  it('a restored dump verifies against the checkpoints exported before it', async () => {
    for (let i = 0; i < first.length; i += 50) await insertEvents(store, first.slice(i, i + 50));
    const c = await createCheckpoint(store, key);
    assert.equal(c?.chain_pos, first.length);
    // The checkpoint is the head already: the CLI signs nothing more and exports it.
    const exported = await vigil(['checkpoint', '--database-url', source, '--data', data, '--export', cp1]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /has not moved since the last checkpoint/);
    assert.match(exported.stdout, /wrote 1 checkpoints to /);
    assert.deepEqual(readCheckpointFile(cp1), [c]);

    await pgDump(source, dump1);
    restored1 = await fresh();
    await pgRestore(dump1, restored1);
    const { rows: parts } = await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'logs'::regclass`);
    assert.ok(parts[0].n >= 3, `monthly partitions in the source: ${parts[0].n}`);

    const v = await verify(restored1, cp1);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, new RegExp(`^OK: ${first.length} rows verified \\(positions 1–${first.length}, `));
    assert.match(v.stdout, /1 signed checkpoints agree; 0 retention anchors bridge removed rows; head at position 300/);
  });

  it('a restore older than the newest exported checkpoint fails, naming the rows it lacks', async () => {
    for (let i = 0; i < second.length; i += 40) await insertEvents(store, second.slice(i, i + 40));
    const exported = await vigil(['checkpoint', '--database-url', source, '--data', data, '--export', cp2]);
    assert.equal(exported.code, 0, exported.stderr);
    const head = first.length + second.length;
    assert.match(exported.stdout, new RegExp(`^signed position ${head} `));
    assert.equal(readCheckpointFile(cp2).length, 2);

    // The source itself is intact.
    const live = await verify(source, cp2);
    assert.equal(live.code, 0, live.stdout + live.stderr);
    assert.match(live.stdout, /2 signed checkpoints agree/);

    // The backup from before the second batch: the newer checkpoint is beyond its chain's end.
    const old = await verify(restored1, cp2);
    assert.equal(old.code, 2, old.stdout + old.stderr);
    assert.match(old.stdout, new RegExp(`^TAMPERED: 1 problem in ${first.length} rows read from the first row\\. The first:\\n`));
    assert.match(old.stdout, new RegExp(`signed position ${head}, but the chain ends at ${first.length}: rows were removed behind Vigil's back`));
    const json = await vigil(['verify', '--database-url', restored1, '--data', data, '--checkpoint', cp2, '--json']);
    const report = JSON.parse(json.stdout) as { ok: boolean; head_pos: number; last_pos: number; problems: { kind: string; chain_pos: number }[] };
    assert.equal(report.ok, false);
    assert.equal(report.head_pos, first.length, 'the restored head is the dump\'s');
    assert.equal(report.last_pos, first.length);
    assert.deepEqual(report.problems.map((p) => [p.kind, p.chain_pos]), [['removed', head]]);
    // Without the newer file, only what the backup itself holds is checked: it is consistent.
    const alone = await verify(restored1, cp1);
    assert.equal(alone.code, 0, alone.stdout);
  });

  it('writes resume on the restore from its head; the newer checkpoint then disagrees with the positions reused', async () => {
    const r = await openTestStore({ databaseUrl: restored1, dataDir: data });
    const resumed = events(second.length, 3);
    // One batch spanning months (COPY into the parent), one within this month (into its partition).
    const thisMonth = events(5, 5).map((e, i) => ({ ...e, time: NOW - i * 1000 }));
    try {
      await insertEvents(r, resumed);
      await insertEvents(r, thisMonth);
      // The restored partitions kept their triggers: every row counted once by the rollups.
      const { rows } = await r.query<{ logs: number; rolled: number }>(
        `SELECT (SELECT count(*)::int FROM logs WHERE event_type = 'model_called') AS logs, (SELECT sum(calls)::int FROM stats_costs_hourly) AS rolled`,
      );
      assert.deepEqual(rows[0], { logs: first.length + resumed.length + thisMonth.length, rolled: first.length + resumed.length + thisMonth.length });
    } finally {
      await r.close();
    }
    const ok = await verify(restored1, cp1);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`^OK: ${first.length + resumed.length + thisMonth.length} rows verified`));

    const v = await verify(restored1, cp2);
    assert.equal(v.code, 2, v.stdout);
    const head = first.length + second.length;
    assert.match(v.stdout, new RegExp(`the checkpoint of \\S+ signed position ${head} with another hash: the trail up to row seq \\d+ was rewritten`));
  });
});

describe('backup and restore on the embedded store: copy the data directory while it is closed', () => {
  const dir = tempDir('vigil-backup-');
  const data = join(dir, 'data');
  const copy = join(dir, 'copy');
  const file = join(dir, 'checkpoints.ndjson');
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(openHandles(), []);
  });

  it('the copy verifies against the exported checkpoints', async () => {
    const store = await openTestStore({ dataDir: data });
    try {
      await insertEvents(store, events(200, 4));
      assert.ok(existsSync(join(data, LOCK_FILE)), 'an open store holds the data directory');
      assert.ok(await createCheckpoint(store, loadSigningKey(join(data, CHECKPOINT_KEY_FILE))));
    } finally {
      await store.close();
    }
    const exported = await vigil(['checkpoint', '--data', data, '--export', file]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(existsSync(join(data, LOCK_FILE)), false, 'no process holds it now');

    cpSync(data, copy, { recursive: true });
    const v = await vigil(['verify', '--data', copy, '--checkpoint', file]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^OK: 200 rows verified \(positions 1–200, seq 1–200\)/);
    assert.match(v.stdout, /1 signed checkpoints agree/);
  });
});
