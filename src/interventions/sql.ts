/** The lifecycle's SQL: interventions, their occurrences and notification records. Parameterised. */
import type { Queryable } from '../store/store.js';
import type { InterventionLevel } from './levels.js';
import { toIntervention, toNotificationRecord, toOccurrence, type Intervention, type InterventionStatus, type NotificationRecord, type NotifyWhy, type Occurrence, type TriggerInput } from './types.js';

const ts = (ms: number): string => new Date(ms).toISOString();
const FIELDS = ['seq', 'task_id', 'reasons', 'level', 'title', 'message', 'context', 'dedupe_key', 'source', 'status', 'occurrences',
  'first_seen', 'last_seen', 'level_since', 'last_notified_at', 'acknowledged_by', 'acknowledged_at', 'resolved_by', 'resolved_at'];
/** The columns of an intervention, optionally qualified (`i.`). */
const cols = (p = ''): string => `${p}id::text AS id, ${FIELDS.map((f) => p + f).join(', ')}`;
const COLS = cols();

/** Transaction-scoped lock on a dedupe key: triggers of the same key from several processes queue. */
export async function lockDedupeKey(tx: Queryable, key: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('vigil.intervention'), hashtext($1))`, [key]);
}

export async function findActive(tx: Queryable, dedupeKey: string): Promise<Intervention | null> {
  const { rows } = await tx.query(`SELECT ${COLS} FROM interventions WHERE dedupe_key = $1 AND status <> 'resolved' FOR UPDATE`, [dedupeKey]);
  return rows.length === 0 ? null : toIntervention(rows[0]);
}

export async function getIntervention(db: Queryable, id: string, forUpdate = false): Promise<Intervention | null> {
  const { rows } = await db.query(`SELECT ${COLS} FROM interventions WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows.length === 0 ? null : toIntervention(rows[0]);
}

export async function insertIntervention(tx: Queryable, id: string, t: TriggerInput, now: number): Promise<Intervention> {
  const { rows } = await tx.query(
    `INSERT INTO interventions (id, task_id, reasons, level, title, message, context, dedupe_key, source, first_seen, last_seen, level_since)
     VALUES ($1, $2, $3::text[], $4, $5, $6, $7::jsonb, $8, $9, $10, $10, $10)
     RETURNING ${COLS}`,
    [id, t.task_id, unique(t.reasons.map((r) => r.code)), t.level, t.title, t.message, JSON.stringify(t.context), t.dedupe_key, t.source, ts(now)],
  );
  return toIntervention(rows[0]);
}

/** Adds an occurrence's effect: count, last seen, new reason codes, merged context, a higher level. */
export async function addOccurrence(tx: Queryable, cur: Intervention, t: TriggerInput, rose: boolean, now: number): Promise<Intervention> {
  const { rows } = await tx.query(
    `UPDATE interventions
        SET occurrences = occurrences + 1,
            last_seen = $2,
            reasons = $3::text[],
            context = context || $4::jsonb,
            level = $5,
            level_since = CASE WHEN $6::boolean THEN $2::timestamptz ELSE level_since END,
            title = CASE WHEN $6::boolean THEN $7 ELSE title END,
            message = CASE WHEN $6::boolean THEN $8 ELSE message END,
            task_id = coalesce(task_id, $9)
      WHERE id = $1
      RETURNING ${COLS}`,
    [cur.id, ts(now), unique([...cur.reasons, ...t.reasons.map((r) => r.code)]), JSON.stringify(t.context), rose ? t.level : cur.level, rose, t.title, t.message, t.task_id],
  );
  return toIntervention(rows[0]);
}

export async function insertOccurrence(tx: Queryable, interventionId: string, t: TriggerInput, now: number): Promise<void> {
  await tx.query(
    `INSERT INTO intervention_occurrences (intervention_id, at, level, reasons, source, context) VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb)`,
    [interventionId, ts(now), t.level, JSON.stringify(t.reasons), t.source, JSON.stringify(t.context)],
  );
}

export async function setStatus(tx: Queryable, id: string, status: Exclude<InterventionStatus, 'open'>, by: string, now: number): Promise<Intervention> {
  const col = status === 'acknowledged' ? 'acknowledged' : 'resolved';
  const { rows } = await tx.query(`UPDATE interventions SET status = $2, ${col}_by = $3, ${col}_at = $4 WHERE id = $1 RETURNING ${COLS}`, [id, status, by, ts(now)]);
  return toIntervention(rows[0]);
}

