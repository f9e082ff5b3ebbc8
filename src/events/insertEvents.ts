/**
 * Committing a batch of events to `logs`: the one place rows enter the audit trail, so every row
 * is chained here (src/trust/chain.ts).
 *
 * One transaction per batch: lock the chain head, COPY the rows with their positions and hashes,
 * move the head. A batch meeting rows already stored (a retried write whose first commit did go
 * through, or a client re-sending an event id) makes COPY fail as a whole; it is then written
 * again with the stored ids left out, under the same lock, so a retry never stores an event twice
 * and the chain never holds a row twice.
 *
 * A batch chained ahead from where this writer's last write left the head goes, on PostgreSQL, in
 * one round trip (appendAhead, src/trust/chain.ts); if another writer moved the head meanwhile,
 * nothing of it was written and it is written the usual way.
 */
import { sqlState, UNIQUE_VIOLATION, type Store, type Tx } from '../store/store.js';
import { appendAhead, appendChained, beginChain, CHAIN_MOVED, prepareRows, type ChainTail, type PreparedRows } from '../trust/chain.js';
import type { EventRow } from './types.js';

/** Which of `ids` are stored already. */
async function storedIds(tx: Tx, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await tx.query<{ id: string }>('SELECT id::text AS id FROM logs WHERE id = ANY($1::uuid[])', [ids]);
  return new Set(rows.map((r) => r.id));
}

/** Writes rows in `tx`, leaving out ids stored already (and repeats within the batch). Returns how many were new. */
export async function insertIdempotent(tx: Tx, rows: readonly EventRow[], prepared?: PreparedRows, tail?: ChainTail): Promise<number> {
  if (rows.length === 0) return 0;
  const p = prepared ?? prepareRows(rows);
  const head = await beginChain(tx, p.months);
  const ids = rows.map((r) => r.id.toLowerCase());
  const seen = await storedIds(tx, ids);
  const keep = ids.map((id) => {
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return appendChained(tx, head, p, keep, tail);
}

/**
 * Commits a batch; idempotent. Returns how many rows were new. `prepared` is the batch already
 * encoded (prepareRows, perhaps chained ahead: chainAhead), when the caller did it ahead of time;
 * `tail` is the caller's record of where its chain ends.
 */
export async function insertEvents(store: Store, rows: readonly EventRow[], prepared?: PreparedRows, tail?: ChainTail): Promise<number> {
  if (rows.length === 0) return 0;
  const p = prepared ?? prepareRows(rows);
  // On PostgreSQL rows are unique by (id, timestamp): ids sent without a timestamp are looked up.
  if (store.kind === 'postgres' && rows.some((r) => r.checkId === true)) return store.transaction((tx) => insertIdempotent(tx, rows, p, tail));
  // Chained ahead from where this writer left the head: one round trip, unless the head moved.
  if (tail !== undefined) {
    try {
      if (await appendAhead(store, p, tail)) return p.n;
    } catch (err) {
      const state = sqlState(err);
      if (state === CHAIN_MOVED) tail.alone = false;
      else {
        tail.last = null;
        if (state !== UNIQUE_VIOLATION) throw err;
        return store.transaction((tx) => insertIdempotent(tx, rows, p, tail));
      }
    }
  }
  try {
    return await store.transaction(async (tx) => appendChained(tx, await beginChain(tx, p.months), p, undefined, tail));
  } catch (err) {
    if (tail !== undefined) tail.last = null; // the chain did not end where this batch said
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    return store.transaction((tx) => insertIdempotent(tx, rows, p, tail));
  }
}

/**
 * Whether a failed write was refused for its data (SQLSTATE classes 22 and 23): retrying the same
 * rows cannot succeed, so the writer isolates the offending rows instead of retrying forever.
 */
export function isDataError(err: unknown): boolean {
  const s = sqlState(err);
  return s !== undefined && /^2[23]/.test(s) && s !== UNIQUE_VIOLATION;
}
