/**
 * `POST /v1/events`: one event, or `{"events": [...]}` with up to 1,000 events and 5 MiB.
 *
 * Every event is validated on its own (`validateEvent`, from the catalogue); the valid ones are
 * committed through the group committer, and the answer is sent only after the commit:
 *   200 {results}        every event stored
 *   207 {results}        a batch where some (or all) events were refused; each refusal says why
 *   400 {code, error, results}  a single event (not wrapped in `events`) that was refused
 *   400 / 413            the body is not JSON, not of this shape, or over the limits
 *   503 + Retry-After    the database failed: nothing of the request was acknowledged
 * An event sent again with the same id is stored once and answered as success both times.
 */
import type { FastifyPluginAsync } from 'fastify';
import { isBuiltin } from '../../events/catalogue.js';
import { CommitterClosedError, type GroupCommitter } from '../../events/groupCommit.js';
import { INGEST_RESPONSE_SCHEMA, MAX_EVENTS_PER_REQUEST, MAX_REQUEST_BYTES, ingestBodySchema } from '../../events/schema.js';
import type { EventRow, LogResult } from '../../events/types.js';
import { formatProblems, validateEvent } from '../../events/validate.js';
import { ApiError, E, ERROR_SCHEMA, RETRY_AFTER_SECONDS } from '../errors.js';
import type { ServerMetrics } from '../metrics.js';

export interface IngestOptions extends Record<string, unknown> {
  committer: GroupCommitter;
  metrics: ServerMetrics;
}

/** Keeps metric labels bounded: custom event types are counted together. */
function typeLabel(e: unknown): string {
  const t = (e as { event_type?: unknown } | null)?.event_type;
  return typeof t === 'string' && isBuiltin(t) ? t : typeof t === 'string' ? 'custom' : 'invalid';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The events of the body, and whether it was the batch form; throws the 400/413 answers. */
function eventsOf(body: unknown): { events: unknown[]; batch: boolean } {
  if (!isObject(body)) throw new ApiError(E.invalidBody, `${E.invalidBody.message}; got ${Array.isArray(body) ? 'an array' : typeof body}`);
  if (!('events' in body)) return { events: [body], batch: false };
  const events = body.events;
  const others = Object.keys(body).filter((k) => k !== 'events');
  if (others.length > 0) throw new ApiError(E.invalidBody, `a batch holds only "events"; unexpected: ${others.join(', ')}`);
  if (!Array.isArray(events)) throw new ApiError(E.invalidBody, '"events" must be an array of events');
  if (events.length === 0) throw new ApiError(E.invalidBody, '"events" is empty; send at least one event');
  if (events.length > MAX_EVENTS_PER_REQUEST) {
    throw new ApiError(E.tooManyEvents, `too many events in one request: ${events.length}, at most ${MAX_EVENTS_PER_REQUEST}`);
  }
  return { events, batch: true };
}

function record(metrics: ServerMetrics, accepted: Map<string, number>, refused: Map<string, number>): void {
  for (const [type, n] of accepted) metrics.eventsAccepted.inc({ event_type: type }, n);
  for (const [key, n] of refused) {
    const [reason, type] = key.split('\t');
    metrics.eventsRefused.inc({ event_type: type, reason }, n);
  }
}

export const ingestRoutes: FastifyPluginAsync<IngestOptions> = async (app, { committer, metrics }) => {
  const response = { 200: INGEST_RESPONSE_SCHEMA, 207: INGEST_RESPONSE_SCHEMA };
  const errors = Object.fromEntries([400, 401, 403, 413, 415, 429, 503].map((s) => [s, ERROR_SCHEMA]));
  app.post(
    '/v1/events',
    {
      config: { scope: 'ingest' },
      bodyLimit: MAX_REQUEST_BYTES,
      schema: {
        summary: 'Record events',
        description: 'One event, or {"events": [...]} (1 to 1,000 events, at most 5 MiB). Answers after the events are committed.',
        tags: ['events'],
        body: ingestBodySchema(),
        response: { ...response, ...errors },
      },
      // The body schema documents the API; each event is checked by validateEvent (same
      // catalogue) so that one bad event refuses only itself, with a 207, not the whole batch.
      validatorCompiler: () => () => true,
    },
    async (req, reply) => {
      const { events, batch } = eventsOf(req.body);
      metrics.requestEvents.observe(events.length);
      const now = Date.now();
      const nowIso = new Date(now).toISOString();
      const results: LogResult[] = new Array<LogResult>(events.length);
      const rows: EventRow[] = [];
      const at: number[] = [];
      // Counted per request, then added to the metrics once per type: labels cost more than events.
      const accepted = new Map<string, number>();
      const refused = new Map<string, number>();
      const count = (m: Map<string, number>, label: string) => m.set(label, (m.get(label) ?? 0) + 1);
      for (let i = 0; i < events.length; i++) {
        const v = validateEvent(events[i], now);
        if (v.ok) {
          rows.push(v.row);
          at.push(i);
          continue;
        }
        const id = (events[i] as { id?: unknown } | null)?.id;
        results[i] = { success: false, timestamp: nowIso, error: formatProblems(v.problems), ...(typeof id === 'string' ? { id } : {}) } as LogResult;
        count(refused, `invalid\t${typeLabel(events[i])}`);
      }
      if (rows.length > 0) {
        let outcomes: (string | null)[];
        try {
          outcomes = await committer.submit(rows);
        } catch (err) {
          for (const r of rows) count(refused, `unavailable\t${typeLabel(r)}`);
          record(metrics, accepted, refused);
          const headers = { 'Retry-After': String(RETRY_AFTER_SECONDS) };
          if (err instanceof CommitterClosedError) throw new ApiError(E.shuttingDown, undefined, {}, headers);
          req.log.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'commit failed; answering 503');
          throw new ApiError(E.databaseUnavailable, undefined, {}, headers);
        }
        for (let j = 0; j < rows.length; j++) {
          const row = rows[j];
          const why = outcomes[j];
          if (why === null) {
            results[at[j]] = { success: true, id: row.id, timestamp: new Date(row.time).toISOString() };
            count(accepted, typeLabel(row));
          } else {
            results[at[j]] = { success: false, id: row.id, timestamp: nowIso, error: why } as LogResult;
            count(refused, `database\t${typeLabel(row)}`);
          }
        }
      }
      record(metrics, accepted, refused);
      if (!batch && !results[0].success) {
        throw new ApiError(E.eventRefused, `${E.eventRefused.message}: ${(results[0] as { error: string }).error}`, { results });
      }
      return reply.code(results.every((r) => r.success) ? 200 : 207).send({ results });
    },
  );
};
