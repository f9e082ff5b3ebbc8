/** The outbox's queries: set-based, parameterised, with time passed in (the injected clock). */
import type { Notification } from '../channels/channel.js';
import type { Queryable } from '../store/store.js';

export type DeliveryStatus = 'pending' | 'sending' | 'sent' | 'dead';

export interface NewDelivery {
  id: string;
  intervention_id: string | null;
  channel: string;
  target: string;
  route: string;
  reason: string;
  level: string;
  notification: Notification;
  max_attempts: number;
  fallback_channel: string | null;
  fallback_of: string | null;
  /** Recorded dead at once (no target configured, unknown channel), with this error. */
  dead_error?: string;
}

export interface DeliveryRow {
  id: string;
  seq: string;
  intervention_id: string | null;
  channel: string;
  target: string;
  route: string;
  reason: string;
  level: string;
  notification: Notification;
  status: DeliveryStatus;
  attempts: number;
  max_attempts: number;
  next_attempt_at: Date;
  last_status: string | null;
  last_error: string | null;
  fallback_channel: string | null;
  fallback_of: string | null;
  created_at: Date;
  sent_at: Date | null;
  dead_at: Date | null;
}

/** What a claim returns of each row: what sending it and deciding what follows need, no more. */
export type ClaimedRow = Pick<
  DeliveryRow,
  'id' | 'intervention_id' | 'channel' | 'target' | 'route' | 'reason' | 'level' | 'notification' | 'attempts' | 'max_attempts' | 'fallback_channel' | 'fallback_of'
