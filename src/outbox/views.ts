/**
 * Deliveries as the API and the CLI show them: the stored row with its target masked (the outbox
 * stores a target's name, never its address; the masked form comes from the configured channel),
 * its attempts on request, and a keyset cursor. The HTTP route and `vigil deliveries` (directly on
 * the store) both answer through here.
 */
import { isUuid } from '../events/uuid7.js';
import type { Queryable } from '../store/store.js';
import { attemptsOf, listDeliveries, retryDelivery, type AttemptRow, type DeliveryRow, type DeliveryStatus } from './sql.js';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'sending', 'sent', 'dead'];
export const DEFAULT_DELIVERY_LIMIT = 50;
export const MAX_DELIVERY_LIMIT = 500;

export interface AttemptView {
  attempt: number;
  started_at: string;
  duration_ms: number;
  outcome: string;
  provider_status: string | null;
  error: string | null;
  worker: string;
}

export interface DeliveryView {
  id: string;
  intervention_id: string | null;
  channel: string;
  /** The configured target's name. */
  target: string;
  /** Its address, masked (`https://discord.com/api/webhooks/12…/****`). */
  target_masked: string;
  route: string;
  reason: string;
  level: string;
  title: string;
  status: DeliveryStatus;
  attempt_count: number;
  max_attempts: number;
  next_attempt_at: string | null;
  last_status: string | null;
  last_error: string | null;
  fallback_channel: string | null;
  fallback_of: string | null;
  created_at: string;
  sent_at: string | null;
  dead_at: string | null;
  attempts?: AttemptView[];
}

export interface DeliveryQuery {
  status?: string;
  channel?: string;
  intervention_id?: string;
  cursor?: string;
  limit?: number;
  attempts?: boolean;
}

/** Masks a stored target name; `(none)` rows have no target. */
export type TargetMasker = (channel: string, target: string) => string;

export const noMasker: TargetMasker = () => '****';

export class DeliveryQueryError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'DeliveryQueryError';
  }
}

const iso = (v: Date | string | null): string | null => (v === null ? null : new Date(v).toISOString());
const encodeCursor = (seq: string): string => Buffer.from(`d:${seq}`).toString('base64url');
function decodeCursor(c: string): string {
  const m = /^d:(\d{1,18})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) throw new DeliveryQueryError([`cursor: not a cursor this API returned`]);
  return m[1];
}

function attemptView(a: AttemptRow): AttemptView {
  return {
    attempt: a.attempt,
    started_at: iso(a.started_at)!,
    duration_ms: Math.round(Number(a.duration_ms) * 10) / 10,
    outcome: a.outcome,
    provider_status: a.provider_status,
    error: a.error,
    worker: a.worker,
  };
}

export function deliveryView(r: DeliveryRow, mask: TargetMasker, attempts?: AttemptRow[]): DeliveryView {
  return {
    id: r.id,
    intervention_id: r.intervention_id,
    channel: r.channel,
    target: r.target,
    target_masked: r.target === '(none)' ? '(none)' : mask(r.channel, r.target),
    route: r.route,
    reason: r.reason,
    level: r.level,
    title: typeof r.notification?.title === 'string' ? r.notification.title : '',
    status: r.status,
    attempt_count: r.attempts,
    max_attempts: r.max_attempts,
    next_attempt_at: r.status === 'pending' ? iso(r.next_attempt_at) : null,
    last_status: r.last_status,
    last_error: r.last_error,
    fallback_channel: r.fallback_channel,
    fallback_of: r.fallback_of,
    created_at: iso(r.created_at)!,
    sent_at: iso(r.sent_at),
    dead_at: iso(r.dead_at),
    ...(attempts ? { attempts: attempts.map(attemptView) } : {}),
  };
}

export async function queryDeliveries(db: Queryable, q: DeliveryQuery, mask: TargetMasker): Promise<{ deliveries: DeliveryView[]; next_cursor: string | null }> {
  const p: string[] = [];
  if (q.status !== undefined && !DELIVERY_STATUSES.includes(q.status as DeliveryStatus)) p.push(`status: expected one of ${DELIVERY_STATUSES.join(', ')}`);
  if (q.intervention_id !== undefined && !isUuid(q.intervention_id)) p.push('intervention_id: expected a UUID');
  const limit = q.limit ?? DEFAULT_DELIVERY_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_DELIVERY_LIMIT) p.push(`limit: expected an integer from 1 to ${MAX_DELIVERY_LIMIT}`);
  if (p.length > 0) throw new DeliveryQueryError(p);
  const before = q.cursor ? decodeCursor(q.cursor) : undefined;
  const rows = await listDeliveries(db, { status: q.status as DeliveryStatus | undefined, channel: q.channel, intervention_id: q.intervention_id, before_seq: before, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const next_cursor = rows.length > limit ? encodeCursor(String(page[page.length - 1].seq)) : null;
  let byId: Map<string, AttemptRow[]> | undefined;
  if (q.attempts) {
    byId = new Map(page.map((r) => [r.id, []]));
    for (const a of await attemptsOf(db, page.map((r) => r.id))) byId.get(a.delivery_id)?.push(a);
  }
  return { deliveries: page.map((r) => deliveryView(r, mask, byId?.get(r.id))), next_cursor };
}

const COLUMNS = `id, seq, intervention_id, channel, target, route, reason, level, notification, status, attempts, max_attempts,
                 next_attempt_at, last_status, last_error, fallback_channel, fallback_of, created_at, sent_at, dead_at`;

export async function getDeliveryRow(db: Queryable, id: string): Promise<DeliveryRow | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<DeliveryRow>(`SELECT ${COLUMNS} FROM deliveries WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** One delivery with its attempts; null when there is none with this id. */
export async function getDelivery(db: Queryable, id: string, mask: TargetMasker): Promise<DeliveryView | null> {
  const row = await getDeliveryRow(db, id);
  if (row === null) return null;
  return deliveryView(row, mask, await attemptsOf(db, [row.id]));
}

export type RetryAnswer = { ok: true; delivery: DeliveryRow } | { ok: false; error: 'not_found' | 'conflict'; message: string };

/**
 * Puts a dead or waiting delivery back in the queue now with `attemptsFor(channel)` more attempts.
 * A sent delivery, or one being sent, is a conflict.
 */
export async function retryNow(db: Queryable, id: string, nowMs: number, attemptsFor: (channel: string) => number): Promise<RetryAnswer> {
  const row = await getDeliveryRow(db, id);
  if (row === null) return { ok: false, error: 'not_found', message: `no delivery ${JSON.stringify(String(id).slice(0, 64))}` };
  const retried = await retryDelivery(db, id, nowMs, attemptsFor(row.channel));
  if (retried === null) {
    const now = await getDeliveryRow(db, id);
    const status = now?.status ?? row.status;
    return { ok: false, error: 'conflict', message: status === 'sent' ? `delivery ${id} was already sent` : `delivery ${id} is being sent now` };
  }
  return { ok: true, delivery: retried };
}
