/**
 * Silences over HTTP: `POST /v1/silences` (create), `GET /v1/silences` (list), `DELETE
 * /v1/silences/{id}` (expire now). A silenced intervention is recorded but not sent; see
 * docs/interventions.md#silences. `read` to list, `respond` (or `admin`) to create and expire;
 * `created_by` and `expired_by` are the API key's name.
 */
import type { FastifyPluginAsync } from 'fastify';
import { MATCHER_OPS } from '../../interventions/matchers.js';
import type { InterventionService } from '../../interventions/service.js';
import { E } from '../errors.js';
import { actor, calling, errors } from './interventions.js';

export interface SilenceRoutesOptions extends Record<string, unknown> {
  interventions: InterventionService;
}

const MATCHER = {
  type: 'object',
  additionalProperties: false,
  required: ['field'],
  properties: {
    field: { type: 'string', minLength: 1, maxLength: 200, description: 'level, reasons, task_id, dedupe_key, source, title or context.<path>' },
    op: { type: 'string', enum: [...MATCHER_OPS], default: 'eq' },
    value: {},
  },
} as const;

export const SILENCE_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    matchers: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, op: { type: 'string' }, value: {} } } },
    starts_at: { type: 'string', format: 'date-time' },
    ends_at: { type: 'string', format: 'date-time' },
    created_by: { type: 'string' },
    comment: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    expired_by: { type: ['string', 'null'] },
    expired_at: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['id', 'matchers', 'starts_at', 'ends_at', 'created_by', 'comment', 'created_at', 'expired_by', 'expired_at'],
} as const;

interface SilenceBody {
  matchers: unknown[];
  starts_at?: string;
  ends_at?: string;
  duration?: string | number;
  comment?: string;
}

export const silenceRoutes: FastifyPluginAsync<SilenceRoutesOptions> = async (app, { interventions: svc }) => {
  app.post<{ Body: SilenceBody }>(
    '/v1/silences',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Create a silence',
        description: 'Matchers (all must hold; at least one) and a time range: ends_at or a duration (30m, 2h, 1d), at most 90 days; starts now unless starts_at.',
        tags: ['silences'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['matchers'],
          properties: {
            matchers: { type: 'array', minItems: 1, maxItems: 50, items: MATCHER },
            starts_at: { type: 'string', format: 'date-time' },
            ends_at: { type: 'string', format: 'date-time' },
            duration: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 1 }], description: '30m, 2h, 1d, or milliseconds' },
            comment: { type: 'string', maxLength: 2000 },
          },
        },
        response: { 201: SILENCE_SCHEMA, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req, reply) => reply.code(201).send(await calling(() => svc.addSilence({ ...req.body, created_by: actor(req) }))),
  );

  app.get<{ Querystring: { all: boolean; active: boolean } }>(
    '/v1/silences',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List silences',
        description: 'Those not yet ended (in force or pending), newest first; all=true adds ended ones, active=true keeps only those in force now.',
        tags: ['silences'],
        querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean', default: false }, active: { type: 'boolean', default: false } } },
        response: { 200: { type: 'object', properties: { silences: { type: 'array', items: SILENCE_SCHEMA } }, required: ['silences'] }, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => ({ silences: await svc.listSilences(req.query) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/silences/:id',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Expire a silence',
        description: 'Ends it now; expiring one already ended changes nothing.',
        tags: ['silences'],
        params: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] },
        response: { 200: SILENCE_SCHEMA, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => calling(() => svc.expireSilence(req.params.id.toLowerCase(), actor(req)), E.silenceNotFound),
  );
};
