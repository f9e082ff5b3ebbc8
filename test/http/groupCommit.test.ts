import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { CommitterClosedError, GroupCommitter } from '../../src/events/groupCommit.js';
import type { EventRow } from '../../src/events/types.js';
import { validateEvent } from '../../src/events/validate.js';
import type { Store } from '../../src/store/store.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';
import { countLogs, ev, remainingHandles } from './harness.js';

function row(task: string): EventRow {
  const v = validateEvent(ev.created(task), Date.now());
  assert.ok(v.ok);
  return v.row;
}

for (const backend of BACKENDS) {
  describe(`group commit on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    before(async () => {
      env = await backend.setup();
      store = await openTestStore(env);
    });
    after(async () => {
      await store.close();
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    it('commits at once when idle, and gathers what arrives during a commit into the next one', async () => {
      const commits: number[] = [];
      const gc = new GroupCommitter({ store, log: pino({ level: 'silent' }), onCommit: (n, _ms, ok) => ok && commits.push(n) });
      const a = gc.submit([row('a1')]);
      // Submitted while the first commit is in flight: they share the second.
      const b = gc.submit([row('b1'), row('b2')]);
      const c = gc.submit([row('c1')]);
      assert.deepEqual(await Promise.all([a, b, c]), [[null], [null, null], [null]]);
      assert.deepEqual(commits, [1, 3]);
      await gc.close();
    });

    it('commits a submission made as the previous commit answers (none is left waiting for a later one)', async () => {
      const gc = new GroupCommitter({ store, log: pino({ level: 'silent' }) });
      // The second submission comes in the microtask right after the first is answered, before
      // the commit's own bookkeeping is done: it must be committed, not wait for a third request.
      const second = await Promise.race([
        gc.submit([row('m1')]).then(() => gc.submit([row('m2')])),
        new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 5_000).unref()),
      ]);
      assert.deepEqual(second, [null]);
      await gc.close();
    });

    it('isolates a row the database refuses: only that row fails, the others are stored', async () => {
      const gc = new GroupCommitter({ store, log: pino({ level: 'silent' }) });
      const before = await countLogs(store);
      const bad = { ...row('bad'), level: 'LOUD' } as unknown as EventRow; // violates the level CHECK
      const first = gc.submit([row('x1')]);
      const mixed = gc.submit([row('x2'), bad, row('x3')]);
      const other = gc.submit([row('x4')]);
      const [r1, r2, r3] = await Promise.all([first, mixed, other]);
      assert.deepEqual(r1, [null]);
      assert.equal(r2[0], null);
      assert.match(String(r2[1]), /^refused by the database: /);
      assert.equal(r2[2], null);
      assert.deepEqual(r3, [null]);
      assert.equal(await countLogs(store), before + 4);
      await gc.close();
    });

    it('rejects every waiting request when the database fails, and refuses submissions once closed', async () => {
      const down = new PostgresStore('postgres://vigil@127.0.0.1:1/none', { connectTimeoutMs: 2000 });
      const failing = new GroupCommitter({ store: down, log: pino({ level: 'silent' }) });
      const waiting = [failing.submit([row('f1')]), failing.submit([row('f2')]), failing.submit([row('f3')])];
      for (const w of waiting) await assert.rejects(w, /ECONNREFUSED|connect/);
      await failing.close();
      await down.close();
      const gc = new GroupCommitter({ store, log: pino({ level: 'silent' }) });
      await gc.close();
      await assert.rejects(gc.submit([row('late')]), CommitterClosedError);
    });
  });
}
