import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { E } from '../../src/http/errors.js';
import { after, before, describe, it } from 'node:test';
import { uuidv7 } from '../../src/events/uuid7.js';
import { BACKENDS } from '../helpers/stores.js';
import { ev, http, remainingHandles, startHarness, type Harness } from './harness.js';

type Stored = { id: string; level: string; message: string; timestamp: string; log_metadata: Record<string, unknown> };
type PageBody = { events: Stored[]; next_cursor: string | null; head_cursor: string | null };

/** A fixed set of events covering every filter. */
const FIXTURE = [
  ev.created('task-a', { created_by: 'alice', timestamp: '2026-03-01T10:00:00Z' }),
  { event_type: 'task_updated', task_id: 'task-a', updated_by: 'bob', changes: { owner: 'bob' }, timestamp: '2026-03-01T11:00:00Z' },
  { event_type: 'task_failed', task_id: 'task-b', error_message: 'Quota EXCEEDED', timestamp: '2026-03-02T10:00:00Z' },
  { event_type: 'api_call', endpoint: '/x', method: 'GET', user_id: 'alice', status_code: 200, timestamp: '2026-03-02T11:00:00Z' },
  ev.model('gpt-4', { timestamp: '2026-03-03T10:00:00Z' }),
  { event_type: 'content_generated', content_type: 'post', content_id: 'c1', agent_name: 'Writer', model_used: 'gpt-4', timestamp: '2026-03-03T11:00:00Z' },
  { event_type: 'agent_executed', agent_name: 'Writer', task_type: 'content_generation', status: 'success', timestamp: '2026-03-04T10:00:00Z' },
  { event_type: 'cache_operation', operation: 'get', cache_key: 'k', status: 'success', hit_miss: 'hit', timestamp: '2026-03-04T11:00:00Z' },
  { event_type: 'error', error_type: 'Boom', error_message: 'boom', component: 'Writer', level: 'CRITICAL', timestamp: '2026-03-05T10:00:00Z' },
];

