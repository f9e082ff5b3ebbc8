/**
 * Reading the audit trail: filtered pages with a keyset cursor on `seq`, one event by id, and
 * batched reads for exports. Every value reaches SQL as a parameter.
 *
 * `seq` only grows, so a page "older than seq N" never changes while new events arrive: the
 * cursor is stable. Exports walk the same keyset in batches, so memory stays flat at any size.
 */
import { LEVEL_RANK, LEVELS, type Level } from './catalogue.js';
import type { Queryable } from '../store/store.js';

export const MAX_PAGE_SIZE = 1_000;
export const DEFAULT_PAGE_SIZE = 100;
/** Rows read per query while exporting. */
export const EXPORT_BATCH_ROWS = 2_000;

export interface EventFilters {
  eventTypes?: readonly string[];
  /** Minimum level. */
  level?: Level;
  since?: Date;
  until?: Date;
  taskId?: string;
  /** Matches `created_by`, `updated_by` and `user_id`. */
  userId?: string;
  agentName?: string;
  /** Matches `model_name` (model_called) and `model_used` (content_generated). */
  modelName?: string;
  status?: string;
  /** Text contained in the message, case-insensitive. */
  q?: string;
}

export type Order = 'desc' | 'asc';

export interface StoredEvent {
  id: string;
  level: Level;
  message: string;
  timestamp: string;
  log_metadata: Record<string, unknown>;
}

export interface Page {
  events: StoredEvent[];
  /** Pass back as `cursor` (same order) for the next page; null when there is none (desc). */
  next_cursor: string | null;
  /** A cursor at the newest event of this page: with order=asc it yields only newer events. */
  head_cursor: string | null;
}

export class BadCursorError extends Error {}

/** The largest `seq` (a bigint column). */
const MAX_SEQ = 9_223_372_036_854_775_807n;

