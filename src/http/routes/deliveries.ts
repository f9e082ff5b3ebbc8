/**
 * The outbox over HTTP: `GET /v1/deliveries` (filtered, keyset-paginated, newest first),
 * `GET /v1/deliveries/{id}` (with every attempt) — `read` scope — and
 * `POST /v1/deliveries/{id}/retry` (`respond` scope): a dead or waiting delivery is queued again
 * now. Targets are shown by name and masked, never their address. The queries are in src/outbox/.
 */
import type { FastifyPluginAsync } from 'fastify';
import { DEFAULT_MAX_ATTEMPTS } from '../../outbox/backoff.js';
import { DEFAULT_DELIVERY_LIMIT, DELIVERY_STATUSES, DeliveryQueryError, deliveryView, getDelivery, MAX_DELIVERY_LIMIT, noMasker, queryDeliveries, retryNow, type DeliveryQuery, type RetryAnswer, type TargetMasker } from '../../outbox/views.js';
import type { Queryable } from '../../store/store.js';
import { ApiError, E, ERROR_SCHEMA } from '../errors.js';

export interface DeliveryRoutesOptions extends Record<string, unknown> {
  db: Queryable;
  /** Masks a stored target name (the server's channel directory); default `****`. */
  mask?: TargetMasker;
  /** Queues a delivery again (the server's outbox, which also wakes its worker). */
  retry?: (id: string) => Promise<RetryAnswer>;
}

const ATTEMPT_SCHEMA = {
  type: 'object',
  properties: {
    attempt: { type: 'integer' },
    started_at: { type: 'string', format: 'date-time' },
    duration_ms: { type: 'number' },
    outcome: { type: 'string', enum: ['ok', 'retryable', 'permanent'] },
    provider_status: { type: ['string', 'null'], description: 'HTTP status, SMTP reply code, or an error code.' },
    error: { type: ['string', 'null'], description: 'Masked, free of secrets.' },
    worker: { type: 'string' },
  },
  required: ['attempt', 'started_at', 'duration_ms', 'outcome', 'provider_status', 'error', 'worker'],
} as const;

const nullable = (type: string, format?: string) => ({ type: [type, 'null'], ...(format ? { format } : {}) });

const DELIVERY_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid', description: 'Also the idempotency key providers see (webhook-id).' },
    intervention_id: nullable('string', 'uuid'),
    channel: { type: 'string' },
    target: { type: 'string', description: "The configured target's name." },
    target_masked: { type: 'string', description: 'Its address, masked: never the address or a secret.' },
    route: { type: 'string' },
    reason: { type: 'string', description: 'Why it notifies: first_time, level_rose, repeat_interval, escalated.' },
    level: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'string', enum: [...DELIVERY_STATUSES] },
    attempt_count: { type: 'integer' },
    max_attempts: { type: 'integer' },
    next_attempt_at: { ...nullable('string', 'date-time'), description: 'When a pending delivery is tried next.' },
    last_status: nullable('string'),
    last_error: nullable('string'),
    fallback_channel: nullable('string'),
    fallback_of: nullable('string', 'uuid'),
    created_at: { type: 'string', format: 'date-time' },
    sent_at: nullable('string', 'date-time'),
    dead_at: nullable('string', 'date-time'),
    attempts: { type: 'array', items: ATTEMPT_SCHEMA, description: 'Every attempt, oldest first (with ?attempts=true, and always for one delivery).' },
  },
  required: ['id', 'intervention_id', 'channel', 'target', 'target_masked', 'status', 'attempt_count', 'max_attempts', 'created_at'],
} as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));
const ID_PARAMS = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['id'] } as const;

export const deliveryRoutes: FastifyPluginAsync<DeliveryRoutesOptions> = async (app, opts) => {
  const { db } = opts;
  const mask = opts.mask ?? noMasker;
  const retry = opts.retry ?? ((id: string) => retryNow(db, id, Date.now(), () => DEFAULT_MAX_ATTEMPTS));

  app.get<{ Querystring: DeliveryQuery }>(
    '/v1/deliveries',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List deliveries',
        description: 'The outbox, newest first: one delivery per notification and channel target, with its state.',
        tags: ['deliveries'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: [...DELIVERY_STATUSES] },
            channel: { type: 'string', minLength: 1, maxLength: 64 },
            intervention_id: { type: 'string', format: 'uuid' },
            cursor: { type: 'string', maxLength: 200 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_DELIVERY_LIMIT, default: DEFAULT_DELIVERY_LIMIT },
            attempts: { type: 'boolean', default: false, description: 'Include each delivery\'s attempts.' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              deliveries: { type: 'array', items: DELIVERY_SCHEMA },
              next_cursor: { type: ['string', 'null'], description: 'Pass as cursor for the next page; null when there is none.' },
            },
            required: ['deliveries', 'next_cursor'],
          },
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (req) => {
      try {
        return await queryDeliveries(db, req.query, mask);
      } catch (err) {
        if (err instanceof DeliveryQueryError) {
          const cursor = err.problems.some((p) => p.startsWith('cursor'));
          throw new ApiError(cursor ? E.invalidCursor : E.invalidDeliveryQuery, err.message, { problems: err.problems });
        }
        throw err;
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/deliveries/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'One delivery with its attempts',
        tags: ['deliveries'],
        params: ID_PARAMS,
        response: { 200: DELIVERY_SCHEMA, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => {
      const d = await getDelivery(db, req.params.id, mask);
      if (d === null) throw new ApiError(E.deliveryNotFound);
      return d;
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/deliveries/:id/retry',
    {
      config: { scope: 'respond' },
      schema: {
        summary: 'Retry a delivery now',
        description: 'A dead delivery (or one waiting for its next attempt) is queued again now, with the channel\'s attempts budget again. 409 when it was sent.',
        tags: ['deliveries'],
        params: ID_PARAMS,
        response: { 200: DELIVERY_SCHEMA, ...errors(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (req) => {
      const r = await retry(req.params.id);
      if (!r.ok) throw new ApiError(r.error === 'not_found' ? E.deliveryNotFound : E.deliverySent, r.message);
      req.log.info({ delivery: r.delivery.id, channel: r.delivery.channel, by: req.principal?.name }, 'delivery queued again by hand');
      return deliveryView(r.delivery, mask);
    },
  );
};
