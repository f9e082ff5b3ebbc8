/**
 * Property-based tests (fast-check) of what Vigil takes from outside: the ingest API, the query
 * parameters and the config parser. A real server on 127.0.0.1 over the embedded database (and
 * PostgreSQL when VIGIL_TEST_DATABASE_URL is set), real HTTP, no mocks. Whatever is sent: no crash,
 * no 5xx; every refusal is a 4xx in the error catalogue's shape whose message names the problem
 * (the one exception: a URL over Node's 16 KiB header limit, refused 431 before the app runs);
 * valid input is taken, stored as sent, and stored once per id.
 *
 * Each generated event of a batch is validated on its own and gets its own result, so it counts
 * as one case; every other case is one request or one loadConfig call. The total is printed and
 * must reach MIN_CASES.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { LEVEL_RANK, type Level } from '../../src/events/catalogue.js';
import { BACKENDS } from '../helpers/stores.js';
import { countLogs, remainingHandles, startHarness, type Harness } from '../http/harness.js';
import { checkLoad, configDocument, configText, envMap, flagMap, layeredValid, OPTIONS, placeFile, toYaml } from './properties-config.js';
import { eventCase, POISON, serialise, validEvent, withDuplicateKey, WRONG, type EventCase } from './properties-events.js';
import { assertNo5xx, assertRefusal, headerTooLarge, logStream, send, type RawAnswer } from './properties-http.js';
import { allValid, eventIdParam, exportParams, listParams, queryString, statName, statsParams, type Param } from './properties-query.js';

const MIN_CASES = 10_000;
const counts = { ingest: 0, query: 0, config: 0 };
const JSON_TYPE = { 'content-type': 'application/json' };

interface Result {
  success: boolean;
  id?: string;
  error?: string;
  timestamp: string;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The error names the field as a problem of its own: `field: …` at the start or after `; `. */
const namesField = (error: string, field: string) => new RegExp(`(^|; )(${escapeRe(field)}|${escapeRe(JSON.stringify(field))}): \\S`).test(error);

/** A per-event refusal: a `field: problem` sentence. */
function assertEventRefusal(r: Result, what: string, field?: string): void {
  assert.equal(r.success, false, `${what}: expected a refusal, got ${JSON.stringify(r)}`);
  assert.equal(typeof r.error, 'string', `${what}: a refusal needs an error`);
  // Starts with the field, plain or quoted when its name would blur the form (empty, or holding ':', ';', '"').
  assert.match(r.error!, /^("(?:[^"\\]|\\.)*"|[^\s:;"][^:;"]*?): \S/, `${what}: the error is not "field: problem": ${JSON.stringify(r.error)}`);
  if (field !== undefined) assert.ok(namesField(r.error!, field), `${what}: the error does not name ${JSON.stringify(field)}: ${JSON.stringify(r.error)}`);
  // Validation catches what the database would refuse, and says which field: never the database's words.
  assert.doesNotMatch(r.error!, /refused by the database/, `${what}: the database refused what validation let through`);
}

function checkResult(c: EventCase, r: Result, what: string): void {
  if (c.expect.kind === 'valid') {
    assert.equal(r.success, true, `${what} (${c.label}): a valid event was refused: ${r.error}`);
    const id = (c.event as { id?: string }).id;
    assert.match(r.id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `${what}: bad id ${r.id}`);
    if (id !== undefined) assert.equal(r.id, id.toLowerCase(), `${what}: the event's own id must be kept`);
  } else if (c.expect.kind === 'invalid') {
    assertEventRefusal(r, `${what} (${c.label})`, c.expect.field);
  } else if (!r.success) {
    assertEventRefusal(r, `${what} (${c.label})`, c.expect.field);
  }
}

async function idCounts(h: Harness, ids: string[]): Promise<Map<string, number>> {
  const { rows } = await h.store.query<{ id: string; n: number }>('SELECT id::text AS id, count(*)::int AS n FROM logs WHERE id = ANY($1::uuid[]) GROUP BY id', [ids]);
  return new Map(rows.map((r) => [r.id, r.n]));
}

