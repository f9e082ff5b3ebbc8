/**
 * Interventions over HTTP: checking a task, opening one by hand, listing, showing, acknowledging
 * and resolving, and the thresholds at run time. Thin: each handler calls one method of the
 * InterventionService (src/interventions/service.ts) and maps its errors to the catalogue.
 *
 * Scopes: `read` to list and show, `respond` (or `admin`) to act; changing thresholds is `admin`.
 * Who acts (`by`) is the name of the API key.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { INTERVENTION_LEVELS, type InterventionLevel } from '../../interventions/levels.js';
import { InterventionError } from '../../interventions/errors.js';
import type { CheckContext, TaskInput } from '../../rules/check.js';
import type { InterventionService } from '../../interventions/service.js';
import { MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT } from '../../interventions/service.js';
import { STATUSES, type InterventionStatus } from '../../interventions/types.js';
import { ApiError, E, ERROR_SCHEMA, type ErrorSpec } from '../errors.js';

export interface InterventionRoutesOptions extends Record<string, unknown> {
  interventions: InterventionService;
}

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));

/** The service's errors as the catalogue's (its HTTP_STATUS): invalid → 400 40010, not_found → 404, conflict → 409 40910. */
export function apiError(err: unknown, notFound: ErrorSpec = E.interventionNotFound): unknown {
  if (!(err instanceof InterventionError)) return err;
  const spec = err.code === 'invalid' ? E.invalidIntervention : err.code === 'not_found' ? notFound : E.interventionResolved;
  return new ApiError(spec, err.code === 'invalid' ? `${spec.message}: ${err.message}` : err.message, err.problems.length > 0 ? { problems: err.problems } : {});
}

/** Runs a service call, turning its errors into the catalogue's. */
export async function calling<T>(fn: () => Promise<T> | T, notFound?: ErrorSpec): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw apiError(err, notFound);
  }
}

/** Who acts: the API key's name. */
export const actor = (req: FastifyRequest): string => req.principal?.name ?? 'unknown';

const LEVEL = { type: 'string', enum: [...INTERVENTION_LEVELS] } as const;
const TIME = { type: 'string', format: 'date-time' } as const;
const TIME_OR_NULL = { type: ['string', 'null'], format: 'date-time' } as const;
const FREE_OBJECT = { type: 'object', additionalProperties: true } as const;
const REASON = {
  type: 'object',
  properties: { code: { type: 'string' }, level: LEVEL, detail: { type: 'string' } },
  required: ['code', 'level', 'detail'],
} as const;

export const INTERVENTION_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    task_id: { type: ['string', 'null'] },
    reasons: { type: 'array', items: { type: 'string' }, description: 'Reason codes, first seen first.' },
    level: LEVEL,
    title: { type: 'string' },
    message: { type: 'string' },
    context: FREE_OBJECT,
    dedupe_key: { type: 'string' },
    source: { type: 'string', description: 'check, manual or rule:<id>' },
    status: { type: 'string', enum: [...STATUSES] },
    occurrences: { type: 'integer' },
    first_seen: TIME,
    last_seen: TIME,
    level_since: TIME,
    last_notified_at: TIME_OR_NULL,
    acknowledged_by: { type: ['string', 'null'] },
    acknowledged_at: TIME_OR_NULL,
    resolved_by: { type: ['string', 'null'] },
    resolved_at: TIME_OR_NULL,
  },
  required: ['id', 'task_id', 'reasons', 'level', 'title', 'message', 'context', 'dedupe_key', 'source', 'status', 'occurrences', 'first_seen', 'last_seen', 'level_since'],
} as const;