/** Cursors are opaque to clients: `v1.<seq>` in base64url. */
export function encodeCursor(seq: string): string {
  return Buffer.from(`v1.${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^v1\.(0|[1-9]\d{0,18})$/.exec(text);
  // Nineteen digits can exceed bigint's range, which PostgreSQL would refuse with an error (a 500).
  if (m === null || BigInt(m[1]) > MAX_SEQ) throw new BadCursorError('cursor is not one this server issued');
  return m[1];
}

/** Builds the WHERE clause; values go to `params`. */
export function whereClause(f: EventFilters, params: unknown[]): string {
  const conds: string[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const has = (key: string, value: string): string => `log_metadata @> ${p(JSON.stringify({ [key]: value }))}::jsonb`;
  if (f.eventTypes && f.eventTypes.length > 0) conds.push(`event_type = ANY(${p([...f.eventTypes])}::text[])`);
  if (f.level && f.level !== 'DEBUG') conds.push(`level = ANY(${p(LEVELS.filter((l) => LEVEL_RANK[l] >= LEVEL_RANK[f.level!]))}::text[])`);
  if (f.since) conds.push(`"timestamp" >= ${p(f.since.toISOString())}::timestamptz`);
  if (f.until) conds.push(`"timestamp" < ${p(f.until.toISOString())}::timestamptz`);
  if (f.taskId !== undefined) conds.push(has('task_id', f.taskId));
  if (f.userId !== undefined) conds.push(`(${has('user_id', f.userId)} OR ${has('created_by', f.userId)} OR ${has('updated_by', f.userId)})`);
  if (f.agentName !== undefined) conds.push(has('agent_name', f.agentName));
  if (f.modelName !== undefined) conds.push(`(${has('model_name', f.modelName)} OR ${has('model_used', f.modelName)})`);
  if (f.status !== undefined) conds.push(has('status', f.status));
  if (f.q !== undefined && f.q !== '') conds.push(`strpos(lower(message), lower(${p(f.q)})) > 0`);
  return conds.length === 0 ? 'TRUE' : conds.join(' AND ');
}

interface Row {
  seq_text: string;
  id: string;
  level: Level;
  message: string;
  timestamp: Date | string;
  log_metadata: Record<string, unknown>;
}

function toEvent(r: Row): StoredEvent {
  return { id: r.id, level: r.level, message: r.message, timestamp: new Date(r.timestamp).toISOString(), log_metadata: r.log_metadata };
}

/** One page of rows with their seq, newest first (desc) or oldest first (asc). */
async function readRows(db: Queryable, f: EventFilters, opts: { afterSeq?: string; order: Order; limit: number }): Promise<Row[]> {
  const params: unknown[] = [];
  let where = whereClause(f, params);
  if (opts.afterSeq !== undefined) {
    params.push(opts.afterSeq);
    where += ` AND seq ${opts.order === 'desc' ? '<' : '>'} $${params.length}::bigint`;
  }
  params.push(opts.limit);
  const { rows } = await db.query<Row>(
    // The seq goes out as text (bigint is not a JS number); ORDER BY names the column, not the alias.
    `SELECT seq::text AS seq_text, id, level, message, "timestamp", log_metadata
       FROM logs
      WHERE ${where}
      ORDER BY logs.seq ${opts.order === 'desc' ? 'DESC' : 'ASC'}
      LIMIT $${params.length}`,
    params,
  );
  return rows;
}

/** A page of events matching the filters. Throws BadCursorError for a cursor this server did not issue. */
export async function listEvents(
  db: Queryable,
  f: EventFilters,
  opts: { cursor?: string; order?: Order; limit?: number } = {},
): Promise<Page> {
  const order = opts.order ?? 'desc';
  const limit = Math.min(Math.max(1, opts.limit ?? DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
  const afterSeq = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor);
  const rows = await readRows(db, f, { afterSeq, order, limit: limit + 1 });
  const more = rows.length > limit;
  if (more) rows.length = limit;
  const last = rows[rows.length - 1];
  let next: string | null;
  if (order === 'desc') next = more ? encodeCursor(last.seq_text) : null;
  // Ascending pages never end: new events may come. With no rows, the cursor stays where it was.
  else next = last ? encodeCursor(last.seq_text) : (opts.cursor ?? encodeCursor('0'));
  const newest = order === 'desc' ? rows[0] : last;
  const head = newest ? encodeCursor(newest.seq_text) : order === 'asc' ? next : (opts.cursor ?? encodeCursor('0'));
  return { events: rows.map(toEvent), next_cursor: next, head_cursor: head };
}

export async function getEvent(db: Queryable, id: string): Promise<StoredEvent | null> {
  const { rows } = await db.query<Row>(
    'SELECT id, level, message, "timestamp", log_metadata FROM logs WHERE id = $1::uuid',
    [id],
  );
  return rows.length === 0 ? null : toEvent(rows[0]);
}

/**
 * Every event matching the filters, read in batches of `batchRows` along the keyset; the caller
 * consumes them as they come (stopping early closes nothing but this generator).
 */
export async function* scanEvents(
  db: Queryable,
  f: EventFilters,
  opts: { order?: Order; batchRows?: number } = {},
): AsyncGenerator<StoredEvent[]> {
  const order = opts.order ?? 'desc';
  const batch = opts.batchRows ?? EXPORT_BATCH_ROWS;
  // An export is a snapshot: it ends at the newest event present when it started.
  const { rows: top } = await db.query<{ max: string | null }>('SELECT max(seq)::text AS max FROM logs');
  const maxSeq = top[0]?.max;
  if (maxSeq === null || maxSeq === undefined) return;
  let after: string | undefined = order === 'desc' ? String(BigInt(maxSeq) + 1n) : undefined;
  for (;;) {
    let rows = await readRows(db, f, { afterSeq: after, order, limit: batch });
    if (order === 'asc') rows = rows.filter((r) => BigInt(r.seq_text) <= BigInt(maxSeq));
    if (rows.length === 0) return;
    yield rows.map(toEvent);
    if (rows.length < batch) return;
    after = rows[rows.length - 1].seq_text;
  }
}