for (const backend of BACKENDS) {
  describe(`query API on ${backend.name}`, { skip: backend.skip }, () => {
    let h: Harness;
    let read: string;
    let ids: string[];
    before(async () => {
      h = await startHarness(backend);
      read = await h.key(['read']);
      const ingest = await h.key(['ingest']);
      const r = await http(`${h.url}/v1/events`, { key: ingest, json: { events: FIXTURE } });
      assert.equal(r.status, 200);
      ids = (r.body.results as { id: string }[]).map((x) => x.id);
    });
    after(async () => {
      await h.close();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });
    const get = (path: string) => http(`${h.url}${path}`, { key: read });
    const types = (b: Record<string, unknown>) => (b as PageBody).events.map((e) => e.log_metadata.event_type);

    it('lists events newest first as {id, level, message, timestamp, log_metadata}', async () => {
      const r = await get('/v1/events');
      assert.equal(r.status, 200);
      const page = r.body as PageBody;
      assert.deepEqual(page.events.map((e) => e.id), [...ids].reverse());
      assert.deepEqual(Object.keys(page.events[0]).sort(), ['id', 'level', 'log_metadata', 'message', 'timestamp']);
      assert.equal(page.events[0].timestamp, '2026-03-05T10:00:00.000Z');
      assert.equal(page.next_cursor, null);
    });

    it('applies every filter', async () => {
      const cases: [string, string[]][] = [
        ['event_type=task_created&event_type=task_failed', ['task_failed', 'task_created']],
        ['event_type=task_created,api_call', ['api_call', 'task_created']],
        ['level=ERROR', ['error', 'task_failed']],
        ['level=CRITICAL', ['error']],
        ['since=2026-03-04T00:00:00Z', ['error', 'cache_operation', 'agent_executed']],
        ['until=2026-03-01T11:00:00Z', ['task_created']],
        ['since=2026-03-02T00:00:00Z&until=2026-03-03T00:00:00Z', ['api_call', 'task_failed']],
        ['task_id=task-a', ['task_updated', 'task_created']],
        ['user_id=alice', ['api_call', 'task_created']],
        ['user_id=bob', ['task_updated']],
        ['agent_name=Writer', ['agent_executed', 'content_generated']],
        ['model_name=gpt-4', ['content_generated', 'model_called']],
        ['status=success', ['cache_operation', 'agent_executed']],
        ['q=quota%20exceeded', ['task_failed']],
        ['q=100%25', []],
        ['task_id=task-a&event_type=task_updated', ['task_updated']],
      ];
      for (const [qs, expected] of cases) {
        const r = await get(`/v1/events?${qs}`);
        assert.equal(r.status, 200, qs);
        assert.deepEqual(types(r.body), expected, qs);
      }
    });

    it('paginates with a keyset cursor that stays stable while new events arrive', async () => {
      const p1 = await get('/v1/events?limit=4');
      assert.deepEqual((p1.body as PageBody).events.map((e) => e.id), ids.slice(5).reverse());
      const cursor = (p1.body as PageBody).next_cursor!;
      assert.ok(cursor);
      // New events arrive between pages.
      const ingest = await h.key(['ingest']);
      await http(`${h.url}/v1/events`, { key: ingest, json: { events: [ev.created('new-1'), ev.created('new-2')] } });
      const p2 = await get(`/v1/events?limit=4&cursor=${cursor}`);
      assert.deepEqual((p2.body as PageBody).events.map((e) => e.id), ids.slice(1, 5).reverse());
      const p3 = await get(`/v1/events?limit=4&cursor=${(p2.body as PageBody).next_cursor}`);
      assert.deepEqual((p3.body as PageBody).events.map((e) => e.id), ids.slice(0, 1));
      assert.equal((p3.body as PageBody).next_cursor, null);
    });

    it('gives a head_cursor that, with order=asc, yields only newer events (tailing)', async () => {
      const first = await get('/v1/events?limit=1');
      const head = (first.body as PageBody).head_cursor!;
      const empty = await get(`/v1/events?order=asc&cursor=${head}`);
      assert.deepEqual((empty.body as PageBody).events, []);
      assert.equal((empty.body as PageBody).next_cursor, head);
      const ingest = await h.key(['ingest']);
      const id = uuidv7();
      await http(`${h.url}/v1/events`, { key: ingest, json: ev.created('tail-1', { id }) });
      const next = await get(`/v1/events?order=asc&cursor=${head}`);
      assert.deepEqual((next.body as PageBody).events.map((e) => e.id), [id]);
    });

    it('gets one event by id, 404 when absent, 400 when not a UUID', async () => {
      const r = await get(`/v1/events/${ids[2]}`);
      assert.equal(r.status, 200);
      assert.equal((r.body as Stored).log_metadata.task_id, 'task-b');
      assert.equal((r.body as Stored).level, 'ERROR');
      const missing = await get(`/v1/events/${uuidv7()}`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 40402);
      const bad = await get('/v1/events/not-a-uuid');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 40004);
    });

    it('refuses invalid query parameters with 400, naming them', async () => {
      const cases: [string, number, RegExp][] = [
        ['/v1/events?limit=1001', 40004, /limit/],
        ['/v1/events?limit=0', 40004, /limit/],
        ['/v1/events?level=LOUD', 40004, /level/],
        ['/v1/events?since=yesterday', 40004, /since/],
        ['/v1/events?event_type=DROP%20TABLE', 40004, /event_type/],
        ['/v1/events?tasks=1', 40004, /querystring\/tasks: unknown parameter/],
        ['/v1/events?cursor=abc', 40005, /cursor/],
        ['/v1/events?cursor=%27%3B--', 40004, /cursor/],
        ['/v1/events/export?format=xml', 40004, /format/],
        ['/v1/stats/costs?since=monday', 40004, /since/],
        ['/v1/stats/nope', 40004, /name/],
      ];
      for (const [path, code, msg] of cases) {
        const r = await get(path);
        assert.equal(r.status, 400, path);
        assert.equal(r.body.code, code, path);
        assert.match(String(r.body.error), msg, path);
      }
    });

    it('answers requests Node.js refuses before routing in the error format: headers over 16 KiB, not HTTP', async () => {
      const long = await http(`${h.url}/v1/events?q=${'a'.repeat(20_000)}`, { headers: { authorization: `Bearer ${read}` } });
      assert.equal(long.status, 431);
      assert.equal(long.body.code, 43101);
      assert.match(String(long.body.error), /over 16 KiB/);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(h.url).port), '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
        let text = '';
        socket.on('data', (d) => (text += d));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.equal(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).code, 40007);
    });

    it('exports NDJSON, every matching event, streamed', async () => {
      const r = await get('/v1/events/export?format=ndjson&task_id=task-a&order=asc');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /application\/x-ndjson/);
      const lines = r.text.trim().split('\n').map((l) => JSON.parse(l) as Stored);
      assert.deepEqual(lines.map((e) => e.id), ids.slice(0, 2));
      const all = await get('/v1/events/export');
      assert.ok(all.text.trim().split('\n').length >= FIXTURE.length);
    });

    it('exports CSV with a header and quoted fields', async () => {
      const r = await get('/v1/events/export?format=csv&event_type=task_updated');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/csv/);
      const [header, row, end] = r.text.split('\r\n');
      assert.equal(header, 'id,timestamp,level,event_type,message,log_metadata');
      assert.ok(row.startsWith(`${ids[1]},2026-03-01T11:00:00.000Z,INFO,task_updated,Task task-a updated by bob: owner,"{`));
      assert.ok(row.includes('""changes"": {""owner"": ""bob""}') || row.includes('""changes"":{""owner"":""bob""}'));
      assert.equal(end, '');
    });

    it('exports a large table in batches with the same result as paging', async () => {
      const ingest = await h.key(['ingest']);
      for (let b = 0; b < 5; b++) {
        await http(`${h.url}/v1/events`, { key: ingest, json: { events: Array.from({ length: 1000 }, (_, i) => ev.created(`bulk-${b}-${i}`)) } });
      }
      const r = await get('/v1/events/export?q=bulk-');
      const got = r.text.trim().split('\n').map((l) => (JSON.parse(l) as Stored).log_metadata.task_id);
      assert.equal(got.length, 5000);
      assert.equal(got[0], 'bulk-4-999');
      assert.equal(got[4999], 'bulk-0-0');
      assert.equal(new Set(got).size, 5000);
    });

    it('answers each statistic with since/until', async () => {
      for (const name of ['costs', 'agents', 'tasks', 'cache', 'errors', 'security', 'database']) {
        const r = await get(`/v1/stats/${name}?since=2026-03-01T00:00:00Z&until=2026-04-01T00:00:00Z`);
        assert.equal(r.status, 200, `${name}: ${r.text}`);
        assert.equal(typeof r.body, 'object');
      }
    });
  });
}

it('documents every code of the error catalogue in docs/api.md#errors, with its HTTP status', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');
  for (const [name, spec] of Object.entries(E)) {
    assert.ok(doc.includes(`| <a id="errors-${spec.code}"></a>${spec.code} | ${spec.http} |`), `${name} (${spec.code}) is not in the errors table`);
  }
});
