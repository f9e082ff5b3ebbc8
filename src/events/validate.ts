/**
 * The runtime validator, compiled once per event type from the catalogue.
 *
 * Turns caller input into an EventRow (validated, copied, id and time stamped) or a list of
 * problems, each naming the field: `task_id: required`,
 * `tokens_used: expected a non-negative integer, got "ten"`. Nothing here throws.
 */
import {
  CATALOGUE,
  CUSTOM_EVENT_DEFAULT_LEVEL,
  CUSTOM_EVENT_TYPE_PATTERN,
  ENVELOPE_FIELDS,
  LEVELS,
  MAX_AMOUNT,
  MAX_COUNT,
  MAX_MESSAGE_BYTES,
  MAX_METADATA_BYTES,
  MAX_STRING_FIELD_CHARS,
  isBuiltin,
  type EventSpec,
  type FieldType,
  type Level,
} from './catalogue.js';
import type { EnvelopeOptions, EventRow } from './types.js';
import { isUuid, uuidv7 } from './uuid7.js';

export interface Problem {
  field: string;
  problem: string;
}

export type Validated = { ok: true; row: EventRow } | { ok: false; problems: Problem[] };

/** `field: problem; field: problem` — the one-line form used in results and logs. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${fieldName(p.field)}: ${p.problem}`).join('; ');
}

/** A field name as written in an error: quoted (JSON) when it is empty or would blur the `field: problem; …` form. */
function fieldName(f: string): string {
  return /^[^\s:;"]([^:;"]*[^\s:;"])?$/.test(f) ? f : JSON.stringify(f);
}

/** A short, safe rendering of a bad value for an error message. */
export function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  if (typeof v === 'number' && !Number.isFinite(v)) s = String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

type Check = (v: unknown) => string | null;

/** Text PostgreSQL cannot store: NUL, and unpaired surrogates (not valid Unicode). */
function badText(s: string): string | null {
  if (s.indexOf('\u0000') !== -1) return 'contains a NUL character (U+0000), which PostgreSQL cannot store';
  if (!s.isWellFormed()) return 'contains an unpaired surrogate (invalid UTF-16), which PostgreSQL cannot store';
  return null;
}

const EXPECT: Record<FieldType, Check> = {
  string: (v) =>
    typeof v !== 'string'
      ? `expected a string, got ${show(v)}`
      : v.length === 0
        ? 'expected a non-empty string'
        : v.length > MAX_STRING_FIELD_CHARS
          ? `too long: ${v.length} characters, at most ${MAX_STRING_FIELD_CHARS}`
          : badText(v),
  text: (v) => (typeof v === 'string' ? badText(v) : `expected a string, got ${show(v)}`),
  count: (v) =>
    !Number.isSafeInteger(v) || (v as number) < 0
      ? `expected a non-negative integer, got ${show(v)}`
      : (v as number) > MAX_COUNT
        ? `too large: ${show(v)}, at most ${MAX_COUNT.toExponential()}`
        : null,
  amount: (v) =>
    typeof v !== 'number' || !(v >= 0)
      ? `expected a non-negative number, got ${show(v)}`
      : v > MAX_AMOUNT
        ? `too large: ${show(v)}, at most ${MAX_AMOUNT.toExponential()}`
        : null,
  http_status: (v) =>
    Number.isInteger(v) && (v as number) >= 100 && (v as number) <= 599
      ? null
      : `expected an HTTP status code (an integer from 100 to 599), got ${show(v)}`,
  object: (v) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? null : `expected a JSON object, got ${show(v)}`,
  json: () => null,
};

/** Deep-copies a JSON value, so later changes by the caller do not reach the buffered event. */
function copyJson(field: string, v: unknown, problems: Problem[]): { value: unknown; bytes: number } | null {
  let json: string | undefined;
  let value: unknown;
  let bad: string | null = null;
  try {
    json = JSON.stringify(v);
    if (json !== undefined) {
      value = JSON.parse(json, (key, val: unknown) => {
        if (bad === null) bad = badText(key) ?? (typeof val === 'string' ? badText(val) : null);
        return val;
      });
    }
  } catch (err) {
    // Both calls recurse: a value nested some thousands deep overflows the stack (a RangeError).
    const why = /circular/i.test(String(err)) ? 'it contains a circular reference' : err instanceof RangeError ? 'it is nested too deeply' : (err as Error).message;
    problems.push({ field, problem: `not JSON-serialisable: ${why}` });
    return null;
  }
  if (json === undefined) {
    problems.push({ field, problem: `expected a JSON value, got ${show(v)}` });
    return null;
  }
  if (bad !== null) {
    problems.push({ field, problem: bad });
    return null;
  }
  return { value, bytes: Buffer.byteLength(json) };
}

interface CompiledField {
  name: string;
  required: boolean;
  check: Check;
  /** object and json values are deep-copied and measured. */
  deep: boolean;
}

interface Compiled {
  eventType: string;
  level: Level;
  fields: CompiledField[];
  /**
   * The stored keys in sorted order: indexes into `fields`, -1 for `event_type`. Metadata is built
   * in this order so that its JSON is canonical as it is (src/trust/chain.ts) — the fast path.
   */
  order: number[];
  known: Set<string>;
  message: (f: Record<string, unknown>) => string;
}

function compile(eventType: string, spec: EventSpec): Compiled {
  const fields = Object.entries(spec.fields).map(([name, f]) => ({
    name,
    required: f.required,
    check: EXPECT[f.type],
    deep: f.type === 'object' || f.type === 'json',
  }));
  const order = [-1, ...fields.map((_, i) => i)].sort((a, b) => {
    const x = a < 0 ? 'event_type' : fields[a].name;
    const y = b < 0 ? 'event_type' : fields[b].name;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return { eventType, level: spec.level, fields, order, known: new Set(Object.keys(spec.fields)), message: spec.message };
}

const COMPILED: Record<string, Compiled> = Object.fromEntries(
  Object.entries(CATALOGUE).map(([t, spec]) => [t, compile(t, spec as EventSpec)]),
);
const ENVELOPE = new Set<string>(ENVELOPE_FIELDS);
const LEVEL_SET = new Set<string>(LEVELS);

/** The times PostgreSQL can take as ISO text: JavaScript writes others as `+010000-…`, `-000001-…`, and 0000 is no year to it. */
const MIN_TIME_MS = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_TIME_MS = Date.parse('9999-12-31T23:59:59.999Z');
const inRange = (ms: number) => ms >= MIN_TIME_MS && ms <= MAX_TIME_MS;

/** Milliseconds from an ISO 8601 string or a Date (years 0001 to 9999, UTC), or null. */
export function parseTimestamp(v: unknown): number | null {
  if (v instanceof Date) return inRange(v.getTime()) ? v.getTime() : null;
  const m = typeof v === 'string' ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.exec(v) : null;
  if (m === null) return null;
  // Date.parse rolls impossible times over (2026-02-30 is taken as March 2, 24:00 as the next day).
  const [y, mo, d, h] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (mo < 1 || mo > 12 || d < 1 || d > [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] || h > 23) return null;
  const ms = Date.parse(v as string);
  return inRange(ms) ? ms : null;
}

function applyEnvelope(
  opts: EnvelopeOptions | undefined,
  defaultLevel: Level,
  problems: Problem[],
  now: number,
): { id: string; time: number; level: Level; message: string | undefined; checkId: boolean } {
  if (opts === undefined) return { id: uuidv7(now), time: now, level: defaultLevel, message: undefined, checkId: false };
  let time = now;
  if (opts.timestamp !== undefined) {
    const t = parseTimestamp(opts.timestamp);
    if (t === null) problems.push({ field: 'timestamp', problem: `expected an ISO 8601 date-time with a zone, in the years 0001 to 9999 (UTC), got ${show(opts.timestamp)}` });
    else time = t;
  }
  let id: string;
  if (opts.id !== undefined) {
    if (!isUuid(opts.id)) problems.push({ field: 'id', problem: `expected a UUID, got ${show(opts.id)}` });
    id = String(opts.id).toLowerCase();
  } else id = uuidv7(now);
  let level = defaultLevel;
  if (opts.level !== undefined) {
    if (!LEVEL_SET.has(opts.level as string)) problems.push({ field: 'level', problem: `expected one of ${LEVELS.join(', ')}, got ${show(opts.level)}` });
    else level = opts.level;
  }
  let message: string | undefined;
  if (opts.message !== undefined) {
    if (typeof opts.message !== 'string' || opts.message.length === 0)
      problems.push({ field: 'message', problem: `expected a non-empty string, got ${show(opts.message)}` });
    else message = opts.message;
  }
  // An id given without a timestamp gets the time of this acceptance: a re-send of it would carry
  // another time, so the write checks the id itself (see EventRow.checkId).
  return { id, time, level, message, checkId: opts.id !== undefined && opts.timestamp === undefined };
}

function checkMessage(message: string, problems: Problem[]): void {
  const bad = badText(message);
  if (bad !== null) problems.push({ field: 'message', problem: bad });
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (message.length * 3 > MAX_MESSAGE_BYTES) {
    const bytes = Buffer.byteLength(message);
    if (bytes > MAX_MESSAGE_BYTES) problems.push({ field: 'message', problem: `too large: ${bytes} bytes, at most ${MAX_MESSAGE_BYTES} (64 KiB)` });
  }
}

/**
 * Validates the fields of a built-in event type. `fields` holds only the event's own fields;
 * `opts` the envelope. The returned row owns copies of everything it holds.
 */
export function validateBuiltin(eventType: string, fields: unknown, opts: EnvelopeOptions | undefined, now: number): Validated {
  const c = COMPILED[eventType];
  const problems: Problem[] = [];
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    return { ok: false, problems: [{ field: '(event)', problem: `expected an object with the fields of ${eventType}, got ${show(fields)}` }] };
  }
  const input = fields as Record<string, unknown>;
  // Values by field, in the catalogue's order (so problems are too); absent ones stay undefined.
  const values = new Array<unknown>(c.fields.length);
  // Upper bound of the stored JSON's size, in bytes; measured exactly only when it could be over.
  let bound = 64;
  for (let i = 0; i < c.fields.length; i++) {
    const f = c.fields[i];
    const v = input[f.name];
    if (v === undefined || v === null) {
      if (f.required) problems.push({ field: f.name, problem: 'required' });
      else if (v === null) values[i] = null;
      continue;
    }
    const bad = f.check(v);
    if (bad !== null) {
      problems.push({ field: f.name, problem: bad });
      continue;
    }
    if (f.deep) {
      const copy = copyJson(f.name, v, problems);
      if (copy === null) continue;
      values[i] = copy.value;
      bound += copy.bytes + f.name.length + 4;
    } else {
      values[i] = v;
      bound += typeof v === 'string' ? v.length * 6 + f.name.length + 6 : 32;
    }
  }
  for (const k in input) {
    if (!c.known.has(k) && input[k] !== undefined) {
      problems.push({ field: k, problem: ENVELOPE.has(k) ? `is an envelope field: pass it in the options, not among the fields of ${eventType}` : `unknown field for ${eventType} (known: ${[...c.known].join(', ')})` });
    }
  }
  const env = applyEnvelope(opts, c.level, problems, now);
  if (problems.length > 0) return { ok: false, problems };
  const metadata: Record<string, unknown> = {};
  for (const i of c.order) {
    if (i < 0) metadata.event_type = eventType;
    else if (values[i] !== undefined) metadata[c.fields[i].name] = values[i];
  }
  if (bound > MAX_METADATA_BYTES) checkMetadataSize(metadata, problems);
  const message = env.message ?? c.message(metadata);
  checkMessage(message, problems);
  if (problems.length > 0) return { ok: false, problems };
  const row: EventRow = { id: env.id, level: env.level, message, time: env.time, event_type: eventType, metadata };
  if (env.checkId) row.checkId = true;
  return { ok: true, row };
}

function checkMetadataSize(metadata: Record<string, unknown>, problems: Problem[]): void {
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > MAX_METADATA_BYTES) problems.push({ field: '(metadata)', problem: `too large: ${bytes} bytes, at most ${MAX_METADATA_BYTES} (256 KiB)` });
}

/**
 * Validates any event in its flat form: `{event_type, id?, timestamp?, level?, message?, ...fields}`
 * (the HTTP body and `log(event)`).
 */
export function validateEvent(event: unknown, now: number): Validated {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return { ok: false, problems: [{ field: '(event)', problem: `expected a JSON object, got ${show(event)}` }] };
  }
  const e = event as Record<string, unknown>;
  const type = e.event_type;
  if (type === undefined || type === null) return { ok: false, problems: [{ field: 'event_type', problem: 'required' }] };
  if (typeof type !== 'string' || !CUSTOM_EVENT_TYPE_PATTERN.test(type)) {
    return {
      ok: false,
      problems: [{ field: 'event_type', problem: `expected a built-in event type or a custom name matching ${CUSTOM_EVENT_TYPE_PATTERN.source}, got ${show(type)}` }],
    };
  }
  const fields: Record<string, unknown> = {};
  for (const k in e) if (!ENVELOPE.has(k)) fields[k] = e[k];
  const opts: EnvelopeOptions = { id: e.id as string, timestamp: e.timestamp as string, level: e.level as Level, message: e.message as string };
  if (isBuiltin(type)) return validateBuiltin(type, fields, opts, now);
  return validateCustom(type, fields, opts, now);
}

function validateCustom(eventType: string, fields: Record<string, unknown>, opts: EnvelopeOptions, now: number): Validated {
  const problems: Problem[] = [];
  const copy = copyJson('(metadata)', { event_type: eventType, ...fields }, problems);
  const env = applyEnvelope(opts, CUSTOM_EVENT_DEFAULT_LEVEL, problems, now);
  if (copy !== null && copy.bytes > MAX_METADATA_BYTES) {
    problems.push({ field: '(metadata)', problem: `too large: ${copy.bytes} bytes, at most ${MAX_METADATA_BYTES} (256 KiB)` });
  }
  if (problems.length > 0 || copy === null) return { ok: false, problems };
  const message = env.message ?? `Event ${eventType}`;
  checkMessage(message, problems);
  if (problems.length > 0) return { ok: false, problems };
  const metadata = copy.value as Record<string, unknown>;
  const row: EventRow = { id: env.id, level: env.level, message, time: env.time, event_type: eventType, metadata };
  if (env.checkId) row.checkId = true;
  return { ok: true, row };
}