for (const backend of BACKENDS) {
  // The embedded database gets the full runs; PostgreSQL (when VIGIL_TEST_DATABASE_URL is set) a third of them.
  const runs = (n: number) => (backend.name === 'embedded' ? n : Math.ceil(n / 3));

  describe(`properties of the HTTP API on ${backend.name}`, { skip: backend.skip }, () => {
    let h: Harness;
    let ingest: string;
    let read: string;
    before(async () => {
      h = await startHarness(backend, { log: pino({ level: 'warn' }, logStream) });
      ingest = await h.key(['ingest'], 0);
      read = await h.key(['read'], 0);
    });
    after(async () => {
      await h.close();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });
    const post = (body: Buffer | string, headers: Record<string, string> = JSON_TYPE) => send(`${h.url}/v1/events`, { key: ingest, body, headers });

    it('a valid event (each of the 12 types, custom types) is stored: 200, success, and re-sending its id adds no row', async () => {
      await fc.assert(
        fc.asyncProperty(validEvent, fc.uuid(), async (e, uuid) => {
          const event: Record<string, unknown> = { ...e, id: e.id ?? uuid };
          const before = await countLogs(h.store);
          const known = (await idCounts(h, [String(event.id)])).get(String(event.id).toLowerCase()) ?? 0;
          for (let attempt = 0; attempt < 2; attempt++) {
            const a = await post(serialise(event));
            assert.equal(a.status, 200, `attempt ${attempt + 1}: ${a.text.slice(0, 300)}`);
            const [r] = (a.json as { results: Result[] }).results;
            checkResult({ event, expect: { kind: 'valid' }, label: 'single' }, r, `attempt ${attempt + 1}`);
          }
          assert.equal((await idCounts(h, [String(event.id)])).get(String(event.id).toLowerCase()), 1, 'the id is stored exactly once');
          assert.equal(await countLogs(h.store), before + (known === 0 ? 1 : 0), 'two sends of one id add one row');
          // What is read back is what was sent: the fields as log_metadata, and the envelope.
          const got = await send(`${h.url}/v1/events/${event.id}`, { key: read });
          assert.equal(got.status, 200);
          const stored = got.json as { level: string; message: string; timestamp: string; log_metadata: Record<string, unknown> };
          const fields = Object.fromEntries(Object.entries(event).filter(([k]) => !['id', 'timestamp', 'level', 'message'].includes(k)));
          if (known === 0) {
            assert.deepEqual(stored.log_metadata, JSON.parse(JSON.stringify(fields)), 'log_metadata is the event without its envelope');
            // Known, not Vigil's: PGlite decodes each text value with a TextDecoder that drops a leading
            // U+FEFF (the row holds it; node-pg returns it). So on the embedded store it is compared without it.
            if (event.message !== undefined) assert.equal(stored.message, backend.name === 'embedded' ? String(event.message).replace(/^\uFEFF/, '') : event.message);
            if (event.level !== undefined) assert.equal(stored.level, event.level);
            if (event.timestamp !== undefined) assert.equal(stored.timestamp, new Date(Date.parse(String(event.timestamp))).toISOString());
          }
          counts.ingest++;
        }),
        { numRuns: runs(250) },
      );
    });

    it('a batch of valid, near-valid and arbitrary events: one result each, refusals name the field, each id stored once', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(eventCase, { minLength: 1, maxLength: 60, size: 'max' }).filter((cs) => !POISON.test(JSON.stringify(cs.map((c) => c.event)))),
          async (cases) => {
            const body = serialise({ events: cases.map((c) => c.event) });
            const given = cases.map((c) => (c.event as { id?: unknown } | null)?.id).filter((id): id is string => typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id)).map((id) => id.toLowerCase());
            const known = await idCounts(h, given);
            const before = await countLogs(h.store);
            const a = await post(body);
            assertNo5xx(a, 'batch');
            assert.ok(a.status === 200 || a.status === 207, `batch: expected 200 or 207, got ${a.status}: ${a.text.slice(0, 300)}`);
            const results = (a.json as { results: Result[] }).results;
            assert.equal(results.length, cases.length, 'one result per event, in order');
            cases.forEach((c, i) => checkResult(c, results[i], `event ${i}`));
            assert.equal(a.status === 200, results.every((r) => r.success), '200 exactly when every event is stored');
            const stored = [...new Set(results.filter((r) => r.success).map((r) => r.id!))];
            const now = await idCounts(h, stored);
            for (const id of stored) assert.equal(now.get(id), 1, `id ${id} is stored exactly once`);
            assert.equal(await countLogs(h.store), before + stored.filter((id) => !known.has(id)).length, 'rows added = new ids accepted');
            counts.ingest += cases.length;
          },
        ),
        { numRuns: runs(150) },
      );
    });

    it('duplicated keys in the raw JSON text: the last value is the one judged', async () => {
      const pick = validEvent.chain((e) => {
        const fields = Object.keys(e).filter((k) => k !== 'event_type' && !['id', 'timestamp', 'level', 'message'].includes(k));
        return fc.tuple(fc.constant(e), fields.length > 0 ? fc.constantFrom(...fields) : fc.constant('event_type'), fc.boolean());
      });
      await fc.assert(
        fc.asyncProperty(pick, fc.oneof(WRONG.string, WRONG.count, fc.constant(null)), async ([event, key, goodLast], bad) => {
          const junk = { ...event };
          delete junk.id;
          // goodLast: the junk value first, the valid one last (accepted); else the other way (refused if the junk is wrong).
          const text = goodLast ? withDuplicateKey(junk, key, bad) : withDuplicateKey({ ...junk, [key]: bad }, key, junk[key]);
          const parsed = JSON.parse(text) as Record<string, unknown>;
          const a = await post(text);
          assertNo5xx(a, 'duplicate keys');
          if (POISON.test(text) && a.status === 400) {
            // A "__proto__" key anywhere refuses the whole body (Fastify's JSON parser guards against prototype poisoning).
            assert.match(assertRefusal(a, 'duplicate keys').error, /prototype/);
          } else if (goodLast) {
            assert.equal(a.status, 200, `the last (valid) value must win: ${a.text.slice(0, 300)}`);
          } else if (a.status !== 200) {
            const b = assertRefusal(a, 'duplicate keys', [400]);
            assert.equal(b.code, 40003);
            assert.ok(b.error.includes(`${key}: `) || parsed[key] === null, `the refusal must name ${key}: ${b.error}`);
          }
          counts.ingest++;
        }),
        { numRuns: runs(150) },
      );
    });

    it('bodies that are not JSON, truncated JSON, bytes that are not UTF-8, huge number literals: 4xx saying why', async () => {
      const truncated = validEvent.chain((e) => {
        const t = JSON.stringify(e);
        return fc.nat(t.length - 1).map((n) => ({ body: t.slice(0, n) as string | Buffer, kind: 'truncated' }));
      });
      const bytes = fc.uint8Array({ maxLength: 200 }).map((b) => ({ body: Buffer.from(b) as string | Buffer, kind: 'bytes' }));
      const badUtf8 = fc.tuple(validEvent, fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => b.map((x) => x | 0x80))).map(([e, junk]) => {
        const t = Buffer.from(JSON.stringify({ ...e, event_type: 'custom.bytes', note: '@@' }));
        const at = t.indexOf('@@');
        return { body: Buffer.concat([t.subarray(0, at), Buffer.from(junk), t.subarray(at + 2)]) as string | Buffer, kind: 'bad utf-8' };
      });
      const hugeNumber = fc
        .tuple(fc.constantFrom('tokens_used', 'cost_usd', 'response_time_ms'), fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '1e-400', '-0', '9007199254740993', '0.1e1'))
        .map(([f, lit]) => ({ body: `{"event_type":"model_called","model_name":"m","provider":"p","tokens_used":1,"cost_usd":1,"${f}":${lit}}` as string | Buffer, kind: `huge ${f}` }));
      const poisoned = fc
        .tuple(validEvent, fc.constantFrom('{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '[{"a":{"__proto__":null}}]'))
        .map(([e, junk]) => ({ body: JSON.stringify({ ...e, event_type: 'custom.poison', junk: 0 }).replace('"junk":0', `"junk":${junk}`) as string | Buffer, kind: 'prototype poisoning' }));
      await fc.assert(
        fc.asyncProperty(fc.oneof(truncated, bytes, badUtf8, hugeNumber, poisoned), async ({ body, kind }) => {
          const a = await post(body);
          assertNo5xx(a, kind);
          if (a.status === 200) return void counts.ingest++;
          const b = assertRefusal(a, kind, [400]);
          if (kind === 'truncated') assert.ok(b.code === 40001 && !/poisoning/.test(b.error), `truncated JSON is 40001, a syntax error: ${b.error}`);
          if (kind === 'prototype poisoning') assert.ok(b.code === 40001 && /__proto__/.test(b.error), `say why valid JSON is refused: ${b.error}`);
          if (kind.startsWith('huge')) assert.ok(b.error.includes(kind.slice(5)), `the refusal must name the field: ${b.error}`);
          counts.ingest++;
        }),
        { numRuns: runs(250) },
      );
    });

    it('a body that is not application/json is refused with 415 (text/plain: 400 not an event)', async () => {
      const types = fc.oneof(
        fc.constantFrom('application/xml', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'image/png', 'application/octet-stream', 'application/jsonx', 'json', 'application/vnd.api+json'),
        fc.stringMatching(/^[a-z]{1,8}\/[a-z0-9.+-]{1,12}$/).filter((t) => !/^(application\/json|text\/plain)$/.test(t)),
      );
      await fc.assert(
        fc.asyncProperty(validEvent, fc.oneof(types, fc.constantFrom('text/plain', 'text/plain; charset=utf-8', '')), async (e, type) => {
          const a = await post(JSON.stringify(e), type === '' ? {} : { 'content-type': type });
          const b = assertRefusal(a, `content-type ${type}`, [400, 415]);
          if (type.startsWith('text/plain')) assert.equal(b.code, 40002);
          else assert.equal(b.code, 41501, `${type}: ${b.error}`);
          counts.ingest++;
        }),
        { numRuns: runs(120) },
      );
    });

    it('any JSON body, one event or a batch of anything: answered, never 5xx, refusals explained', async () => {
      const body = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.record({ events: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 10 }) }), fc.record({ events: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }).map((o) => ({ ...o, other: 1 })));
      await fc.assert(
        fc.asyncProperty(body, async (v) => {
          const a = await post(serialise(v));
          assertNo5xx(a, 'arbitrary JSON');
          if (a.status === 200 || a.status === 207) {
            const results = (a.json as { results: Result[] }).results;
            for (const r of results) if (!r.success) assertEventRefusal(r, 'arbitrary JSON');
          } else {
            const b = assertRefusal(a, 'arbitrary JSON', [400]);
            if (b.code === 40001 && POISON.test(JSON.stringify(v))) return void counts.ingest++;
            assert.ok([40002, 40003].includes(b.code), `code ${b.code}: ${b.error}`);
            if (b.code === 40003) assertEventRefusal((b.results as Result[])[0], 'arbitrary JSON');
          }
          counts.ingest++;
        }),
        { numRuns: runs(250) },
      );
    });

    it('over the limits: more than 1,000 events is 413 41301, more than 5 MiB is 413 41302, nothing stored', async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.integer({ min: 1001, max: 1200 }).map((n) => ({ n, big: false })), fc.integer({ min: 1, max: 100_000 }).map((n) => ({ n, big: true }))), async ({ n, big }) => {
          const before = await countLogs(h.store);
          const body = big
            ? JSON.stringify({ event_type: 'custom.big', blob: 'x'.repeat(5 * 1024 * 1024 + n) })
            : JSON.stringify({ events: Array.from({ length: n }, () => ({ event_type: 'custom.many' })) });
          const b = assertRefusal(await post(body), 'over the limits', [413]);
          assert.equal(b.code, big ? 41302 : 41301);
          assert.equal(await countLogs(h.store), before);
          counts.ingest++;
        }),
        { numRuns: runs(6) },
      );
    });

    /** Checks an answer to a query: 200 when every parameter was valid, else 200 or 400 naming a parameter. */
    function checkQueryAnswer(a: RawAnswer, ps: readonly Param[], what: string): boolean {
      assertNo5xx(a, what);
      if (headerTooLarge(a, what)) return false;
      if (allValid(ps)) assert.equal(a.status, 200, `${what}: valid parameters must be answered 200: ${a.text.slice(0, 300)}`);
      if (a.status === 200) return true;
      const b = assertRefusal(a, what, [400]);
      assert.ok([40004, 40005].includes(b.code), `${what}: code ${b.code}: ${b.error}`);
      const names = [...ps.map((p) => p.name), 'cursor', 'querystring'];
      assert.ok(names.some((n) => n !== '' && b.error.includes(n)), `${what}: the error names no parameter: ${b.error}`);
      if (b.code === 40004) assert.ok(Array.isArray(b.problems) && b.problems.length > 0 && b.problems.every((p) => p.field.length > 0 && p.problem.length > 0), `${what}: problems ${JSON.stringify(b.problems)}`);
      return false;
    }

    it('GET /v1/events with any parameters: 200 (and the filters hold) or 400 naming the parameter', async () => {
      await fc.assert(
        fc.asyncProperty(listParams, async (ps) => {
          const qs = queryString(ps);
          const a = await send(`${h.url}/v1/events${qs}`, { key: read });
          counts.query++;
          if (!checkQueryAnswer(a, ps, `GET /v1/events${qs}`)) return;
          const page = a.json as { events: { level: Level; timestamp: string; message: string; log_metadata: Record<string, unknown> }[]; next_cursor: unknown; head_cursor: unknown };
          assert.ok(Array.isArray(page.events) && 'next_cursor' in page && 'head_cursor' in page);
          if (!allValid(ps)) return;
          const v = Object.fromEntries(ps.map((p) => [p.name, p.value]));
          assert.ok(page.events.length <= Number(v.limit ?? 100));
          for (const e of page.events) {
            const m = e.log_metadata;
            if (v.event_type) assert.ok(v.event_type.split(',').includes(String(m.event_type)), `event_type ${String(m.event_type)} not in ${v.event_type}`);
            if (v.level) assert.ok(LEVEL_RANK[e.level] >= LEVEL_RANK[v.level as Level]);
            if (v.since) assert.ok(Date.parse(e.timestamp) >= Date.parse(v.since), `${e.timestamp} before since ${v.since}`);
            if (v.until) assert.ok(Date.parse(e.timestamp) < Date.parse(v.until), `${e.timestamp} not before until ${v.until}`);
            for (const f of ['task_id', 'agent_name', 'status'] as const) if (v[f] !== undefined) assert.equal(m[f], v[f]);
            if (v.user_id !== undefined) assert.ok([m.user_id, m.created_by, m.updated_by].includes(v.user_id));
            if (v.model_name !== undefined) assert.ok([m.model_name, m.model_used].includes(v.model_name));
          }
        }),
        { numRuns: runs(1000) },
      );
    });

    it('GET /v1/events/export with any parameters: a complete NDJSON or CSV stream, or 400 naming the parameter', async () => {
      await fc.assert(
        fc.asyncProperty(exportParams, async (ps) => {
          const qs = queryString(ps);
          const a = await send(`${h.url}/v1/events/export${qs}`, { key: read });
          counts.query++;
          if (!checkQueryAnswer(a, ps, `GET /v1/events/export${qs}`)) return;
          const csv = ps.some((p) => p.name === 'format' && p.value === 'csv');
          if (csv) {
            assert.match(a.contentType, /^text\/csv/);
            assert.ok(a.text.startsWith('id,timestamp,level,event_type,message,log_metadata\r\n'));
          } else {
            assert.match(a.contentType, /^application\/x-ndjson/);
            for (const line of a.text.split('\n').filter((l) => l !== '')) assert.equal(typeof (JSON.parse(line) as { id: unknown }).id, 'string');
          }
        }),
        { numRuns: runs(300) },
      );
    });

    it('GET /v1/stats/{name} and GET /v1/events/{id} with any parameters: 200, or 400/404 naming the problem', async () => {
      const stats = fc.tuple(statName, statsParams).map(([n, ps]) => ({ path: `/v1/stats/${n.raw}${queryString(ps)}`, ps: [n, ...ps], kind: 'stats' }));
      const byId = eventIdParam.map((p) => ({ path: `/v1/events/${p.raw}`, ps: [p], kind: 'id' }));
      await fc.assert(
        fc.asyncProperty(fc.oneof({ weight: 4, arbitrary: stats }, { weight: 1, arbitrary: byId }), async ({ path, ps, kind }) => {
          const a = await send(`${h.url}${path}`, { key: read });
          counts.query++;
          assertNo5xx(a, path);
          if (headerTooLarge(a, path)) return;
          if (kind === 'stats') {
            if (allValid(ps)) assert.equal(a.status, 200, `${path}: ${a.text.slice(0, 300)}`);
          } else if (a.status === 404) {
            assert.ok([40402, 40401].includes(assertRefusal(a, path, [404]).code));
            return;
          }
          if (a.status === 200) return;
          const b = assertRefusal(a, path, [400, 404]);
          if (a.status === 400) assert.ok(ps.some((p) => b.error.includes(p.name)) || /querystring\/|path parameter/.test(b.error), `${path}: the error names no parameter: ${b.error}`);
          else assert.equal(b.code, 40401, `${path}: ${b.error}`);
        }),
        { numRuns: runs(500) },
      );
    });
  });
}

