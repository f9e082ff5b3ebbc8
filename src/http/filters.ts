/**
 * The filters of the query API (`GET /v1/events`, `/v1/events/export`, `vigil query|tail|export`):
 * their JSON Schema as query parameters, and their translation into the query module's filters.
 */
import { CUSTOM_EVENT_TYPE_PATTERN, LEVELS, MAX_STRING_FIELD_CHARS, type Level } from '../events/catalogue.js';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, type EventFilters, type Order } from '../events/queries.js';
import { ApiError, E } from './errors.js';

const TYPE = CUSTOM_EVENT_TYPE_PATTERN.source.replace(/^\^|\$$/g, '');
const text = (description: string) => ({ type: 'string', minLength: 1, maxLength: MAX_STRING_FIELD_CHARS, description });

/** Query parameters shared by listing and exporting, as they arrive over HTTP. */
export interface FilterQuery {
  event_type?: string[];
  level?: Level;
  since?: string;
  until?: string;
  task_id?: string;
  user_id?: string;
  agent_name?: string;
  model_name?: string;
  status?: string;
  q?: string;
  order?: Order;
}

export const FILTER_PROPERTIES = {
  event_type: {
    type: 'array',
    maxItems: 50,
    items: { type: 'string', pattern: `^${TYPE}(,${TYPE})*$` },
    description: 'Event types to include; repeat the parameter or separate with commas.',
  },
  level: { type: 'string', enum: [...LEVELS], description: 'Minimum level.' },
  since: { type: 'string', format: 'date-time', description: 'Events at or after this time (ISO 8601 with a zone).' },
  until: { type: 'string', format: 'date-time', description: 'Events before this time (ISO 8601 with a zone).' },
  task_id: text('Events of this task (log_metadata.task_id).'),
  user_id: text('Events of this user: matches created_by, updated_by and user_id.'),
  agent_name: text('Events of this agent (log_metadata.agent_name).'),
  model_name: text('Events of this model: matches model_name and model_used.'),
  status: text('Events with this status (log_metadata.status).'),
  q: { type: 'string', minLength: 1, maxLength: 1000, description: 'Text contained in the message (case-insensitive).' },
  order: { type: 'string', enum: ['desc', 'asc'], default: 'desc', description: 'desc: newest first (default); asc: oldest first.' },
} as const;

export const LIST_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...FILTER_PROPERTIES,
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `Events per page (1 to ${MAX_PAGE_SIZE}).` },
    cursor: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', description: 'next_cursor (or head_cursor) of an earlier answer.' },
  },
} as const;

export const EXPORT_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...FILTER_PROPERTIES,
    format: { type: 'string', enum: ['ndjson', 'csv'], default: 'ndjson', description: 'ndjson: one event per line; csv: RFC 4180 with a header.' },
  },
} as const;

/** A 400 naming the query parameter and its problem, like the schema's own refusals. */
function invalidParam(name: string, problem: string): ApiError {
  const p = { field: `querystring/${name}`, problem };
  return new ApiError(E.invalidQuery, `${E.invalidQuery.message}: ${p.field}: ${p.problem}`, { problems: [p] });
}

/**
 * A `since`/`until` parameter as a Date. The schema's date-time format admits a leap second
 * (`23:59:60`), which JavaScript dates cannot hold: refused here, naming the parameter, rather
 * than failing later as an internal error.
 */
export function queryDate(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw invalidParam(name, 'not a date-time this server can represent (a leap second, 23:59:60, is not supported)');
  return d;
}

/** The range `logs` can hold (event timestamps are refused outside it); PostgreSQL cannot parse JavaScript's ISO text beyond it. */
const MIN_TIME_MS = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_TIME_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** `since`/`until` of the event filters: also within the years 0001 to 9999 (UTC). */
function filterDate(name: string, value: string | undefined): Date | undefined {
  const d = queryDate(name, value);
  if (d !== undefined && (d.getTime() < MIN_TIME_MS || d.getTime() > MAX_TIME_MS)) {
    throw invalidParam(name, 'out of range: events are from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z');
  }
  return d;
}

/** A text filter: PostgreSQL refuses a NUL in a parameter (an internal error otherwise); no stored event holds one. */
function queryText(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.includes('\u0000')) throw invalidParam(name, 'contains a NUL character (U+0000), which no event can hold');
  return value;
}

export function toFilters(q: FilterQuery): EventFilters {
  return {
    eventTypes: q.event_type?.flatMap((t) => t.split(',')),
    level: q.level,
    since: filterDate('since', q.since),
    until: filterDate('until', q.until),
    taskId: queryText('task_id', q.task_id),
    userId: queryText('user_id', q.user_id),
    agentName: queryText('agent_name', q.agent_name),
    modelName: queryText('model_name', q.model_name),
    status: queryText('status', q.status),
    q: queryText('q', q.q),
  };
}
