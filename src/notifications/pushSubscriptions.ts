/**
 * Web Push subscriptions of users (the dashboard's opt-in), and their VAPID key pair. A
 * subscription is stored as the browser gave it and becomes a `push` target with
 * `platform: 'webpush'`, named `user:<user id>:<subscription id>` (never the endpoint: it is secret).
 */
import { uuidv7 } from '../events/uuid7.js';
import { generateVapidKeys, type VapidKeys } from '../channels/push/index.js';
import { vapidKeyProblem } from '../channels/push/vapid.js';
import { parseSubscription, type WebPushSubscription } from '../channels/push/webpush.js';
import type { NamedTarget } from '../outbox/directory.js';
import type { Queryable } from '../store/store.js';

export interface StoredSubscription {
  id: string;
  user_id: string;
  subscription: WebPushSubscription;
  created_at: string;
}

export class SubscriptionError extends Error {}

/** Checks what a browser sent; throws SubscriptionError naming the problem (never the content). */
export function validSubscription(body: unknown, allowHttp = false): WebPushSubscription {
  const parsed = parseSubscription(JSON.stringify(body ?? null), allowHttp);
  if (typeof parsed === 'string') throw new SubscriptionError(parsed);
  return parsed;
}

/** Adds (or moves to this user, refreshing its keys) the subscription with this endpoint. */
export async function saveSubscription(db: Queryable, userId: string, s: WebPushSubscription): Promise<StoredSubscription> {
  const { rows } = await db.query<{ id: string; user_id: string; subscription: unknown; created_at: Date | string }>(
    `INSERT INTO push_subscriptions (id, user_id, endpoint, subscription) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, subscription = EXCLUDED.subscription
     RETURNING id, user_id, subscription, created_at`,
    [uuidv7(), userId, s.endpoint, JSON.stringify(s)],
  );
  const r = rows[0];
  return { id: r.id, user_id: r.user_id, subscription: parse(r.subscription), created_at: new Date(r.created_at).toISOString() };
}

/** Removes the user's subscription with this endpoint; answers whether one was removed. */
export async function deleteSubscription(db: Queryable, userId: string, endpoint: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2', [userId, endpoint]);
  return rowCount > 0;
}

/** Removes a subscription by id (its push service said it is gone: 404/410). */
export async function deleteSubscriptionById(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM push_subscriptions WHERE id = $1', [id]);
}

export async function countSubscriptions(db: Queryable, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM push_subscriptions WHERE user_id = $1', [userId]);
  return rows[0].n;
}

const parse = (v: unknown): WebPushSubscription => (typeof v === 'string' ? JSON.parse(v) : v) as WebPushSubscription;

export const SUBSCRIPTION_TARGET_PREFIX = 'user:';

/** Push targets (`platform: 'webpush'`) of one user, or of every user when userId is omitted. */
export async function pushTargets(db: Queryable, userId?: string): Promise<NamedTarget[]> {
  const { rows } = await db.query<{ id: string; user_id: string; subscription: unknown }>(
    'SELECT id, user_id, subscription FROM push_subscriptions WHERE $1::uuid IS NULL OR user_id = $1::uuid ORDER BY created_at, id',
    [userId ?? null],
  );
  return rows.map((r) => ({
    name: `${SUBSCRIPTION_TARGET_PREFIX}${r.user_id}:${r.id}`,
    channel: 'push',
    address: JSON.stringify(parse(r.subscription)),
    options: { platform: 'webpush', user_id: r.user_id, subscription_id: r.id },
  }));
}

/**
 * The server's VAPID keys: `configured` when the config supplies them (checked), else the pair
 * stored in the database, made on first call. Concurrent first starts agree on one pair.
 */
export async function loadVapidKeys(db: Queryable, configured?: VapidKeys): Promise<VapidKeys> {
  if (configured) {
    const problem = vapidKeyProblem(configured);
    if (problem !== null) throw new Error(`invalid VAPID keys in the configuration: ${problem}`);
    return configured;
  }
  const fresh = generateVapidKeys();
  await db.query('INSERT INTO vapid_keys (id, public_key, private_key) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [fresh.publicKey, fresh.privateKey]);
  const { rows } = await db.query<{ public_key: string; private_key: string }>('SELECT public_key, private_key FROM vapid_keys WHERE id = 1');
  return { publicKey: rows[0].public_key, privateKey: rows[0].private_key };
}
