/**
 * Committing a batch of events to `logs`.
 *
 * Fast path: the backend's COPY (PostgreSQL's `COPY FROM STDIN`, PGlite's `COPY FROM '/dev/blob'`).
 * A batch meeting ids already stored (a retried write whose first commit did go through, or a
 * client re-sending an event id) makes COPY fail as a whole; it is then written with
 * `INSERT … ON CONFLICT (id) DO NOTHING`, so a retry can never store an event twice.
 */
import { sqlState, UNIQUE_VIOLATION, type Queryable, type Store } from '../store/store.js';
import type { EventRow } from './types.js';

const COLUMNS = ['id', 'level', 'message', '"timestamp"', 'event_type', 'log_metadata'] as const;
const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** COPY text format: backslash, tab, newline and carriage return are escaped. */
function esc(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export function encodeCopyRows(rows: readonly EventRow[]): string {
  let out = '';
  for (const r of rows) {
    out +=
      r.id + '\t' + r.level + '\t' + esc(r.message) + '\t' + new Date(r.time).toISOString() + '\t' + r.event_type + '\t' + esc(JSON.stringify(r.metadata)) + '\n';
  }
  return out;
}

/** Inserts rows, skipping ids already stored. Returns how many were new. */
export async function insertIdempotent(db: Queryable, rows: readonly EventRow[]): Promise<number> {
  const ids: string[] = [];
  const levels: string[] = [];
  const messages: string[] = [];
  const times: string[] = [];
  const types: string[] = [];
  const metas: string[] = [];
  for (const r of rows) {
    ids.push(r.id);
    levels.push(r.level);
    messages.push(r.message);
    times.push(new Date(r.time).toISOString());
    types.push(r.event_type);
    metas.push(JSON.stringify(r.metadata));
  }
  const { rowCount } = await db.query(
    `INSERT INTO logs (id, level, message, "timestamp", event_type, log_metadata)
     SELECT id, level, message, ts, event_type, meta
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::jsonb[])
            WITH ORDINALITY AS u(id, level, message, ts, event_type, meta, ord)
      ORDER BY ord
     ON CONFLICT (id) DO NOTHING`,
    [ids, levels, messages, times, types, metas],
  );
  return rowCount;
}

/**
 * Commits a batch; idempotent. Returns how many rows were new. `encoded` is the batch already in
 * COPY form (encodeCopyRows), when the caller prepared it ahead of time.
 */
export async function insertEvents(store: Store, rows: readonly EventRow[], encoded?: string): Promise<number> {
  if (rows.length === 0) return 0;
  try {
    await store.copyIn('logs', COLUMNS, encoded ?? encodeCopyRows(rows));
    return rows.length;
  } catch (err) {
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    return insertIdempotent(store, rows);
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
