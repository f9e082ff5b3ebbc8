/**
 * Users over HTTP (`admin` scope): what `vigil users` uses when a server holds the embedded
 * database. A token is in the answer only when it is made, never again. SQL: src/notifications/users.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import { createUser, createUserToken, findUser, listUsers, UserExistsError, UserNotFoundError } from '../../notifications/users.js';
import type { Queryable } from '../../store/store.js';
import { ApiError, E, ERROR_SCHEMA } from '../errors.js';

export interface UserRoutesOptions extends Record<string, unknown> {
  db: Queryable;
}

const USER_SCHEMA = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' }, created_at: { type: 'string', format: 'date-time' } },
  required: ['id', 'name', 'created_at'],
} as const;

const WITH_TOKEN = {
  ...USER_SCHEMA,
  properties: { ...USER_SCHEMA.properties, token: { type: 'string', description: 'The user token (vgu_…), shown only this once.' } },
  required: [...USER_SCHEMA.required, 'token'],
} as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));

export const userRoutes: FastifyPluginAsync<UserRoutesOptions> = async (app, { db }) => {
  app.post<{ Body: { name: string } }>(
    '/v1/users',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Create a user (with a first token)',
        description: 'The answer holds the user token; it is shown only this once.',
        tags: ['users'],
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 201: WITH_TOKEN, ...errors(400, 401, 403, 409, 429, 503) },
      },
    },
    async (req, reply) => {
      try {
        const created = await createUser(db, req.body.name);
        req.log.info({ user_id: created.id, name: created.name }, 'user created');
        return reply.code(201).send(created);
      } catch (err) {
        if (err instanceof UserExistsError) throw new ApiError(E.userExists, err.message);
        throw err;
      }
    },
  );

  app.get(
    '/v1/users',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'List users',
        tags: ['users'],
        response: { 200: { type: 'object', properties: { users: { type: 'array', items: USER_SCHEMA } }, required: ['users'] }, ...errors(401, 403, 429, 503) },
      },
    },
    async () => ({ users: await listUsers(db) }),
  );

  app.post<{ Params: { ref: string } }>(
    '/v1/users/:ref/tokens',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Make a new token for a user (by id or name)',
        description: 'Earlier tokens keep working. The token is shown only this once.',
        tags: ['users'],
        params: { type: 'object', properties: { ref: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['ref'] },
        response: { 201: WITH_TOKEN, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req, reply) => {
      try {
        const user = await findUser(db, req.params.ref);
        const token = await createUserToken(db, user.id);
        req.log.info({ user_id: user.id }, 'user token created');
        return reply.code(201).send({ ...user, token });
      } catch (err) {
        if (err instanceof UserNotFoundError) throw new ApiError(E.userNotFound, err.message);
        throw err;
      }
    },
  );
};
