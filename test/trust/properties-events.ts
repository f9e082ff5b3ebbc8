/**
 * Event generators of the property-based tests, built from the event catalogue: valid events of
 * each of the 12 types and custom types, near-valid ones (exactly one thing wrong, so the field
 * the refusal must name is known), and arbitrary JSON.
 */
import fc from 'fast-check';
import {
  BUILTIN_EVENT_TYPES,
  CATALOGUE,
  ENVELOPE_FIELDS,
  LEVELS,
  MAX_AMOUNT,
  MAX_COUNT,
  MAX_STRING_FIELD_CHARS,
  type BuiltinEventType,
  type FieldType,
} from '../../src/events/catalogue.js';

/** What the server must answer for one generated event. */
export type Expect =
  | { kind: 'valid' }
  /** Refused, and the error names `field`. */
  | { kind: 'invalid'; field: string }
  /** Anything but a crash: accepted, or refused with a `field: problem` error (naming `field` when given). */
  | { kind: 'any'; field?: string };

export interface EventCase {
  event: unknown;
  expect: Expect;
  /** What was done to it, for failure messages. */
  label: string;
}

type Fields = Record<string, unknown>;
const ENVELOPE = new Set<string>(ENVELOPE_FIELDS);

/** Strings a client may well send: any Unicode (well-formed, no NUL), and some that break naive code. */
const WEIRD = [
  '\u202Eevil\u202C', 'e\u0301\u0301', '👩‍👩‍👧‍👦', '\uFEFFbom', 'line\u2028sep', "'; DROP TABLE logs;--", '\\', '\t\n\r', '%s%n', '${x}',
  '\\u0000', '"quoted"', '<script>', '𝕍𝕚𝕘𝕚𝕝', '\u00A0', 'a,b\r\nc', '\u{10FFFF}', '\uFFFD', 'null', '0',
];
export const safeString = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength, maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength, maxLength }) },
    { weight: 1, arbitrary: fc.constantFrom(...WEIRD) },
  );

/** JSON values as a client sends them (keys and strings well-formed, no NUL; no __proto__). */
const jsonValue = fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' });

const VALID: Record<FieldType, fc.Arbitrary<unknown>> = {
  string: safeString(1, 40),
  text: safeString(0, 200),
  count: fc.oneof(fc.nat(10_000), fc.integer({ min: 0, max: MAX_COUNT })),
  amount: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: MAX_AMOUNT, noNaN: true }), fc.nat()),
  http_status: fc.integer({ min: 100, max: 599 }),
  object: fc.dictionary(safeString(0, 10), jsonValue, { maxKeys: 5 }),
  json: jsonValue,
};

/** Values of the wrong type (or out of range) for each field type. */
const WRONG: Record<FieldType, fc.Arbitrary<unknown>> = {
  string: fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }), fc.constant('')),
  text: fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 })),
  count: fc.oneof(
    fc.integer({ max: -1 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isSafeInteger(d) || d < 0 || d > MAX_COUNT),
    fc.integer({ min: MAX_COUNT + 1, max: Number.MAX_SAFE_INTEGER }),
    fc.constantFrom(2 ** 53, 1e300, -0.5, 1.5),
    fc.string().filter((s) => s.length > 0),
    fc.boolean(),
    fc.array(fc.nat(), { maxLength: 3 }),
    fc.object({ maxDepth: 1 }),
  ),
  amount: fc.oneof(
    fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
    fc.double({ min: MAX_AMOUNT, noNaN: true, noDefaultInfinity: true }).filter((d) => d > MAX_AMOUNT),
    fc.string(),
    fc.boolean(),
    fc.array(fc.nat(), { maxLength: 3 }),
    fc.object({ maxDepth: 1 }),
  ),
  http_status: fc.oneof(fc.integer({ max: 99 }), fc.integer({ min: 600 }), fc.constantFrom<unknown>(200.5, '200'), fc.boolean(), fc.array(fc.nat(), { maxLength: 2 })),
  object: fc.oneof(fc.array(jsonValue, { maxLength: 3 }), fc.string(), fc.integer(), fc.boolean()),
  json: fc.constant(undefined), // anything JSON is valid: no wrong value
};

