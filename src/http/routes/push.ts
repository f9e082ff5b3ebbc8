/**
 * Web Push opt-in for the dashboard: the server's VAPID public key (the browser's
 * `applicationServerKey`), and the signed-in user's subscriptions. The outbox sends to them as
 * `push` targets (src/notifications/pushSubscriptions.ts, inboxChannels).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { VapidKeys } from '../../channels/push/index.js';
import { deleteSubscription, saveSubscription, SubscriptionError, validSubscription } from '../../notifications/pushSubscriptions.js';
import type { User } from '../../notifications/users.js';
import type { Queryable } from '../../store/store.js';
import { ApiError, E, ERROR_SCHEMA } from '../errors.js';
import type { StreamHub } from '../stream/hub.js';

export interface PushRoutesOptions extends Record<string, unknown> {
  db: Queryable;
  /** The server's VAPID keys (loadVapidKeys); only the public one is ever answered. */
  /** The VAPID keys, loaded (or made) on first use: building the app needs no database round trip. */
  vapid: () => Promise<VapidKeys>;
  /** Told when subscriptions change, so every process's push targets reload. */
  hub?: StreamHub;
  /** Accept `http:` endpoints (local test peers only). */
  allowHttpEndpoints?: boolean;
}

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));

const SUBSCRIPTION_BODY = {
  type: 'object',
  required: ['endpoint', 'keys'],
  properties: {
    endpoint: { type: 'string', minLength: 1, maxLength: 2000 },
    expirationTime: { type: ['number', 'null'] },
    keys: {
      type: 'object',
      required: ['p256dh', 'auth'],
      properties: { p256dh: { type: 'string', maxLength: 200 }, auth: { type: 'string', maxLength: 100 } },
    },
  },
} as const;

function signedIn(req: FastifyRequest): User {
  if (req.user === null) throw new ApiError(E.invalidRequest, 'push subscriptions belong to a user: sign in with a user token (vgu_…)');
  return req.user;
}

export const pushRoutes: FastifyPluginAsync<PushRoutesOptions> = async (app, { db, vapid, hub, allowHttpEndpoints }) => {
  const changed = async () => {
    await hub?.publish({ kind: 'push_subscriptions_changed' });
  };

  app.get(
    '/v1/push/vapid-public-key',
    {
      config: { scope: 'read', users: true },
      schema: {
        summary: "The server's VAPID public key (for PushManager.subscribe's applicationServerKey)",
        tags: ['push'],
        response: { 200: { type: 'object', properties: { public_key: { type: 'string' } }, required: ['public_key'] }, ...errors(401, 403, 429) },
      },
    },
    async () => ({ public_key: (await vapid()).publicKey }),
  );

  app.post<{ Body: unknown }>(
    '/v1/push/subscriptions',
    {
      config: { scope: 'admin', users: true },
      schema: {
        summary: "Add the signed-in user's Web Push subscription (PushSubscription.toJSON())",
        tags: ['push'],
        body: SUBSCRIPTION_BODY,
        response: {
          201: { type: 'object', properties: { id: { type: 'string' }, created_at: { type: 'string', format: 'date-time' } }, required: ['id', 'created_at'] },
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const user = signedIn(req);
      let sub;
      try {
        sub = validSubscription(req.body, allowHttpEndpoints === true);
      } catch (err) {
        if (err instanceof SubscriptionError) throw new ApiError(E.invalidSubscription, `${E.invalidSubscription.message}: ${err.message}`);
        throw err;
      }
      const saved = await saveSubscription(db, user.id, sub);
      await changed();
      req.log.info({ user_id: user.id, subscription_id: saved.id }, 'push subscription added');
      return reply.code(201).send({ id: saved.id, created_at: saved.created_at });
    },
  );

  app.delete<{ Body: { endpoint: string } }>(
    '/v1/push/subscriptions',
    {
      config: { scope: 'admin', users: true },
      schema: {
        summary: "Remove the signed-in user's Web Push subscription with this endpoint",
        tags: ['push'],
        body: { type: 'object', required: ['endpoint'], properties: { endpoint: { type: 'string', minLength: 1, maxLength: 2000 } } },
        response: { 200: { type: 'object', properties: { deleted: { type: 'boolean' } }, required: ['deleted'] }, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => {
      const user = signedIn(req);
      const deleted = await deleteSubscription(db, user.id, req.body.endpoint);
      if (deleted) await changed();
      return { deleted };
    },
  );
};
