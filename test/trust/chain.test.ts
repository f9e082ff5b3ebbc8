/**
 * The tamper-evident log: every row Vigil writes is chained; changes made directly in the database
 * (with the append-only triggers switched off, as an intruder with database rights could) are each
 * found and named by verify. Each tampering runs in a transaction that verify reads through and
 * that is then rolled back, so every case starts from the same intact trail.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, it } from 'node:test';
import { insertEvents } from '../../src/events/insertEvents.js';
import type { EventRow } from '../../src/events/types.js';
import { validateEvent } from '../../src/events/validate.js';
import type { Store, Tx } from '../../src/store/store.js';
import { CHAIN_MOVED, appendAhead, canonicalJson, canonicalRow, chainAhead, link, mergePrepared, prepareRows, type ChainTail, type PreparedRows } from '../../src/trust/chain.js';
import { sqlState } from '../../src/store/store.js';
import { storeSink } from '../../src/events/sink.js';
import { createCheckpoint, listCheckpoints, loadSigningKey, signatureValid } from '../../src/trust/checkpoints.js';
import { verifyChain, type VerifyOptions, type VerifyReport } from '../../src/trust/verify.js';
import { BACKENDS, openHandles, openTestStore, tempDir } from '../helpers/stores.js';
import { join } from 'node:path';

const T0 = Date.UTC(2026, 10, 20, 12);

function events(n: number, from = 0): EventRow[] {
  const out: EventRow[] = [];
  for (let i = from; i < from + n; i++) {
    const e =
      i % 3 === 0
        ? { event_type: 'task_created', task_id: `task_${i}`, task_type: 'content_generation', created_by: `user_${i % 7}`, description: `line one\nline\ttwo ${i} — ünïcødé` }
        : i % 3 === 1
          ? { event_type: 'model_called', model_name: 'gpt-4', provider: 'openai', tokens_used: 1000 + i, response_time_ms: 12.5, cost_usd: 0.0301 }
          : { event_type: 'agent.custom', nested: { b: [1, { z: true, a: null }], a: 'x' }, n: 1e21, s: '\\"' };
    const v = validateEvent({ ...e, timestamp: new Date(T0 + i * 1000).toISOString() }, T0);
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    out.push(v.row);
  }
  return out;
}

/** Runs `fn` in a transaction with the append-only triggers off, then rolls everything back. */
async function tampered(store: Store, fn: (tx: Tx) => Promise<void>, opts: VerifyOptions = {}): Promise<VerifyReport> {
  let report: VerifyReport | undefined;
  await assert.rejects(
    store.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await fn(tx);
      report = await verifyChain(tx, { pageRows: 97, ...opts });
      throw new Error('roll back');
    }),
    /roll back/,
  );
  return report!;
}

/** Changes row seq 10, then recomputes every hash after it and the head, and deletes the checkpoints. */
async function rewriteAndRechain(tx: Tx): Promise<void> {
  await tx.query(`UPDATE logs SET message = 'rewritten' WHERE seq = 10`);
  const { rows } = await tx.query<{ seq: string; id: string; level: string; message: string; t: string; event_type: string; log_metadata: unknown; chain_pos: string }>(
    `SELECT seq, id::text AS id, level, message, (extract(epoch FROM "timestamp") * 1000)::bigint::text AS t, event_type, log_metadata, chain_pos FROM logs ORDER BY seq`,
  );
  let prev: Buffer = Buffer.alloc(32);
  for (const row of rows) {
    prev = link(prev, row.chain_pos, canonicalRow(row.id, row.level, row.t, row.event_type, row.message, canonicalJson(row.log_metadata)!));
    await tx.query('UPDATE logs SET chain_hash = $1 WHERE seq = $2', [prev, row.seq]);
  }
  await tx.query('UPDATE vigil_chain SET hash = $1', [prev]);
  await tx.query('DELETE FROM vigil_checkpoints');
}

async function rowAt(db: Store, seq: number): Promise<{ id: string; chain_pos: string }> {
  const { rows } = await db.query<{ id: string; chain_pos: string }>('SELECT id::text AS id, chain_pos FROM logs WHERE seq = $1', [seq]);
  return rows[0];
}

