/**
 * Reading events: `GET /v1/events` (filtered, keyset-paginated), `GET /v1/events/export`
 * (streamed NDJSON or CSV) and `GET /v1/events/{id}`. All require the `read` scope; the SQL is in
 * src/events/queries.ts.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { BadCursorError, getEvent, listEvents, scanEvents, type Order } from '../../events/queries.js';
import { STORED_EVENT_SCHEMA } from '../../events/schema.js';
import type { Queryable } from '../../store/store.js';
import { ApiError, E, ERROR_SCHEMA } from '../errors.js';
import { CONTENT_TYPE, renderExport, type ExportFormat } from '../exportFormat.js';
import { EXPORT_QUERY_SCHEMA, LIST_QUERY_SCHEMA, toFilters, type FilterQuery } from '../filters.js';

export interface EventRoutesOptions extends Record<string, unknown> {
  db: Queryable;
}

const PAGE_SCHEMA = {
  type: 'object',
  properties: {
    events: { type: 'array', items: STORED_EVENT_SCHEMA },
    next_cursor: { type: ['string', 'null'], description: 'Pass as cursor for the next page (same order); null when there is none.' },
    head_cursor: { type: ['string', 'null'], description: 'A cursor at the newest event of this answer: with order=asc it yields only newer events (for tailing).' },
  },
  required: ['events', 'next_cursor', 'head_cursor'],
} as const;

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ERROR_SCHEMA]));

export const eventRoutes: FastifyPluginAsync<EventRoutesOptions> = async (app, { db }) => {
  app.get<{ Querystring: FilterQuery & { limit: number; cursor?: string } }>(
    '/v1/events',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List events',
        description: 'Events matching the filters, newest first, with a keyset cursor that stays stable while new events arrive.',
        tags: ['events'],
        querystring: LIST_QUERY_SCHEMA,
        response: { 200: PAGE_SCHEMA, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req) => {
      try {
        return await listEvents(db, toFilters(req.query), { cursor: req.query.cursor, order: req.query.order, limit: req.query.limit });
      } catch (err) {
        if (err instanceof BadCursorError) throw new ApiError(E.invalidCursor);
        throw err;
      }
    },
  );

  app.get<{ Querystring: FilterQuery & { format: ExportFormat } }>(
    '/v1/events/export',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Export events',
        description: 'Every event matching the filters, streamed as NDJSON or CSV; memory stays flat at any size. Ends at the newest event present when it started.',
        tags: ['events'],
        querystring: EXPORT_QUERY_SCHEMA,
        produces: ['application/x-ndjson', 'text/csv'],
        response: { 200: { description: 'The events, one per line.', type: 'string' }, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (req, reply) => {
      const format = req.query.format;
      const batches = scanEvents(db, toFilters(req.query), { order: req.query.order as Order });
      // Read the first batch before answering, so a database outage is a 503, not a cut stream.
      const first = await batches.next();
      async function* all() {
        if (first.done) return;
        yield first.value;
        yield* batches;
      }
      const stream = Readable.from(renderExport(format, all()));
      stream.on('error', (err) => req.log.warn({ err: { message: err.message } }, 'export stream failed; the response is cut short'));
      reply.header('content-type', CONTENT_TYPE[format]);
      reply.header('content-disposition', `attachment; filename="vigil-events.${format}"`);
      return reply.send(stream);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/events/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Get one event',
        tags: ['events'],
        params: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] },
        response: { 200: STORED_EVENT_SCHEMA, ...errors(400, 401, 403, 404, 429, 503) },
      },
    },
    async (req) => {
      const event = await getEvent(db, req.params.id.toLowerCase());
      if (event === null) throw new ApiError(E.eventNotFound, `no event has the id ${req.params.id}`);
      return event;
    },
  );
};