export async function raiseLevel(tx: Queryable, id: string, level: InterventionLevel, now: number): Promise<Intervention> {
  const { rows } = await tx.query(`UPDATE interventions SET level = $2, level_since = $3 WHERE id = $1 RETURNING ${COLS}`, [id, level, ts(now)]);
  return toIntervention(rows[0]);
}

export async function markNotified(tx: Queryable, id: string, now: number): Promise<void> {
  await tx.query('UPDATE interventions SET last_notified_at = $2 WHERE id = $1', [id, ts(now)]);
}

export async function insertNotification(
  tx: Queryable,
  n: { intervention_id: string; at: number; reason: NotifyWhy; level: InterventionLevel; channels: string[]; routes: string[]; silenced_by: string[]; deliveries: number },
): Promise<void> {
  await tx.query(
    `INSERT INTO intervention_notifications (intervention_id, at, reason, level, channels, routes, silenced_by, deliveries)
     VALUES ($1, $2, $3, $4, $5::text[], $6::text[], $7::uuid[], $8)`,
    [n.intervention_id, ts(n.at), n.reason, n.level, n.channels, n.routes, n.silenced_by, n.deliveries],
  );
}

/** Open interventions past their level's escalate-after interval, locked, oldest first. */
export async function dueForEscalation(tx: Queryable, afterMs: Map<InterventionLevel, number>, now: number, limit: number): Promise<Intervention[]> {
  if (afterMs.size === 0) return [];
  const { rows } = await tx.query(
    `SELECT ${cols('i.')} FROM interventions i
       JOIN unnest($1::text[], $2::float8[]) AS p(level, after_ms) ON p.level = i.level
      WHERE i.status = 'open' AND i.level_since + p.after_ms * interval '1 millisecond' <= $3::timestamptz
      ORDER BY i.seq LIMIT $4
      FOR UPDATE OF i SKIP LOCKED`,
    [[...afterMs.keys()], [...afterMs.values()], ts(now), limit],
  );
  return rows.map(toIntervention);
}

/** Open interventions whose last notification is older than their level's repeat interval. */
export async function dueForRepeat(tx: Queryable, repeatMs: Map<InterventionLevel, number>, now: number, limit: number): Promise<Intervention[]> {
  if (repeatMs.size === 0) return [];
  const { rows } = await tx.query(
    `SELECT ${cols('i.')} FROM interventions i
       JOIN unnest($1::text[], $2::float8[]) AS p(level, repeat_ms) ON p.level = i.level
      WHERE i.status = 'open' AND i.last_notified_at IS NOT NULL
        AND i.last_notified_at + p.repeat_ms * interval '1 millisecond' <= $3::timestamptz
      ORDER BY i.seq LIMIT $4
      FOR UPDATE OF i SKIP LOCKED`,
    [[...repeatMs.keys()], [...repeatMs.values()], ts(now), limit],
  );
  return rows.map(toIntervention);
}

export interface ListFilter {
  status?: InterventionStatus;
  level?: InterventionLevel;
  task_id?: string;
  /** Exclusive: interventions older than this seq (newest first). */
  before_seq?: number;
  limit: number;
}

/** Newest first; returns one more than `limit` so the caller knows whether a next page exists. */
export async function listInterventions(db: Queryable, f: ListFilter): Promise<(Intervention & { seq: number })[]> {
  const { rows } = await db.query(
    `SELECT ${COLS} FROM interventions
      WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR level = $2) AND ($3::text IS NULL OR task_id = $3)
        AND ($4::bigint IS NULL OR seq < $4)
      ORDER BY seq DESC LIMIT $5`,
    [f.status ?? null, f.level ?? null, f.task_id ?? null, f.before_seq ?? null, f.limit + 1],
  );
  return rows.map((r) => ({ ...toIntervention(r), seq: Number(r.seq) }));
}

export async function listOccurrences(db: Queryable, id: string): Promise<Occurrence[]> {
  const { rows } = await db.query('SELECT id, at, level, reasons, source, context FROM intervention_occurrences WHERE intervention_id = $1 ORDER BY id', [id]);
  return rows.map(toOccurrence);
}

export async function listNotifications(db: Queryable, id: string): Promise<NotificationRecord[]> {
  const { rows } = await db.query(
    'SELECT id, at, reason, level, channels, routes, silenced_by::text[] AS silenced_by, deliveries FROM intervention_notifications WHERE intervention_id = $1 ORDER BY id',
    [id],
  );
  return rows.map(toNotificationRecord);
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
