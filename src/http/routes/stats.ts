/**
 * `GET /v1/stats/{name}` (`read` scope): usage statistics over `since`/`until`. The queries are
 * the stats module's (src/stats/); this route validates the range and hands it over.
 */
import type { FastifyPluginAsync } from 'fastify';
import { STATS } from '../../stats/index.js';
import type { Queryable } from '../../store/store.js';
import { ERROR_SCHEMA } from '../errors.js';
import { queryDate } from '../filters.js';

export interface StatsRoutesOptions extends Record<string, unknown> {
  db: Queryable;
}

export type StatName = keyof typeof STATS;
/** The statistics the stats module offers: the route accepts exactly these names. */
export const STAT_NAMES = Object.keys(STATS) as StatName[];

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (app, { db }) => {
  app.get<{ Params: { name: StatName }; Querystring: { since?: string; until?: string } }>(
    '/v1/stats/:name',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Usage statistics',
        description:
          'costs: cost, tokens and calls by model, provider and day · agents: executions, success rate, p50/p95 time per agent · ' +
          'tasks: created/completed/failed and completion time · cache: hit ratio per operation · errors: by component and type · ' +
          'security: permission denials by user and resource · database: p50/p95 query time per table.',
        tags: ['stats'],
        params: { type: 'object', properties: { name: { type: 'string', enum: [...STAT_NAMES] } }, required: ['name'] },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: { type: 'string', format: 'date-time', description: 'From this time (inclusive).' },
            until: { type: 'string', format: 'date-time', description: 'Until this time (exclusive).' },
          },
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => {
      const { since, until } = req.query;
      return STATS[req.params.name](db, { since: queryDate('since', since), until: queryDate('until', until) });
    },
  );
};