describe('properties of the config parser (loadConfig)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-props-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const via = fc.constantFrom<'default' | 'flag' | 'env'>('default', 'flag', 'env');

  it('any config document (YAML or JSON) with any environment and flags: a config, or a ConfigError naming the key', () => {
    fc.assert(
      fc.property(configDocument, fc.boolean(), via, envMap, fc.option(flagMap, { nil: undefined }), (doc, json, how, env, flags) => {
        let text: string;
        try {
          text = json ? JSON.stringify(doc) ?? 'null' : toYaml(doc);
        } catch {
          text = String(doc);
        }
        const placed = placeFile(dir, text, json, how);
        checkLoad(dir, placed.path, { ...env, ...placed.env }, { ...(flags ?? {}), ...placed.flags });
        counts.config++;
      }),
      { numRuns: 2000 },
    );
  });

  it('any config file text (anchors, circular aliases, tags, duplicated keys, noise): a config, or a ConfigError naming the file or the key', () => {
    fc.assert(
      fc.property(configText, fc.boolean(), via, (text, json, how) => {
        const placed = placeFile(dir, text, json, how);
        checkLoad(dir, placed.path, placed.env, placed.flags);
        counts.config++;
      }),
      { numRuns: 2000 },
    );
  });

  it('any environment and flags, no file: a config, or a ConfigError naming the variable or flag', () => {
    fc.assert(
      fc.property(envMap, flagMap, (env, flags) => {
        placeFile(dir, '', false, 'default');
        rmSync(join(dir, 'vigil.config.yaml'), { force: true });
        checkLoad(dir, null, env, flags);
        counts.config++;
      }),
      { numRuns: 1000 },
    );
  });

  it('valid values from file, environment and flags are taken, flags over environment over file', () => {
    fc.assert(
      fc.property(layeredValid, fc.boolean(), (layers, json) => {
        const doc: Record<string, Record<string, unknown>> = {};
        const env: Record<string, string> = {};
        const flags: Record<string, unknown> = {};
        const expected = new Map<number, { value: unknown; rank: number }>();
        const RANK = { file: 0, env: 1, flag: 2 };
        for (const [i, value, where0, spaced] of layers) {
          const o = OPTIONS[i];
          const where = where0 === 'flag' && !o.flag ? 'env' : where0;
          if (where === 'file') (doc[o.section] ??= {})[o.key] = value;
          else if (where === 'env') env[o.env] = spaced && typeof value === 'number' ? ` ${value} ` : String(value);
          else flags[o.flag!] = typeof value === 'number' && spaced ? String(value) : value;
          const prev = expected.get(i);
          if (!prev || prev.rank <= RANK[where]) expected.set(i, { value, rank: RANK[where] });
        }
        const placed = placeFile(dir, json ? JSON.stringify(doc) : toYaml(doc), json, 'default');
        const out = checkLoad(dir, placed.path, env, flags as never);
        assert.ok('cfg' in out, `valid values refused: ${'error' in out ? out.error.message : ''}`);
        for (const [i, { value }] of expected) assert.equal(OPTIONS[i].read(out.cfg), value, `${OPTIONS[i].section}.${OPTIONS[i].key}`);
        counts.config++;
      }),
      { numRuns: 1000 },
    );
  });
});

describe('property-based case count', () => {
  it(`ran at least ${MIN_CASES.toLocaleString('en')} generated cases`, () => {
    const total = counts.ingest + counts.query + counts.config;
    console.log(`property-based cases: ingest ${counts.ingest} (events), queries ${counts.query}, config ${counts.config}; total ${total}`);
    assert.ok(total >= MIN_CASES, `only ${total} generated cases`);
  });
});

