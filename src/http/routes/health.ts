/** `GET /healthz` (the process answers) and `GET /readyz` (the database answers too). Public. */
import type { FastifyPluginAsync } from 'fastify';
import type { Store } from '../../store/store.js';
import { ApiError, E, ERROR_SCHEMA, RETRY_AFTER_SECONDS } from '../errors.js';

export interface HealthOptions extends Record<string, unknown> {
  store: Store;
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { store }) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness',
        tags: ['operations'],
        response: { 200: { type: 'object', properties: { status: { type: 'string', const: 'ok' } }, required: ['status'] } },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the database answers',
        tags: ['operations'],
        response: {
          200: {
            type: 'object',
            properties: { status: { type: 'string', const: 'ready' }, store: { type: 'string', enum: ['embedded', 'postgres'] }, migration: { type: 'integer' } },
            required: ['status', 'store', 'migration'],
          },
          503: ERROR_SCHEMA,
        },
      },
    },
    async (req) => {
      try {
        const { rows } = await store.query<{ v: number | null }>('SELECT max(version) AS v FROM vigil_migrations');
        return { status: 'ready', store: store.kind, migration: rows[0]?.v ?? 0 };
      } catch (err) {
        req.log.warn({ err: { message: (err as Error).message } }, 'readiness check failed');
        throw new ApiError(E.databaseUnavailable, 'the database does not answer', {}, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
      }
    },
  );
};