>;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Text as PostgreSQL can store it: an unpaired surrogate (a provider's answer cut inside an emoji)
 * or a NUL (a binary answer) becomes U+FFFD. A provider's error text must never make its attempt
 * unrecordable: the record would fail at every retry, and the delivery be sent again when its
 * lease ran out.
 */
function storableText(s: string | null): string | null {
  if (s === null) return null;
  const t = s.isWellFormed() ? s : s.toWellFormed();
  return t.includes('\0') ? t.replaceAll('\0', '\uFFFD') : t;
}

export async function insertDeliveries(db: Queryable, rows: readonly NewDelivery[], nowMs: number): Promise<void> {
  if (rows.length === 0) return;
  const col = <K extends keyof NewDelivery>(k: K) => rows.map((r) => r[k]);
  await db.query(
    `INSERT INTO deliveries (id, intervention_id, channel, target, route, reason, level, notification, max_attempts,
                             fallback_channel, fallback_of, status, last_error, dead_at, next_attempt_at, created_at)
     SELECT id, intervention_id, channel, target, route, reason, level, notification, max_attempts, fallback_channel, fallback_of,
            CASE WHEN dead_error IS NULL THEN 'pending' ELSE 'dead' END, dead_error,
            CASE WHEN dead_error IS NULL THEN NULL ELSE $13::timestamptz END, $13::timestamptz, $13::timestamptz
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
                   $9::int[], $10::text[], $11::uuid[], $12::text[])
            AS u(id, intervention_id, channel, target, route, reason, level, notification, max_attempts, fallback_channel, fallback_of, dead_error)
     ON CONFLICT (id) DO NOTHING`,
    [
      col('id'),
      col('intervention_id'),
      col('channel'),
      col('target'),
      col('route'),
      col('reason'),
      col('level'),
      rows.map((r) => JSON.stringify({ ...r.notification, delivery_id: r.id })),
      col('max_attempts'),
      col('fallback_channel'),
      col('fallback_of'),
      rows.map((r) => r.dead_error ?? null),
      iso(nowMs),
    ],
  );
}

/*
 * DUE_SCAN. A backlog grows faster than statistics follow it (a fresh table has none until
 * autovacuum's ANALYZE), and with no statistics the planner guesses a few dozen due rows: it read
 * them all through a bitmap of deliveries_due_idx and sorted them, for every claim (bench/delivery.ts
 * backlog of 10,000: 2.2 of a claim's 3.1 ms in PostgreSQL, growing with the backlog). A LIMIT given
 * as a sub-select is planned as "a tenth of the rows", which makes the ordered index scan that stops
 * at the limit the cheapest plan whatever the statistics say (0.1 ms).
 */

/**
 * Claims up to `limit` due deliveries for `worker`: pending ones whose time has come, and ones
 * whose sender's lease ran out (it died). SKIP LOCKED: concurrent workers never claim the same row.
 * With `perChannel`, no channel gets more than its room (`channelRoom`, else `perChannel`): the rows
 * due first may all be one channel's, and a backlog of a hanging provider must not take every slot.
 * Prepared: planning it took ~0.8 ms of PostgreSQL's time, about a third of a claim of 32 rows.
 */
export async function claimDue(
  db: Queryable,
  opts: {
    worker: string;
    limit: number;
    nowMs: number;
    leaseMs: number;
    skipChannels: readonly string[];
    perChannel?: number;
    channelRoom?: ReadonlyMap<string, number>;
  },
): Promise<ClaimedRow[]> {
  const room = opts.channelRoom ?? new Map<string, number>();
  const { rows } = await db.query<ClaimedRow>(
    `WITH due AS (                       -- walks deliveries_due_idx in order: no sort of the backlog
       SELECT id, channel, next_attempt_at AS at FROM deliveries
        WHERE status = 'pending' AND next_attempt_at <= $1 AND channel <> ALL ($5::text[])
        ORDER BY next_attempt_at
        LIMIT (SELECT $2::int)            -- a limit the planner cannot read: see DUE_SCAN above
        FOR UPDATE SKIP LOCKED),
     expired AS (                        -- leases of workers that died (deliveries_lease_idx)
       SELECT id, channel, locked_until AS at FROM deliveries
        WHERE status = 'sending' AND locked_until < $1 AND channel <> ALL ($5::text[])
        ORDER BY locked_until
        LIMIT $2
        FOR UPDATE SKIP LOCKED),
     claimed AS (                        -- within each channel's room; rows left out are unlocked at once
       SELECT c.id FROM (
         SELECT id, channel, at, row_number() OVER (PARTITION BY channel ORDER BY at) AS n
           FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) AS u) AS c
         LEFT JOIN unnest($6::text[], $7::int[]) AS r(channel, room) ON r.channel = c.channel
        WHERE c.n <= coalesce(r.room, $8)
        ORDER BY c.at
        LIMIT $2)
     UPDATE deliveries d
        SET status = 'sending', locked_by = $3, locked_until = $1::timestamptz + $4 * interval '1 millisecond', attempts = d.attempts + 1
       FROM claimed
      WHERE d.id = claimed.id
     RETURNING d.id, d.intervention_id, d.channel, d.target, d.route, d.reason, d.level, d.notification,
               d.attempts, d.max_attempts, d.fallback_channel, d.fallback_of`,
    [iso(opts.nowMs), opts.limit, opts.worker, opts.leaseMs, opts.skipChannels, [...room.keys()], [...room.values()], opts.perChannel ?? opts.limit],
    { prepare: true },
  );
  return rows;
}

export interface Completion {
  id: string;
  attempt: number;
  status: 'pending' | 'sent' | 'dead';
  next_attempt_at: number;
  started_at: number;
  duration_ms: number;
  outcome: 'ok' | 'retryable' | 'permanent';
  provider_status: string | null;
  error: string | null;
}

/**
 * Records finished attempts: each delivery's new state and its attempt row, in one statement (one
 * round trip, and no transaction of its own when the caller needs none). Only rows still leased to
 * this worker are updated (a lease that ran out belongs to another now), and only their attempts
 * are recorded. Returns the ids that were updated. The attempts go as one JSON array (times in ms
 * since the epoch): nine arrays, each escaped element by element, cost the worker more. Prepared.
 */
export async function completeAttempts(db: Queryable, worker: string, done: readonly Completion[], nowMs: number): Promise<Set<string>> {
  if (done.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `WITH u AS (
       SELECT id, attempt, status, to_timestamp(next_at / 1000) AS next_at, provider_status, error,
              to_timestamp(started_at / 1000) AS started_at, duration_ms, outcome
         FROM json_to_recordset($1::json)
              AS u(id uuid, attempt int, status text, next_at float8, provider_status text, error text, started_at float8, duration_ms float8, outcome text)),
     updated AS (
       UPDATE deliveries d
          SET status = u.status,
              next_attempt_at = u.next_at,
              last_status = u.provider_status,
              last_error = u.error,
              locked_by = NULL,
              locked_until = NULL,
              sent_at = CASE WHEN u.status = 'sent' THEN $3::timestamptz ELSE d.sent_at END,
              dead_at = CASE WHEN u.status = 'dead' THEN $3::timestamptz ELSE d.dead_at END
         FROM u
        WHERE d.id = u.id AND d.locked_by = $2 AND d.attempts = u.attempt
          -- IS TRUE: the same test, but one the partial indexes on status cannot serve, so each row is
          -- found by its primary key. Without statistics the planner scanned deliveries_lease_idx
          -- instead, which keeps an entry for every 'sending' version ever written until a vacuum
          -- (6,400 entries read to update 64 rows: 1.5 of the statement's 3 ms).
          AND (d.status = 'sending') IS TRUE
       RETURNING d.id),
     recorded AS (
       INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, outcome, provider_status, error, worker)
       SELECT u.id, u.attempt, u.started_at, u.duration_ms, u.outcome, u.provider_status, u.error, $2
         FROM u JOIN updated ON updated.id = u.id
       ON CONFLICT DO NOTHING)
     SELECT id FROM updated`,
    [
      JSON.stringify(
        done.map((d) => ({
          id: d.id,
          attempt: d.attempt,
          status: d.status,
          next_at: d.next_attempt_at,
          provider_status: storableText(d.provider_status),
          error: storableText(d.error),
          started_at: d.started_at,
          duration_ms: d.duration_ms,
          outcome: d.outcome,
        })),
      ),
      worker,
      iso(nowMs),
    ],
    { prepare: true },
  );
  return new Set(rows.map((r) => r.id));
}

export interface ListFilter {
  status?: DeliveryStatus;
  channel?: string;
  intervention_id?: string;
  /** Keyset cursor: rows with seq below it (newest first). */
  before_seq?: string;
  limit: number;
}

export async function listDeliveries(db: Queryable, f: ListFilter): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT id, seq, intervention_id, channel, target, route, reason, level, notification, status, attempts, max_attempts,
            next_attempt_at, last_status, last_error, fallback_channel, fallback_of, created_at, sent_at, dead_at
       FROM deliveries
      WHERE ($1::text IS NULL OR status = $1)
        AND ($2::text IS NULL OR channel = $2)
        AND ($3::uuid IS NULL OR intervention_id = $3)
        AND ($4::bigint IS NULL OR seq < $4)
      ORDER BY seq DESC
      LIMIT $5`,
    [f.status ?? null, f.channel ?? null, f.intervention_id ?? null, f.before_seq ?? null, f.limit],
  );
  return rows;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: Date;
  duration_ms: number;
  outcome: string;
  provider_status: string | null;
  error: string | null;
  worker: string;
}

export async function attemptsOf(db: Queryable, ids: readonly string[]): Promise<AttemptRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<AttemptRow>(
    `SELECT delivery_id, attempt, started_at, duration_ms, outcome, provider_status, error, worker
       FROM delivery_attempts WHERE delivery_id = ANY ($1::uuid[]) ORDER BY delivery_id, attempt`,
    [ids],
  );
  return rows;
}

/**
 * Puts a dead (or waiting) delivery back in the queue now, allowing `extraAttempts` more attempts.
 * Sent deliveries and ones being sent are not touched (null is returned).
 */
export async function retryDelivery(db: Queryable, id: string, nowMs: number, extraAttempts: number): Promise<DeliveryRow | null> {
  const { rows } = await db.query<DeliveryRow>(
    `UPDATE deliveries
        SET status = 'pending', next_attempt_at = $2, max_attempts = attempts + $3, dead_at = NULL
      WHERE id = $1 AND status IN ('dead', 'pending')
     RETURNING id, seq, intervention_id, channel, target, route, reason, level, notification, status, attempts, max_attempts,
               next_attempt_at, last_status, last_error, fallback_channel, fallback_of, created_at, sent_at, dead_at`,
    [id, iso(nowMs), extraAttempts],
  );
  return rows[0] ?? null;
}
