/**
 * Query-string generators of the property-based tests: every documented parameter of
 * `GET /v1/events`, `/v1/events/export` and `/v1/stats/{name}`, each either valid (so the request
 * must succeed) or odd (any string, edge dates, forged cursors, unknown parameters, raw
 * percent-junk), already percent-encoded.
 */
import fc from 'fast-check';
import { BUILTIN_EVENT_TYPES, LEVELS } from '../../src/events/catalogue.js';
import { encodeCursor } from '../../src/events/queries.js';
import { STAT_NAMES } from '../../src/http/routes/stats.js';
import { edgeDate, safeString, validTimestamp } from './properties-events.js';
import { pct } from './properties-http.js';

/** One parameter value as sent, and whether it is valid by construction. */
export interface Param {
  name: string;
  /** The decoded value (for checking filters), when valid. */
  value: string;
  raw: string;
  valid: boolean;
}

const valid = (name: string) => (v: string): Param => ({ name, value: v, raw: pct(v), valid: true });
const odd = (name: string) => (v: string): Param => ({ name, value: v, raw: pct(v), valid: false });
/** Raw, un-encoded junk: stray `%`, bad escapes, `&` and `=` (the path must stay printable ASCII). */
const rawJunk = (name: string): fc.Arbitrary<Param> =>
  fc
    .oneof(
      fc.stringMatching(/^[!-~]{0,12}$/).filter((s) => !s.includes('#')),
      fc.constantFrom('%', '%zz', '%ED%A0%80', '%00', '%C0%AF', '%FF', '+', '=', '&', '%E2%82', 'a%2', '%25'),
    )
    .map((raw) => ({ name, value: raw, raw, valid: false }));

/** Any string: NUL, lone surrogates (sent as U+FFFD bytes), over-long, empty, or plain Unicode. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  safeString(0, 5).map((s) => s + '\u0000'),
  fc.constantFrom('', ' ', '\uD800', 'x'.repeat(8193), 'null', 'undefined', '[]', '{}', "'", '\\'),
);

const text = (name: string, maxLength = 60): fc.Arbitrary<Param> =>
  fc.oneof({ weight: 3, arbitrary: safeString(1, maxLength).map(valid(name)) }, { weight: 2, arbitrary: anyString.map(odd(name)) }, { weight: 1, arbitrary: rawJunk(name) });

const eventTypeName = fc.oneof(fc.constantFrom(...BUILTIN_EVENT_TYPES), fc.stringMatching(/^[a-z][a-z0-9_.]{0,20}$/));
const eventType: fc.Arbitrary<Param> = fc.oneof(
  { weight: 3, arbitrary: fc.array(eventTypeName, { minLength: 1, maxLength: 3 }).map((ts) => valid('event_type')(ts.join(','))) },
  { weight: 2, arbitrary: fc.oneof(anyString, fc.constantFrom('Task_Created', 'a,', ',a', 'a,,b', 'x'.repeat(65))).map(odd('event_type')) },
  { weight: 1, arbitrary: rawJunk('event_type') },
);

const level = fc.oneof(fc.constantFrom(...LEVELS).map(valid('level')), fc.oneof(anyString, fc.constantFrom('info', 'WARN', 'FATAL')).map(odd('level')), rawJunk('level'));

const date = (name: string): fc.Arbitrary<Param> =>
  fc.oneof(
    { weight: 2, arbitrary: validTimestamp.map(valid(name)) },
    { weight: 3, arbitrary: edgeDate.map(odd(name)) },
    { weight: 1, arbitrary: fc.oneof(anyString, fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString()))).map(odd(name)) },
    { weight: 1, arbitrary: rawJunk(name) },
  );

const limit = fc.oneof(
  fc.integer({ min: 1, max: 1000 }).map((n) => valid('limit')(String(n))),
  fc.oneof(fc.integer({ min: -5, max: 5000 }).map(String), fc.constantFrom('1.5', '1e3', '0x10', 'abc', '', ' 5', '99999999999999999999', '-0', 'Infinity', 'NaN')).map(odd('limit')),
  rawJunk('limit'),
);

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const cursor = fc.oneof(
  fc.nat(1_000_000).map((n) => valid('cursor')(encodeCursor(String(n)))),
  fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 64n }).map((n) => b64(`v1.${n}`)),
    fc.constantFrom(b64('v1.9223372036854775807'), b64('v1.9223372036854775808'), b64('v1.9999999999999999999'), b64('v1.-1'), b64('v1.01'), b64('v2.1'), b64('v1.1\n')),
    fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b).toString('base64url')),
    anyString,
  ).map(odd('cursor')),
  rawJunk('cursor'),
);

const choice = (name: string, values: readonly string[]) => fc.oneof(fc.constantFrom(...values).map(valid(name)), anyString.map(odd(name)), rawJunk(name));

const unknown: fc.Arbitrary<Param> = fc
  .oneof(fc.constantFrom('type', 'lvl', 'offset', 'page', 'sort', 'id', 'from', 'to'), fc.string({ minLength: 1, maxLength: 8 }))
  .map((name) => ({ name, value: 'x', raw: 'x', valid: false }));

/** The filters both listing and exporting take. */
const FILTERS = {
  event_type: eventType,
  level,
  since: date('since'),
  until: date('until'),
  task_id: text('task_id'),
  user_id: text('user_id'),
  agent_name: text('agent_name'),
  model_name: text('model_name'),
  status: text('status'),
  q: text('q', 200),
  order: choice('order', ['desc', 'asc']),
};

/** Some of the parameters (a few repeated), sometimes an unknown one. */
function params(arbs: Record<string, fc.Arbitrary<Param>>): fc.Arbitrary<Param[]> {
  return fc
    .tuple(
      fc.record(arbs, { requiredKeys: [] }),
      fc.array(fc.oneof(...Object.values(arbs)), { maxLength: 2 }),
      fc.option(unknown, { freq: 8, nil: undefined }),
    )
    .map(([one, repeated, extra]) => [...Object.values(one).filter((p): p is Param => p !== undefined), ...repeated, ...(extra ? [extra] : [])]);
}

export const listParams = params({ ...FILTERS, limit, cursor });
export const exportParams = params({ ...FILTERS, format: choice('format', ['ndjson', 'csv']) });
export const statsParams = params({ since: date('since'), until: date('until') });
export const statName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...STAT_NAMES).map(valid('name')) },
  { weight: 1, arbitrary: fc.oneof(anyString, fc.constantFrom('Costs', 'cost', '..', 'costs/x', 'costs%2F..')).map(odd('name')) },
);
export const eventIdParam = fc.oneof(fc.uuid().map(valid('id')), fc.oneof(anyString.filter((s) => s.length > 0), fc.uuid().map((u) => u.toUpperCase() + 'x')).map(odd('id')));

export function queryString(ps: readonly Param[]): string {
  return ps.length === 0 ? '' : '?' + ps.map((p) => `${pct(p.name)}=${p.raw}`).join('&');
}

/** Whether every parameter is valid and none repeats a single-valued one: the request must then succeed. */
export function allValid(ps: readonly Param[]): boolean {
  const seen = new Set<string>();
  for (const p of ps) {
    if (!p.valid) return false;
    if (seen.has(p.name) && p.name !== 'event_type') return false;
    seen.add(p.name);
  }
  return true;
}