/** The head records the seq of the row at its position (the checkpoints sign it). */
async function assertHeadSeq(db: Store): Promise<void> {
  const { rows } = await db.query<{ seq: string; row_seq: string | null }>('SELECT c.seq, (SELECT l.seq FROM logs l WHERE l.chain_pos = c.pos) AS row_seq FROM vigil_chain c');
  assert.ok(rows[0].row_seq !== null, 'a row at the head position');
  assert.equal(rows[0].seq, rows[0].row_seq, 'the head seq is that of the row at its position');
}

for (const backend of BACKENDS) {
  describe(`the hash chain on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    const N = 400;

    before(async () => {
      env = await backend.setup();
      store = await openTestStore(env);
      const rows = events(N);
      // Batches of several sizes, one of them written twice (a retry), and concurrent writers.
      await insertEvents(store, rows.slice(0, 150));
      await insertEvents(store, rows.slice(100, 200));
      await Promise.all([insertEvents(store, rows.slice(200, 300)), insertEvents(store, rows.slice(300, 400))]);
    });
    after(async () => {
      await store?.close();
      await env?.cleanup();
      assert.deepEqual(openHandles(), [], 'the test left sockets or servers open');
    });

    it('chains every row once, in seq order, with no gaps, and verifies OK', async () => {
      const { rows } = await store.query<{ n: number; lo: string; hi: string; pos: number }>(
        'SELECT count(*)::int AS n, min(chain_pos) AS lo, max(chain_pos) AS hi, count(DISTINCT chain_pos)::int AS pos FROM logs',
      );
      assert.deepEqual({ ...rows[0], lo: Number(rows[0].lo), hi: Number(rows[0].hi) }, { n: N, lo: 1, hi: N, pos: N });
      const r = await verifyChain(store, { pageRows: 97 });
      assert.equal(r.ok, true, JSON.stringify(r.problems));
      assert.equal(r.chained, N);
      assert.equal(r.head_pos, N);
      await assertHeadSeq(store);
    });

    it('recomputes each hash from the stored row exactly as written', async () => {
      const { rows } = await store.query<{ id: string; level: string; message: string; t: string; event_type: string; log_metadata: unknown; chain_pos: string; chain_hash: Uint8Array }>(
        `SELECT id::text AS id, level, message, (extract(epoch FROM "timestamp") * 1000)::bigint::text AS t, event_type, log_metadata, chain_pos, chain_hash
           FROM logs WHERE chain_pos IN (1, 2) ORDER BY chain_pos`,
      );
      let prev: Buffer = Buffer.alloc(32);
      for (const r of rows) {
        const h = link(prev, r.chain_pos, canonicalRow(r.id, r.level, r.t, r.event_type, r.message, canonicalJson(r.log_metadata)!));
        assert.equal(h.toString('hex'), Buffer.from(r.chain_hash).toString('hex'));
        prev = h;
      }
    });

    it('names a row whose content was changed', async () => {
      const victim = await rowAt(store, 120);
      const r = await tampered(store, (tx) => tx.query(`UPDATE logs SET message = 'nothing happened' WHERE seq = 120`).then(() => undefined));
      assert.equal(r.ok, false);
      assert.equal(r.problems[0].kind, 'changed');
      assert.equal(r.problems[0].seq, 120);
      assert.match(r.problems[0].message, new RegExp(`row seq 120 \\(id ${victim.id}, position ${victim.chain_pos}\\) was changed`));
      assert.equal(r.problem_count, 1);
    });

    it('names a row whose metadata was changed, even by one JSON value', async () => {
      const r = await tampered(store, (tx) =>
        tx.query(`UPDATE logs SET log_metadata = jsonb_set(log_metadata, '{tokens_used}', '1') WHERE seq = 2`).then(() => undefined),
      );
      assert.equal(r.problems[0].kind, 'changed');
      assert.equal(r.problems[0].seq, 2);
    });

    it('names a removed row by its position and neighbours', async () => {
      const { rows: near } = await store.query<{ seq: string }>('SELECT seq FROM logs WHERE chain_pos IN (249, 250, 251) ORDER BY seq');
      const [before, victim, next] = near.map((x) => Number(x.seq));
      const r = await tampered(store, (tx) => tx.query('DELETE FROM logs WHERE seq = $1', [victim]).then(() => undefined));
      assert.equal(r.ok, false);
      assert.equal(r.problems[0].kind, 'removed');
      assert.equal(r.problems[0].chain_pos, 250);
      assert.match(r.problems[0].message, new RegExp(`the row at position 250 was removed .*after row seq ${before}, before row seq ${next}`));
      assert.equal(r.problem_count, 1);
    });

    it('names rows removed from the end of the trail', async () => {
      const r = await tampered(store, (tx) => tx.query('DELETE FROM logs WHERE chain_pos > 395').then(() => undefined));
      assert.equal(r.problems[0].kind, 'removed');
      assert.match(r.problems[0].message, /positions 396–400 were removed/);
    });

    it('names a row inserted behind Vigil\'s back, with or without a forged position', async () => {
      const [forged] = events(1, 9000);
      const plain = await tampered(store, (tx) =>
        tx
          .query(`INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata) VALUES ($1, 'INFO', 'forged', now(), $2, $3)`, [
            forged.id,
            forged.event_type,
            forged.metadata,
          ])
          .then(() => undefined),
      );
      assert.equal(plain.problems[0].kind, 'inserted');
      assert.match(plain.problems[0].message, new RegExp(`id ${forged.id}\\) was inserted behind Vigil's back`));
      const withPos = await tampered(store, (tx) =>
        tx
          .query(`INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata, chain_pos, chain_hash) VALUES ($1, 'INFO', 'forged', now(), $2, $3, 17, $4)`, [
            forged.id,
            forged.event_type,
            forged.metadata,
            Buffer.alloc(32, 7),
          ])
          .then(() => undefined),
      );
      assert.equal(withPos.problems[0].kind, 'inserted');
      assert.match(withPos.problems[0].message, /claims position 17/);
    });

    let keyPath: string;
    before(() => {
      keyPath = join(tempDir(), 'checkpoint-key.pem');
    });

    it('signs checkpoints; a rewritten and re-chained trail is caught by a checkpoint kept outside the database', async () => {
      const key = loadSigningKey(keyPath);
      const cp = await createCheckpoint(store, key);
      assert.ok(cp !== null && signatureValid(cp));
      assert.equal(cp.chain_pos, N);
      assert.equal(await createCheckpoint(store, key), null, 'no new checkpoint while the head has not moved');
      const exported = await listCheckpoints(store);
      const ok = await verifyChain(store, { fileCheckpoints: exported });
      assert.equal(ok.ok, true, JSON.stringify(ok.problems));
      assert.equal(ok.checkpoints_checked, 1, "the exported copy of a checkpoint counts once");

      // The intruder changes row 10, recomputes every later hash and the head, and deletes the
      // checkpoints from the database: the chain is self-consistent again.
      const r = await tampered(store, rewriteAndRechain);
      assert.equal(r.ok, true, 'without an outside checkpoint the rewrite is self-consistent');
      const caught = await tampered(store, async (tx) => {
        await tx.query(`UPDATE logs SET message = 'rewritten' WHERE seq = 10`);
      });
      assert.equal(caught.ok, false);
      // With the exported checkpoints, the fully re-chained rewrite is named too.
      const withFile = await tampered(store, rewriteAndRechain, { fileCheckpoints: exported });
      assert.equal(withFile.ok, false);
      assert.equal(withFile.problems[0].kind, 'checkpoint');
      assert.match(withFile.problems[0].message, new RegExp(`signed position ${N} with another hash`));
    });

    it('refuses a checkpoint whose signature was altered, and one from an untrusted key', async () => {
      const key = loadSigningKey(keyPath);
      await insertEvents(store, events(1, 5000));
      const cp = (await createCheckpoint(store, key))!;
      const forged = { ...cp, hash: 'ab'.repeat(32) };
      const r = await verifyChain(store, { fileCheckpoints: [forged] });
      assert.equal(r.problems[0].kind, 'checkpoint');
      assert.match(r.problems[0].message, /signature that does not hold/);
      const other = loadSigningKey(join(tempDir(), 'other.pem'));
      const pinned = await verifyChain(store, { trustedKeys: [other.keyId] });
      assert.match(pinned.problems[0].message, new RegExp(`signed by key ${key.keyId}, which is not trusted`));
      const good = await verifyChain(store, { trustedKeys: [key.keyId] });
      assert.equal(good.ok, true, JSON.stringify(good.problems));
    });

    it('encodes any JSON metadata the same after the database round trip (property)', async () => {
      const cases = fc.sample(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }), { numRuns: 300, seed: 7 });
      const rows: EventRow[] = [];
      for (const fields of cases) {
        const v = validateEvent({ ...fields, event_type: 'prop.case', timestamp: new Date(T0).toISOString() }, T0);
        if (v.ok) rows.push(v.row);
      }
      assert.ok(rows.length > 200, `${rows.length} valid cases`);
      // A message starting with a byte order mark (the embedded store's text decoder drops it on read).
      const bom = validateEvent({ event_type: 'prop.case', message: '\uFEFFstarts with a BOM', timestamp: new Date(T0).toISOString() }, T0);
      assert.ok(bom.ok);
      rows.push(bom.row);
      const { rows: before } = await store.query<{ n: string }>('SELECT count(*) AS n FROM logs');
      await insertEvents(store, rows);
      const r = await verifyChain(store);
      assert.equal(r.ok, true, JSON.stringify(r.problems.slice(0, 3)));
      assert.equal(r.chained, Number(before[0].n) + rows.length);
    });

    it('verifies a live trail: rows committed while it reads are checked, not reported as inserted', async () => {
      let stop = false;
      let k = 0;
      const writer = (async () => {
        while (!stop) await insertEvents(store, events(20, 20_000 + 20 * k++));
      })();
      try {
        for (let i = 0; i < 3; i++) {
          const r = await verifyChain(store, { pageRows: 50 });
          assert.equal(r.ok, true, JSON.stringify(r.problems));
        }
      } finally {
        stop = true;
        await writer;
      }
      assert.ok(k > 0);
    });

    it('chains batches ahead of their write, and chains them again when another writer moved the head', async () => {
      const a = storeSink(store, false);
      const b = storeSink(store, false);
      const batch = (k: number) => events(30, 40_000 + 30 * k);
      // Two writes in a row that find the head where the writer left it: it is writing alone.
      for (const first of [batch(0), batch(5)]) await a.write(first, await a.prepare!(first));
      const ready = async (r: EventRow[]) => (await a.combine!([await a.prepare!(r)])) as PreparedRows;
      // Prepared while nothing else wrote: chained ahead from where a's last batch ended.
      const [r1, r2] = [batch(1), batch(2)];
      const [p1, p2] = [await ready(r1), await ready(r2)];
      assert.ok(p1.ahead && p2.ahead && p2.ahead.from.pos === p1.ahead.end.pos);
      // Another writer moves the head: both must be chained again from the real head.
      const other = batch(3);
      await b.write(other, await b.prepare!(other));
      await a.write(r1, p1);
      await a.write(r2, p2);
      // After writes that found the head where a left it, a chains ahead again and it is used as it is.
      const r6 = batch(6);
      await a.write(r6, await ready(r6));
      const r4 = batch(4);
      const p4 = await ready(r4);
      await a.write(r4, p4);
      const { rows } = await store.query<{ pos: string; hash: Uint8Array }>('SELECT pos, hash FROM vigil_chain');
      assert.ok(p4.ahead, 'chained ahead');
      assert.equal(Number(rows[0].pos), p4.ahead.end.pos);
      assert.ok(Buffer.from(rows[0].hash).equals(p4.ahead!.end.hash));
      const r = await verifyChain(store);
      assert.equal(r.ok, true, JSON.stringify(r.problems));
    });

    it('writes a batch chained ahead in one round trip where the store can, and nothing of it when the head moved or a row is refused', async () => {
      const tail: ChainTail = { last: null };
      // The first write finds the head: the usual transaction, which tells the tail where it is.
      await insertEvents(store, events(10, 50_000), undefined, tail);
      let transactions = 0;
      const counted: Store = Object.assign(Object.create(store) as Store, {
        transaction: <T>(fn: (tx: Tx) => Promise<T>) => {
          transactions++;
          return store.transaction(fn);
        },
      });
      const chained = (rows: EventRow[]) => {
        const p = prepareRows(rows);
        tail.alone = true;
        chainAhead(p, tail);
        assert.ok(p.ahead, 'chained ahead');
        return p;
      };
      const r1 = events(10, 50_010);
      await insertEvents(counted, r1, chained(r1), tail);
      // PostgreSQL: one round trip, no transaction of several; embedded: the usual transaction.
      assert.equal(transactions, store.copyTransaction ? 0 : 1);
      await assertHeadSeq(store);
      if (store.copyTransaction) {
        // Another writer moved the head: the batch chained ahead is refused whole, nothing is written.
        const r2 = events(10, 50_020);
        const p2 = chained(r2);
        await insertEvents(store, events(5, 50_100));
        const before = await store.query<{ n: number }>('SELECT count(*)::int AS n FROM logs');
        await assert.rejects(appendAhead(store, p2, tail), (err) => sqlState(err) === CHAIN_MOVED && /chain head is at/.test((err as Error).message));
        assert.deepEqual((await store.query<{ n: number }>('SELECT count(*)::int AS n FROM logs')).rows, before.rows);
        // insertEvents then writes it the usual way, chained from the real head.
        await insertEvents(store, r2, p2, tail);
        // A row the database refuses (the level CHECK): the error names it, nothing is written, the
        // head stays, and the connection goes back to the pool usable.
        const bad = events(3, 50_030);
        (bad[1] as { level: string }).level = 'LOUD';
        const p3 = chained(bad);
        const head = (await store.query<{ pos: string }>('SELECT pos FROM vigil_chain')).rows[0].pos;
        await assert.rejects(appendAhead(store, p3, tail), (err) => sqlState(err) === '23514');
        assert.equal((await store.query<{ pos: string }>('SELECT pos FROM vigil_chain')).rows[0].pos, head);
        assert.equal((await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM logs WHERE id = ANY($1::uuid[])`, [bad.map((r) => r.id)])).rows[0].n, 0);
        for (let i = 0; i < 12; i++) assert.equal((await store.query<{ one: number }>('SELECT 1 AS one')).rows[0].one, 1);
        // A batch resent after its first write did commit: stored once (the unique ids).
        tail.last = null;
        await insertEvents(store, events(4, 50_040), undefined, tail);
        const again = events(4, 50_040);
        for (let i = 0; i < 4; i++) (again[i] as { id: string }).id = (await store.query<{ id: string }>('SELECT id::text AS id FROM logs ORDER BY chain_pos DESC LIMIT 1 OFFSET $1', [3 - i])).rows[0].id;
        await insertEvents(store, again, chained(again), tail);
        assert.equal((await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM logs WHERE id = ANY($1::uuid[])`, [again.map((r) => r.id)])).rows[0].n, 4);
        // Half resent, half new: the stored ones are left out, the head is the last new row.
        const half = [...events(2, 50_040), ...events(2, 50_050)];
        for (let i = 0; i < 2; i++) (half[i] as { id: string }).id = again[i].id;
        await insertEvents(store, half, chained(half), tail);
        await assertHeadSeq(store);
      }
      const r = await verifyChain(store);
      assert.equal(r.ok, true, JSON.stringify(r.problems));
    });

    it('merges prepared batches, chained ahead only when every part continues the one before', () => {
      const tail: ChainTail = { last: { pos: 7, hash: Buffer.alloc(32, 1) }, alone: true };
      const plain = prepareRows(events(2, 60_000));
      const [a, b] = [prepareRows(events(2, 60_002)), prepareRows(events(3, 60_004))];
      chainAhead(a, tail);
      chainAhead(b, tail);
      // A part submitted before the chain's end was known, then parts chained ahead (the server's
      // first commits under load): merged, and not chained ahead.
      const mixed = mergePrepared([plain, a, b]);
      assert.equal(mixed.n, 7);
      assert.equal(mixed.ahead, undefined);
      const both = mergePrepared([a, b]);
      assert.equal(both.ahead?.from.pos, 7);
      assert.equal(both.ahead?.end.pos, 12);
      assert.equal(mergePrepared([a, plain]).ahead, undefined);
    });
  });
}