const DETAIL_SCHEMA = {
  type: 'object',
  properties: {
    intervention: INTERVENTION_SCHEMA,
    occurrences: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'integer' }, at: TIME, level: LEVEL, reasons: { type: 'array', items: REASON }, source: { type: 'string' }, context: FREE_OBJECT },
      },
    },
    notifications: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          at: TIME,
          reason: { type: 'string' },
          level: LEVEL,
          channels: { type: 'array', items: { type: 'string' } },
          routes: { type: 'array', items: { type: 'string' } },
          silenced_by: { type: 'array', items: { type: 'string' } },
          deliveries: { type: 'integer' },
        },
      },
    },
    deliveries: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string' }, channel: { type: 'string' }, route: { type: 'string' }, why: { type: 'string' }, level: { type: 'string' }, created_at: TIME, state: { type: 'string' } },
      },
    },
  },
  required: ['intervention', 'occurrences', 'notifications', 'deliveries'],
} as const;

const THRESHOLDS_SCHEMA = {
  type: 'object',
  properties: {
    confidence_threshold: { type: 'number', minimum: 0, maximum: 1 },
    error_threshold: { type: 'integer', minimum: 1 },
    budget_threshold: { type: 'number', exclusiveMinimum: 0 },
    compliance_keywords: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
} as const;

const ID_PARAMS = { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] } as const;

interface CheckBody {
  task: TaskInput;
  context?: CheckContext;
  dry_run?: boolean;
}

interface OpenBody {
  level: InterventionLevel;
  title: string;
  message?: string;
  task_id?: string | null;
  reasons?: string[];
  context?: Record<string, unknown>;
  dedupe_key?: string;
}

