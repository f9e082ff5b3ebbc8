/**
 * API key management over HTTP (`admin` scope): what `vigil keys` uses when a server holds the
 * embedded database. The SQL is in src/http/apiKeys.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Queryable } from '../../store/store.js';
import { createKey, KeyNotFoundError, listKeys, revokeKey, SCOPES, type Scope } from '../apiKeys.js';
import { ApiError, E, ERROR_SCHEMA } from '../errors.js';

export interface KeyRoutesOptions extends Record<string, unknown> {
  db: Queryable;
}

const KEY_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    prefix: { type: 'string', description: 'The first characters of the key, to recognise it.' },
    scopes: { type: 'array', items: { type: 'string', enum: [...SCOPES] } },
    rate_limit_per_minute: { type: ['integer', 'null'], description: "Requests per minute; null: the server's default; 0: unlimited." },
    created_at: { type: 'string', format: 'date-time' },
    revoked_at: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['id', 'name', 'prefix', 'scopes', 'rate_limit_per_minute', 'created_at', 'revoked_at'],
} as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));

export const keyRoutes: FastifyPluginAsync<KeyRoutesOptions> = async (app, { db }) => {
  app.post<{ Body: { name: string; scopes: Scope[]; rate_limit_per_minute?: number | null } }>(
    '/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Create an API key',
        description: 'The answer holds the key itself; it is shown only this once.',
        tags: ['keys'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'scopes'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 200 },
            scopes: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...SCOPES] } },
            rate_limit_per_minute: { type: ['integer', 'null'], minimum: 0 },
          },
        },
        response: {
          201: { ...KEY_SCHEMA, properties: { ...KEY_SCHEMA.properties, key: { type: 'string' } }, required: [...KEY_SCHEMA.required, 'key'] },
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const created = await createKey(db, { name: req.body.name, scopes: req.body.scopes, rateLimitPerMinute: req.body.rate_limit_per_minute });
      req.log.info({ key_id: created.id, name: created.name, scopes: created.scopes }, 'API key created');
      return reply.code(201).send(created);
    },
  );

  app.get<{ Querystring: { include_revoked: boolean } }>(
    '/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'List API keys',
        tags: ['keys'],
        querystring: { type: 'object', additionalProperties: false, properties: { include_revoked: { type: 'boolean', default: false } } },
        response: { 200: { type: 'object', properties: { keys: { type: 'array', items: KEY_SCHEMA } }, required: ['keys'] }, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => ({ keys: await listKeys(db, { includeRevoked: req.query.include_revoked }) }),
  );

  app.delete<{ Params: { ref: string } }>(
    '/v1/keys/:ref',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Revoke an API key',
        description: 'By id, or by name when one active key has that name. Takes effect at once on this server.',
        tags: ['keys'],
        params: { type: 'object', properties: { ref: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['ref'] },
        response: { 200: KEY_SCHEMA, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => {
      try {
        const revoked = await revokeKey(db, req.params.ref);
        app.forgetKeys();
        req.log.info({ key_id: revoked.id, name: revoked.name }, 'API key revoked');
        return revoked;
      } catch (err) {
        if (err instanceof KeyNotFoundError) throw new ApiError(E.keyNotFound, err.message);
        throw err;
      }
    },
  );
};
