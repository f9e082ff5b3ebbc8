/**
 * The filters of the query API (`GET /v1/events`, `/v1/events/export`, `vigil query|tail|export`):
 * their JSON Schema as query parameters, and their translation into the query module's filters.
 */
import { CUSTOM_EVENT_TYPE_PATTERN, LEVELS, MAX_STRING_FIELD_CHARS, type Level } from '../events/catalogue.js';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, type EventFilters, type Order } from '../events/queries.js';

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

export function toFilters(q: FilterQuery): EventFilters {
  return {
    eventTypes: q.event_type?.flatMap((t) => t.split(',')),
    level: q.level,
    since: q.since === undefined ? undefined : new Date(q.since),
    until: q.until === undefined ? undefined : new Date(q.until),
    taskId: q.task_id,
    userId: q.user_id,
    agentName: q.agent_name,
    modelName: q.model_name,
    status: q.status,
    q: q.q,
  };
}