export const interventionRoutes: FastifyPluginAsync<InterventionRoutesOptions> = async (app, { interventions: svc }) => {
  app.post<{ Body: CheckBody }>(
    '/v1/interventions/check',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Check whether a task needs a person',
        description:
          'Runs the seven checks (confidence, priority, errors recorded for the task, budget, impact, review, compliance words) and answers every matched reason and the highest level. Unless dry_run, a needed intervention is opened (or the open one for the task gets an occurrence).',
        tags: ['interventions'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['task'],
          properties: {
            task: {
              type: 'object',
              additionalProperties: false,
              required: ['id'],
              properties: {
                id: { type: 'string', minLength: 1, maxLength: 256 },
                text: { type: ['string', 'null'] },
                priority: { type: ['string', 'null'] },
                confidence: { type: ['number', 'null'], minimum: 0, maximum: 1 },
                impact: { type: ['string', 'null'] },
                requires_review: { type: ['boolean', 'null'] },
                agent: { type: ['string', 'null'] },
              },
            },
            context: { type: 'object', additionalProperties: true, properties: { budget_used: { type: ['number', 'null'], minimum: 0, description: 'US dollars this budget period; default: the spend counted by the monthly_budget rule.' } } },
            dry_run: { type: 'boolean', default: false },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              needed: { type: 'boolean' },
              level: { anyOf: [LEVEL, { type: 'null' }] },
              reasons: { type: 'array', items: REASON },
              intervention: { anyOf: [INTERVENTION_SCHEMA, { type: 'null' }], description: 'The intervention opened or updated; null when none was needed or on a dry run.' },
              created: { type: 'boolean' },
              facts: { type: 'object', properties: { error_count: { type: 'integer' }, budget_used: { type: ['number', 'null'] } } },
            },
            required: ['needed', 'level', 'reasons', 'intervention', 'created', 'facts'],
          },
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (req) => {
      const o = await calling(() => svc.check(req.body.task, req.body.context ?? {}, { dry_run: req.body.dry_run }));
      return { needed: o.needed, level: o.level, reasons: o.reasons, intervention: o.intervention, created: o.created, facts: o.facts };
    },
  );

  app.post<{ Body: OpenBody }>(
    '/v1/interventions',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Open an intervention by hand',
        description: 'With the dedupe key of one not yet resolved (default manual:<task_id> when a task is given), adds an occurrence to it instead (200).',
        tags: ['interventions'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['level', 'title'],
          properties: {
            level: LEVEL,
            title: { type: 'string', minLength: 1, maxLength: 500 },
            message: { type: 'string', maxLength: 10_000 },
            task_id: { type: ['string', 'null'], minLength: 1, maxLength: 256 },
            reasons: { type: 'array', maxItems: 20, items: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,63}$' } },
            context: FREE_OBJECT,
            dedupe_key: { type: 'string', minLength: 1, maxLength: 500 },
          },
        },
        response: {
          200: { type: 'object', properties: { intervention: INTERVENTION_SCHEMA, created: { type: 'boolean' } }, required: ['intervention', 'created'] },
          201: { type: 'object', properties: { intervention: INTERVENTION_SCHEMA, created: { type: 'boolean' } }, required: ['intervention', 'created'] },
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const o = await calling(() => svc.open({ ...req.body, by: actor(req) }));
      return reply.code(o.created ? 201 : 200).send({ intervention: o.intervention, created: o.created });
    },
  );

  app.get<{ Querystring: { status?: InterventionStatus; level?: InterventionLevel; task_id?: string; limit: number; cursor?: string } }>(
    '/v1/interventions',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List interventions',
        description: 'Newest first, with a keyset cursor.',
        tags: ['interventions'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: [...STATUSES] },
            level: LEVEL,
            task_id: { type: 'string', minLength: 1, maxLength: 256 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT },
            cursor: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
          },
        },
        response: {
          200: { type: 'object', properties: { interventions: { type: 'array', items: INTERVENTION_SCHEMA }, next_cursor: { type: ['string', 'null'] } }, required: ['interventions', 'next_cursor'] },
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (req) => {
      try {
        return await svc.list(req.query);
      } catch (err) {
        if (err instanceof InterventionError && err.problems.some((p) => p.startsWith('cursor:'))) throw new ApiError(E.invalidCursor);
        throw apiError(err);
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/interventions/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Show an intervention',
        description: 'With its occurrences, notification decisions and deliveries.',
        tags: ['interventions'],
        params: ID_PARAMS,
        response: { 200: DETAIL_SCHEMA, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => {
      const d = await svc.get(req.params.id.toLowerCase());
      if (d === null) throw new ApiError(E.interventionNotFound, `no intervention has the id ${req.params.id}`);
      return d;
    },
  );

  app.post<{ Params: { id: string }; Body: Record<string, never> | undefined }>(
    '/v1/interventions/:id/ack',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Acknowledge an intervention',
        description: 'Stops its repeats and escalation. Idempotent; 409 when it is already resolved.',
        tags: ['interventions'],
        params: ID_PARAMS,
        body: { type: ['object', 'null'], additionalProperties: false, properties: {} },
        response: { 200: INTERVENTION_SCHEMA, ...errors(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (req) => calling(() => svc.ack(req.params.id.toLowerCase(), actor(req))),
  );

  app.post<{ Params: { id: string }; Body: { note?: string } | undefined }>(
    '/v1/interventions/:id/resolve',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Resolve an intervention',
        description: 'Closes it; the next trigger of its dedupe key opens a new one. Idempotent.',
        tags: ['interventions'],
        params: ID_PARAMS,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { note: { type: 'string', maxLength: 2000 } } },
        response: { 200: INTERVENTION_SCHEMA, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => calling(() => svc.resolve(req.params.id.toLowerCase(), actor(req), req.body?.note)),
  );

  app.get(
    '/v1/thresholds',
    {
      config: { scope: 'read' },
      schema: { summary: 'The check thresholds in force', tags: ['interventions'], response: { 200: THRESHOLDS_SCHEMA, ...errors(401, 403, 429) } },
    },
    async () => svc.thresholds(),
  );

  app.put<{ Body: Record<string, unknown> }>(
    '/v1/thresholds',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Change thresholds at run time',
        description: 'A partial update; applies at once to the checks and the stream rules of this server process (not saved: the config file holds the defaults).',
        tags: ['interventions'],
        body: { ...THRESHOLDS_SCHEMA, additionalProperties: false, minProperties: 1 },
        response: { 200: THRESHOLDS_SCHEMA, ...errors(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const next = await calling(() => svc.updateThresholds(req.body));
      req.log.info({ by: actor(req), thresholds: next }, 'thresholds changed');
      return next;
    },
  );
};
