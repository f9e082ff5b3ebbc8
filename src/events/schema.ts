/**
 * JSON Schema of events, generated from the catalogue: the HTTP API's request and response
 * schemas and its OpenAPI document come from here, so they cannot drift from the validator.
 *
 * The ingest body schema documents the API; events themselves are checked by `validateEvent`
 * (same catalogue), because one bad event in a batch must refuse that event, not the batch.
 */
import {
  CATALOGUE,
  CUSTOM_EVENT_TYPE_PATTERN,
  LEVELS,
  MAX_AMOUNT,
  MAX_COUNT,
  MAX_MESSAGE_BYTES,
  MAX_STRING_FIELD_CHARS,
  type EventSpec,
  type FieldSpec,
  type FieldType,
} from './catalogue.js';

export type JsonSchema = Record<string, unknown>;

/** Limits of one ingest request. */
export const MAX_EVENTS_PER_REQUEST = 1_000;
export const MAX_REQUEST_BYTES = 5 * 1024 * 1024; // 5 MiB

const TYPE_SCHEMA: Record<FieldType, JsonSchema> = {
  string: { type: 'string', minLength: 1, maxLength: MAX_STRING_FIELD_CHARS },
  text: { type: 'string' },
  count: { type: 'integer', minimum: 0, maximum: MAX_COUNT },
  amount: { type: 'number', minimum: 0, maximum: MAX_AMOUNT },
  http_status: { type: 'integer', minimum: 100, maximum: 599 },
  object: { type: 'object', additionalProperties: true },
  json: {},
};

function fieldSchema(f: FieldSpec): JsonSchema {
  const base = TYPE_SCHEMA[f.type];
  // Optional fields may be null (stored as null); `json` already admits anything.
  const nullable = !f.required && typeof base.type === 'string' ? { type: [base.type, 'null'] } : {};
  return { ...base, ...nullable, description: f.description, examples: [f.example] };
}

/** The envelope every event may carry next to its fields. */
export const ENVELOPE_SCHEMA: Record<string, JsonSchema> = {
  id: { type: 'string', format: 'uuid', description: 'A UUID chosen by the sender, to make retries idempotent. Generated (UUIDv7) when absent.' },
  timestamp: { type: 'string', format: 'date-time', description: 'When the event happened (ISO 8601 with a zone). Defaults to the time of receipt.' },
  level: { type: 'string', enum: [...LEVELS], description: "Overrides the event type's default level." },
  message: { type: 'string', minLength: 1, maxLength: MAX_MESSAGE_BYTES, description: 'Overrides the generated human message.' },
};

/** The flat schema of one built-in event type. */
export function builtinEventSchema(eventType: keyof typeof CATALOGUE): JsonSchema {
  const spec: EventSpec = CATALOGUE[eventType];
  const properties: Record<string, JsonSchema> = { event_type: { const: eventType } };
  for (const [name, f] of Object.entries(spec.fields)) properties[name] = fieldSchema(f);
  Object.assign(properties, ENVELOPE_SCHEMA);
  const required = ['event_type', ...Object.entries(spec.fields).filter(([, f]) => f.required).map(([n]) => n)];
  return {
    title: eventType,
    description: `${spec.summary} Default level ${spec.level}.`,
    type: 'object',
    properties,
    required,
    additionalProperties: false,
  };
}

/** A custom event type: any lower-case name outside the catalogue, free fields, INFO by default. */
export const CUSTOM_EVENT_SCHEMA: JsonSchema = {
  title: 'custom event',
  description: 'An event type outside the catalogue: free fields, level INFO unless given.',
  type: 'object',
  properties: { event_type: { type: 'string', pattern: CUSTOM_EVENT_TYPE_PATTERN.source }, ...ENVELOPE_SCHEMA },
  required: ['event_type'],
  additionalProperties: true,
};

/** Any event as the ingest endpoint takes it. */
export function eventInputSchema(): JsonSchema {
  return {
    anyOf: [...(Object.keys(CATALOGUE) as (keyof typeof CATALOGUE)[]).map(builtinEventSchema), CUSTOM_EVENT_SCHEMA],
  };
}

/** The body of `POST /v1/events`: one event, or `{events: [...]}`. */
export function ingestBodySchema(): JsonSchema {
  const event = eventInputSchema();
  return {
    description: `One event, or {"events": [...]} with 1 to ${MAX_EVENTS_PER_REQUEST} events; at most ${MAX_REQUEST_BYTES} bytes (5 MiB).`,
    anyOf: [
      event,
      {
        type: 'object',
        properties: { events: { type: 'array', minItems: 1, maxItems: MAX_EVENTS_PER_REQUEST, items: event } },
        required: ['events'],
        additionalProperties: false,
      },
    ],
  };
}

/** One result of an ingest request, in the order the events were sent. Same shape as the SDK's LogResult. */
export const INGEST_RESULT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    success: { type: 'boolean' },
    id: { type: 'string', description: "The event's id (present on success; on refusal when the event carried one)." },
    timestamp: { type: 'string', format: 'date-time', description: 'On success, the event time; on refusal, when it was refused.' },
    error: { type: 'string', description: 'Why the event was refused, field by field.' },
  },
  required: ['success', 'timestamp'],
};

export const INGEST_RESPONSE_SCHEMA: JsonSchema = {
  type: 'object',
  properties: { results: { type: 'array', items: INGEST_RESULT_SCHEMA } },
  required: ['results'],
};

/** An event as the query API returns it: a row of `logs`. */
export const STORED_EVENT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    level: { type: 'string', enum: [...LEVELS] },
    message: { type: 'string' },
    timestamp: { type: 'string', format: 'date-time' },
    log_metadata: {
      type: 'object',
      additionalProperties: true,
      description: 'The event: {event_type, ...fields}, as sent.',
      properties: { event_type: { type: 'string' } },
    },
  },
  required: ['id', 'level', 'message', 'timestamp', 'log_metadata'],
};
