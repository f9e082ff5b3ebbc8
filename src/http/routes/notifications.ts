/**
 * The in-app inbox. A user token reads and marks its own notifications only; an `admin` key may
 * name any user with `user_id`. The SQL is in src/notifications/inbox.ts.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { decodeInboxCursor, listInbox, markAllRead, markRead, MAX_INBOX_LIMIT, unreadCount, DEFAULT_INBOX_LIMIT } from '../../notifications/inbox.js';
import { findUser, UserNotFoundError } from '../../notifications/users.js';
import type { Queryable } from '../../store/store.js';
import { ApiError, E, ERROR_SCHEMA } from '../errors.js';

export interface NotificationRoutesOptions extends Record<string, unknown> {
  db: Queryable;
}

export const NOTIFICATION_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'Numeric id, as a string.' },
    user_id: { type: 'string', format: 'uuid' },
    title: { type: 'string' },
    message: { type: 'string' },
    notification_type: { type: 'string', description: '`intervention_<level>`, e.g. intervention_urgent.' },
    is_read: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
    read_at: { type: ['string', 'null'], format: 'date-time' },
    action_url: { type: ['string', 'null'] },
    metadata: { type: 'object', additionalProperties: true },
  },
  required: ['id', 'user_id', 'title', 'message', 'notification_type', 'is_read', 'created_at', 'read_at', 'action_url', 'metadata'],
} as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));
const USER_ID = { user_id: { type: 'string', format: 'uuid', description: 'Admin keys only: whose inbox.' } } as const;
const ROUTE = { scope: 'admin', users: true } as const;

export const notificationRoutes: FastifyPluginAsync<NotificationRoutesOptions> = async (app, { db }) => {
  /** The inbox this request may use: the signed-in user's, or (admin keys) the one named. */
  async function inboxOf(req: FastifyRequest, userId: string | undefined): Promise<string> {
    if (req.user !== null) {
      if (userId !== undefined && userId !== req.user.id) throw new ApiError(E.userTokenRefused, 'a user token may only use its own inbox');
      return req.user.id;
    }
    if (userId === undefined) throw new ApiError(E.invalidQuery, 'user_id: required with an API key (a user token uses its own inbox)');
    try {
      return (await findUser(db, userId)).id;
    } catch (err) {
      if (err instanceof UserNotFoundError) throw new ApiError(E.userNotFound, err.message);
      throw err;
    }
  }

  app.get<{ Querystring: { unread?: boolean; cursor?: string; limit: number; user_id?: string } }>(
    '/v1/notifications',
    {
      config: ROUTE,
      schema: {
        summary: "List an inbox's notifications, newest first",
        tags: ['notifications'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            unread: { type: 'boolean', description: 'Only unread notifications.' },
            cursor: { type: 'string', maxLength: 100 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_INBOX_LIMIT, default: DEFAULT_INBOX_LIMIT },
            ...USER_ID,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { notifications: { type: 'array', items: NOTIFICATION_SCHEMA }, next_cursor: { type: ['string', 'null'] }, unread_count: { type: 'integer' } },
            required: ['notifications', 'next_cursor', 'unread_count'],
          },
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    },
    async (req) => {
      const user = await inboxOf(req, req.query.user_id);
      let before: string | null = null;
      if (req.query.cursor !== undefined) {
        before = decodeInboxCursor(req.query.cursor);
        if (before === null) throw new ApiError(E.invalidCursor);
      }
      const page = await listInbox(db, user, { unread: req.query.unread, before, limit: req.query.limit });
      return { ...page, unread_count: await unreadCount(db, user) };
    },
  );

  app.get<{ Querystring: { user_id?: string } }>(
    '/v1/notifications/unread-count',
    {
      config: ROUTE,
      schema: {
        summary: 'How many notifications of an inbox are unread',
        tags: ['notifications'],
        querystring: { type: 'object', additionalProperties: false, properties: USER_ID },
        response: { 200: { type: 'object', properties: { unread_count: { type: 'integer' } }, required: ['unread_count'] }, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => ({ unread_count: await unreadCount(db, await inboxOf(req, req.query.user_id)) }),
  );

  app.post<{ Params: { id: string }; Querystring: { user_id?: string } }>(
    '/v1/notifications/:id/read',
    {
      config: ROUTE,
      schema: {
        summary: 'Mark one notification read',
        tags: ['notifications'],
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,18}$' } }, required: ['id'] },
        querystring: { type: 'object', additionalProperties: false, properties: USER_ID },
        response: { 200: NOTIFICATION_SCHEMA, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => {
      const n = await markRead(db, await inboxOf(req, req.query.user_id), req.params.id);
      // Another user's notification is "not found" too: its existence is not revealed.
      if (n === null) throw new ApiError(E.notificationNotFound);
      return n;
    },
  );

  app.post<{ Querystring: { user_id?: string } }>(
    '/v1/notifications/read-all',
    {
      config: ROUTE,
      schema: {
        summary: 'Mark every notification of an inbox read',
        tags: ['notifications'],
        querystring: { type: 'object', additionalProperties: false, properties: USER_ID },
        response: { 200: { type: 'object', properties: { marked: { type: 'integer' }, unread_count: { type: 'integer' } }, required: ['marked', 'unread_count'] }, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => {
      const user = await inboxOf(req, req.query.user_id);
      const marked = await markAllRead(db, user);
      return { marked, unread_count: await unreadCount(db, user) };
    },
  );
};