/** An ISO 8601 timestamp with a zone, Z or an offset. */
export const validTimestamp = fc
  .tuple(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }), fc.integer({ min: -14 * 60, max: 14 * 60 }), fc.boolean())
  .map(([d, off, z]) => {
    if (z) return d.toISOString();
    const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, -1);
    const a = Math.abs(off);
    return `${local}${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  });

/** Dates that look like RFC 3339 but may not be: leap seconds, year 0, month 13, day 31 of a short month, big offsets. */
const pad = (n: number, w: number) => String(n).padStart(w, '0');
export const edgeDate = fc
  .record({
    y: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 1969, 1970, 2026, 9999)),
    mo: fc.integer({ min: 0, max: 13 }),
    d: fc.integer({ min: 0, max: 32 }),
    h: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.constant(23)),
    mi: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constant(59)),
    s: fc.oneof(fc.integer({ min: 0, max: 61 }), fc.constant(60)),
    frac: fc.option(fc.stringMatching(/^\d{1,12}$/), { nil: undefined }),
    sep: fc.constantFrom('T', 't', ' '),
    tz: fc.oneof(fc.constantFrom('Z', 'z', ''), fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 60 }), fc.boolean()).map(([sg, h, m, colon]) => `${sg}${pad(h, 2)}${colon ? ':' : ''}${pad(m, 2)}`)),
  })
  .map((p) => `${pad(p.y, 4)}-${pad(p.mo, 2)}-${pad(p.d, 2)}${p.sep}${pad(p.h, 2)}:${pad(p.mi, 2)}:${pad(p.s, 2)}${p.frac ? '.' + p.frac : ''}${p.tz}`);

const envelope = fc.record(
  { id: fc.uuid(), timestamp: validTimestamp, level: fc.constantFrom(...LEVELS), message: safeString(1, 80) },
  { requiredKeys: [] },
);

/** A valid event of a built-in type: required fields, some optional ones (or null), some envelope. */
export function validBuiltin(type: BuiltinEventType): fc.Arbitrary<Fields> {
  const spec = CATALOGUE[type].fields as Record<string, { type: FieldType; required: boolean }>;
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  const required: string[] = [];
  for (const [name, f] of Object.entries(spec)) {
    parts[name] = f.required ? VALID[f.type] : fc.oneof({ weight: 5, arbitrary: VALID[f.type] }, { weight: 1, arbitrary: fc.constant(null) });
    if (f.required) required.push(name);
  }
  return fc.tuple(fc.record(parts, { requiredKeys: required }), envelope).map(([fields, env]) => ({ event_type: type, ...fields, ...env }));
}

const customType = fc.stringMatching(/^[a-z][a-z0-9_.]{0,63}$/).filter((t) => !Object.prototype.hasOwnProperty.call(CATALOGUE, t));
const customKey = safeString(1, 16).filter((k) => !ENVELOPE.has(k) && k !== '__proto__' && k !== 'constructor' && k !== 'prototype');

export const validCustom: fc.Arbitrary<Fields> = fc
  .tuple(customType, fc.dictionary(customKey, jsonValue, { maxKeys: 6 }), envelope)
  .map(([t, fields, env]) => ({ ...fields, event_type: t, ...env }));

/** A valid event of any type: each of the 12 built-in types and custom ones. */
export const validEvent: fc.Arbitrary<Fields> = fc
  .oneof(...BUILTIN_EVENT_TYPES.map(validBuiltin), validCustom, validCustom)
  // fast-check likes "__proto__" keys; a body holding one is refused as a whole (see poisonedBody).
  .filter((e) => !POISON.test(JSON.stringify(e)));

/** A "__proto__" key, or "constructor" (with "prototype" inside): Fastify's parser refuses the body. */
export const POISON = /"(__proto__|constructor)"\s*:/;

const notUuid = fc.oneof(fc.string().filter((s) => !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(s)), fc.integer(), fc.boolean(), fc.uuid().map((u) => `{${u}}`));
const notTimestamp = fc.oneof(
  fc.string().filter((s) => !/^\d{4}-/.test(s)),
  fc.integer(),
  fc.constantFrom('2026-02-30T10:00:00Z', '2026-03-01T10:00:00', '2026-03-01', '2026-13-01T00:00:00Z', '2026-03-01T24:61:00Z', 'yesterday', '2026-03-01T10:00:60Z'),
  // Shaped right, but no such time: a day past the month's end, hour 24, minute or second 60.
  fc.tuple(fc.integer({ min: 1970, max: 2100 }), fc.integer({ min: 1, max: 12 }), fc.constantFrom('day', 'hour', 'minute', 'second'), fc.nat(7)).map(([y, mo, what, k]) => {
    const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
    const [d, h, mi, s] = [what === 'day' ? days + 1 + (k % (32 - days)) : 1, what === 'hour' ? 24 + k : 10, what === 'minute' ? 60 + k : 0, what === 'second' ? 60 + k : 0];
    const p2 = (n: number) => String(n).padStart(2, '0');
    return `${y}-${p2(mo)}-${p2(d)}T${p2(h)}:${p2(mi)}:${p2(s)}Z`;
  }),
);
const notLevel = fc.oneof(fc.string().filter((s) => !(LEVELS as readonly string[]).includes(s)), fc.constantFrom('info', 'Error', 'WARN', 'FATAL'), fc.integer());
const notMessage = fc.oneof(fc.constant(''), fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
const notEventType = fc.oneof(
  fc.constant(''),
  fc.string().filter((s) => !/^[a-z][a-z0-9_.]{0,63}$/.test(s)),
  fc.constantFrom('Task_Created', 'task-created', 'a'.repeat(65), ' task_created', 'task_created\n'),
  fc.integer(),
  fc.array(fc.constant('task_created'), { minLength: 1, maxLength: 2 }),
  fc.object({ maxDepth: 1 }),
);
/** Text PostgreSQL cannot store: a NUL, or a lone surrogate. */
const unstorable = (s: string) => s.includes('\u0000') || !s.isWellFormed();

/** A string field's value that the database could not store, or over the length limit. */
const badString = fc.oneof(
  safeString(0, 5).map((s) => s + '\u0000' + s),
  safeString(0, 5).map((s) => `${s}\uD800${s}`),
  safeString(0, 5).map((s) => `\uDC00${s}`),
  fc.integer({ min: MAX_STRING_FIELD_CHARS + 1, max: MAX_STRING_FIELD_CHARS + 500 }).map((n) => 'x'.repeat(n)),
);

/**
 * A valid built-in event with exactly one thing wrong, and the field the refusal must name.
 */
export function nearValidBuiltin(type: BuiltinEventType): fc.Arbitrary<EventCase> {
  const spec = CATALOGUE[type].fields as Record<string, { type: FieldType; required: boolean }>;
  const names = Object.keys(spec);
  const requiredNames = names.filter((n) => spec[n].required);
  const typed = names.filter((n) => spec[n].type !== 'json');
  const strings = names.filter((n) => spec[n].type === 'string' || spec[n].type === 'text');
  const mutations: fc.Arbitrary<[string, (e: Fields) => void, string]>[] = [
    fc.constantFrom(...requiredNames).map((f) => [f, (e: Fields) => void delete e[f], 'missing required']),
    fc.constantFrom(...requiredNames).map((f) => [f, (e: Fields) => void (e[f] = null), 'required is null']),
    fc.constantFrom(...typed).chain((f) => WRONG[spec[f].type].map((v) => [f, (e: Fields) => void (e[f] = v), `wrong type ${JSON.stringify(v)?.slice(0, 40)}`])),
    fc.tuple(customKey.filter((k) => !names.includes(k)), jsonValue).map(([k, v]) => [k, (e: Fields) => void (e[k] = v), 'unknown field']),
    notUuid.map((v) => ['id', (e: Fields) => void (e.id = v), 'bad id']),
    notTimestamp.map((v) => ['timestamp', (e: Fields) => void (e.timestamp = v), 'bad timestamp']),
    notLevel.map((v) => ['level', (e: Fields) => void (e.level = v), 'bad level']),
    notMessage.map((v) => ['message', (e: Fields) => void (e.message = v), 'bad message']),
    notEventType.map((v) => ['event_type', (e: Fields) => void (e.event_type = v), 'bad event_type']),
  ];
  if (strings.length > 0) {
    mutations.push(
      fc.tuple(fc.constantFrom(...strings), badString).map(([f, v]) => [
        // A text field over 8 KiB is fine: only NUL and lone surrogates are wrong in it.
        f,
        (e: Fields) => void (e[f] = spec[f].type === 'text' && !unstorable(v) ? '\u0000' + v : v),
        'unstorable or oversize string',
      ]),
    );
  }
  return fc.tuple(validBuiltin(type), fc.oneof(...mutations)).map(([e, [field, mutate, label]]) => {
    mutate(e);
    return { event: e, expect: { kind: 'invalid', field }, label: `${type}: ${label} (${field})` };
  });
}

/**
 * Nested arrays or objects, deep enough to break recursive code. Generated as a marker string that
 * `serialise` replaces by the nested JSON text (neither JSON.stringify nor a counterexample printer
 * could handle the value itself).
 */
const DEEP = '\u0001deep';
export const deepJunk = (kind?: 'a' | 'o'): fc.Arbitrary<string> =>
  fc.tuple(fc.integer({ min: 1, max: 6000 }), kind ? fc.constant(kind) : fc.constantFrom('a', 'o')).map(([depth, k]) => `${DEEP}:${depth}:${k}`);

/** JSON text of a body, with deep-nesting markers expanded. */
export function serialise(body: unknown): string {
  return JSON.stringify(body).replace(/"\\u0001deep:(\d+):([ao])"/g, (_m, d: string, k: string) => {
    const n = Number(d);
    return k === 'a' ? '['.repeat(n) + '1' + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  });
}

/** A custom event carrying something wrong, or something odd but acceptable. */
const oddCustom: fc.Arbitrary<EventCase> = fc.oneof(
  fc.tuple(validCustom, badString.filter(unstorable)).map(([e, s]) => ({ event: { ...e, note: s }, expect: { kind: 'invalid', field: '(metadata)' } as Expect, label: 'custom: unstorable string' })),
  fc.tuple(validCustom, deepJunk()).map(([e, j]) => ({ event: { ...e, nested: j }, expect: { kind: 'any' } as Expect, label: 'custom: deep nesting' })),
  fc.tuple(validBuiltin('agent_executed'), deepJunk()).map(([e, j]) => ({ event: { ...e, result: j }, expect: { kind: 'any' } as Expect, label: 'agent_executed: deep result' })),
  fc.tuple(validBuiltin('error'), deepJunk('o')).map(([e, j]) => ({ event: { ...e, context: j }, expect: { kind: 'any' } as Expect, label: 'error: deep context' })),
  // Year 0000, 9999 with a negative offset (year 10000 in UTC), Feb 30, 24:00, leap seconds: refused by name, or stored.
  fc.tuple(validEvent, edgeDate).map(([e, t]) => ({ event: { ...e, timestamp: t }, expect: { kind: 'any', field: 'timestamp' } as Expect, label: `edge timestamp ${t}` })),
);

/** Anything at all as an event. */
const arbitraryEvent: fc.Arbitrary<EventCase> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' }),
  fc.dictionary(fc.constantFrom(...ENVELOPE_FIELDS, 'task_id', 'tokens_used', 'changes'), fc.jsonValue({ maxDepth: 2 })),
).map((event) => ({ event, expect: { kind: 'any' } as Expect, label: 'arbitrary JSON' }));

/** One case of a batch: valid, near-valid (of each type), odd, or arbitrary. */
export const eventCase: fc.Arbitrary<EventCase> = fc.oneof(
  { weight: 4, arbitrary: validEvent.map((event) => ({ event, expect: { kind: 'valid' } as Expect, label: `valid ${String(event.event_type)}` })) },
  { weight: 4, arbitrary: fc.oneof(...BUILTIN_EVENT_TYPES.map(nearValidBuiltin)) },
  { weight: 1, arbitrary: oddCustom },
  { weight: 2, arbitrary: arbitraryEvent },
);

/** The object's JSON with one key written twice: the first value, then the one JSON.parse keeps. */
export function withDuplicateKey(event: Fields, key: string, first: unknown): string {
  const entries = Object.entries(event).map(([k, v]) => `${JSON.stringify(k)}:${k === key ? `${JSON.stringify(first)},${JSON.stringify(k)}:${JSON.stringify(v)}` : JSON.stringify(v)}`);
  if (!(key in event)) entries.push(`${JSON.stringify(key)}:${JSON.stringify(first)}`);
  return `{${entries.join(',')}}`;
}

export { WRONG, VALID };
