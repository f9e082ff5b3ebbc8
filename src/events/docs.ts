/** Renders docs/events.md — every event type, its fields and its stored JSONB — from the catalogue. */
import {
  CATALOGUE,
  CUSTOM_EVENT_TYPE_PATTERN,
  MAX_AMOUNT,
  MAX_COUNT,
  MAX_MESSAGE_BYTES,
  MAX_METADATA_BYTES,
  MAX_STRING_FIELD_CHARS,
  methodName,
  type BuiltinEventType,
  type EventSpec,
  type FieldType,
} from './catalogue.js';

const TYPE_TEXT: Record<FieldType, string> = {
  string: `string (1 to ${MAX_STRING_FIELD_CHARS} characters)`,
  text: 'string (any length within the metadata limit)',
  count: `integer from 0 to ${MAX_COUNT.toExponential()}`,
  amount: `number from 0 to ${MAX_AMOUNT.toExponential()}`,
  http_status: 'integer 100–599',
  object: 'JSON object',
  json: 'any JSON value',
};

function example(spec: EventSpec, type: string): Record<string, unknown> {
  return { event_type: type, ...Object.fromEntries(Object.entries(spec.fields).map(([k, f]) => [k, f.example])) };
}

export function renderEventsDoc(): string {
  const out: string[] = [];
  out.push('# Events');
  out.push('');
  out.push('<!-- Generated from src/events/catalogue.ts by `npm run docs`. Do not edit by hand. -->');
  out.push('');
  out.push('Every event is one row of the `logs` table. The event\'s fields are stored in `log_metadata` (JSONB)');
  out.push('exactly as they are sent, with `event_type` added; field names are the same in the SDK, the HTTP API');
  out.push('and the database.');
  out.push('');
  out.push('## The `logs` table');
  out.push('');
  out.push('| column | type | what it holds |');
  out.push('|---|---|---|');
  out.push('| `id` | uuid | UUIDv7 stamped when the event is accepted (or the caller\'s own UUID); a retried write never stores twice |');
  out.push('| `seq` | bigint | monotonically increasing; the order of the trail and the key of cursors |');
  out.push('| `level` | varchar | DEBUG, INFO, WARNING, ERROR or CRITICAL |');
  out.push('| `message` | text | the human message (below) unless the caller gave one |');
  out.push('| `timestamp` | timestamptz | when the event happened (millisecond precision) |');
  out.push('| `event_type` | text | the event type, also in `log_metadata.event_type` |');
  out.push('| `log_metadata` | jsonb | `{ "event_type": …, …the event\'s fields }` |');
  out.push('');
  out.push('Rows are append-only: the database refuses `UPDATE`, `DELETE` and `TRUNCATE` on `logs`.');
  out.push('');
  out.push('## Envelope fields');
  out.push('');
  out.push('Next to its own fields, an event may carry (HTTP body, `log(event)`, or the options argument of the SDK methods):');
  out.push('');
  out.push('| field | type | meaning |');
  out.push('|---|---|---|');
  out.push('| `id` | UUID | your own id, to make retries idempotent; generated (UUIDv7) when absent |');
  out.push('| `timestamp` | ISO 8601 date-time with a zone, years 0001–9999 (UTC) | when it happened; defaults to when it was accepted |');
  out.push('| `level` | DEBUG … CRITICAL | overrides the type\'s default level |');
  out.push('| `message` | string | overrides the generated message |');
  out.push('');
  out.push('## Limits and errors');
  out.push('');
  out.push(`- A message over ${MAX_MESSAGE_BYTES / 1024} KiB or a \`log_metadata\` over ${MAX_METADATA_BYTES / 1024} KiB (UTF-8 bytes) is refused, never truncated.`);
  out.push('- Text containing NUL (U+0000) or unpaired surrogates is refused: PostgreSQL cannot store it.');
  out.push('- Built-in types refuse unknown fields (a typo is an error, not silently stored).');
  out.push('- Every refusal names the field and the problem, for example `task_id: required` or');
  out.push('  `tokens_used: expected a non-negative integer, got "ten"`; all problems of an event are reported at once,');
  out.push('  separated by `; `.');
  out.push('- Optional fields may be omitted or `null`; `null` is stored as `null`.');
  out.push('');
  out.push('## Custom event types');
  out.push('');
  out.push(`Any other name matching \`${CUSTOM_EVENT_TYPE_PATTERN.source}\` is a custom type: free JSON fields, level INFO`);
  out.push('unless given, message `Event <type>` unless given. Send them with `log({event_type, ...})` or over HTTP.');
  out.push('');
  out.push('## Built-in event types');
  out.push('');
  out.push('| event type | SDK method | default level | summary |');
  out.push('|---|---|---|---|');
  for (const [type, spec] of Object.entries(CATALOGUE) as [BuiltinEventType, EventSpec][]) {
    out.push(`| [\`${type}\`](#${type}) | \`${methodName(type)}\` | ${spec.level} | ${spec.summary} |`);
  }
  for (const [type, spec] of Object.entries(CATALOGUE) as [BuiltinEventType, EventSpec][]) {
    out.push('');
    out.push(`### ${type}`);
    out.push('');
    out.push(`${spec.summary} Default level **${spec.level}**. SDK: \`logger.${methodName(type)}({...})\`.`);
    out.push('');
    out.push('| field | type | required | description |');
    out.push('|---|---|---|---|');
    for (const [name, f] of Object.entries(spec.fields)) {
      out.push(`| \`${name}\` | ${TYPE_TEXT[f.type]} | ${f.required ? 'yes' : 'no'} | ${f.description} |`);
    }
    const ex = example(spec, type);
    out.push('');
    out.push('Stored `log_metadata`:');
    out.push('');
    out.push('```json');
    out.push(JSON.stringify(ex, null, 2));
    out.push('```');
    out.push('');
    out.push(`Message: \`${spec.message(ex)}\``);
  }
  out.push('');
  return out.join('\n');
}
