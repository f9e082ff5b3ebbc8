import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/http/app.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { uuidv7 } from '../../src/events/uuid7.js';
import { BACKENDS } from '../helpers/stores.js';
import { countLogs, ev, http, remainingHandles, startHarness, type Harness } from './harness.js';

for (const backend of BACKENDS) {
  describe(`POST /v1/events on ${backend.name}`, { skip: backend.skip }, () => {
    let h: Harness;
    let key: string;
    before(async () => {
      h = await startHarness(backend);
      key = await h.key(['ingest']);
    });
    after(async () => {
      await h.close();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });
    const post = (json: unknown, extra: Parameters<typeof http>[1] = {}) => http(`${h.url}/v1/events`, { key, json, ...extra });

    it('stores a single event and answers 200 with its id and timestamp, after the commit', async () => {
      const id = uuidv7();
      const r = await post(ev.created('t-single', { id, timestamp: '2026-01-02T03:04:05.678Z' }));
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { results: [{ success: true, id, timestamp: '2026-01-02T03:04:05.678Z' }] });
      const { rows } = await h.store.query<{ level: string; message: string; log_metadata: unknown }>('SELECT level, message, log_metadata FROM logs WHERE id = $1', [id]);
      assert.equal(rows.length, 1, 'answered 200 only once committed');
      assert.equal(rows[0].level, 'INFO');
      assert.equal(rows[0].message, 'Task t-single created (content_generation) by user_1');
      assert.deepEqual(rows[0].log_metadata, { event_type: 'task_created', task_id: 't-single', task_type: 'content_generation', created_by: 'user_1' });
    });

    it('stores a batch and answers 200 with one result per event, in order', async () => {
      const events = Array.from({ length: 50 }, (_, i) => ev.model(`m${i}`));
      const r = await post({ events });
      assert.equal(r.status, 200);
      const results = r.body.results as { success: boolean; id: string }[];
      assert.equal(results.length, 50);
      assert.ok(results.every((x) => x.success));
      const { rows } = await h.store.query<{ m: string }>("SELECT log_metadata->>'model_name' AS m FROM logs WHERE id = ANY($1::uuid[])", [results.map((x) => x.id)]);
      assert.equal(rows.length, 50);
    });

    it('answers 207 when some events are refused, each refusal saying why, and stores the rest', async () => {
      const before = await countLogs(h.store);
      const badId = uuidv7();
      const r = await post({ events: [ev.created('ok-1'), { event_type: 'model_called', id: badId, model_name: 'x', provider: 'y', tokens_used: 'ten', cost_usd: 1 }, { nope: 1 }, ev.created('ok-2')] });
      assert.equal(r.status, 207);
      const results = r.body.results as Record<string, unknown>[];
      assert.equal(results[0].success, true);
      assert.deepEqual(
        { ...results[1], timestamp: undefined },
        { success: false, id: badId, error: 'tokens_used: expected a non-negative integer, got "ten"', timestamp: undefined },
      );
      assert.equal(results[2].success, false);
      assert.equal(results[2].error, 'event_type: required');
      assert.equal(results[3].success, true);
      assert.equal(await countLogs(h.store), before + 2);
    });

    it('answers 207 when every event of a batch is refused, and 400 for a refused single event', async () => {
      const all = await post({ events: [{ event_type: 'task_created' }] });
      assert.equal(all.status, 207);
      assert.equal((all.body.results as { success: boolean }[])[0].success, false);
      const single = await post({ event_type: 'task_created', task_id: 't' });
      assert.equal(single.status, 400);
      assert.equal(single.body.code, 40003);
      assert.match(String(single.body.error), /task_type: required; created_by: required/);
      assert.equal((single.body.results as { success: boolean }[])[0].success, false);
    });

    it('refuses bodies that are not JSON or not of the shape, with 400 and a catalogue code', async () => {
      const cases: [Parameters<typeof http>[1], number, RegExp][] = [
        [{ body: '{"event_type": ', headers: { 'content-type': 'application/json' } }, 40001, /not valid JSON/],
        [{ body: '', headers: { 'content-type': 'application/json' } }, 40001, /empty/],
        [{ json: [ev.created('a')] }, 40002, /got an array/],
        [{ json: 'task_created' }, 40002, /got string/],
        [{ json: { events: {} } }, 40002, /must be an array/],
        [{ json: { events: [] } }, 40002, /empty/],
        [{ json: { events: [ev.created('a')], extra: 1 } }, 40002, /unexpected: extra/],
      ];
      for (const [opts, code, msg] of cases) {
        const r = await http(`${h.url}/v1/events`, { key, ...opts });
        assert.equal(r.status, 400, JSON.stringify(opts));
        assert.equal(r.body.code, code, JSON.stringify(opts));
        assert.match(String(r.body.error), msg);
        assert.equal(r.body.link, `docs/api.md#errors-${code}`);
      }
    });

    it('refuses a body that is not JSON by content type with 415', async () => {
      const r = await http(`${h.url}/v1/events`, { key, body: 'event_type=task_created', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(r.status, 415);
      assert.equal(r.body.code, 41501);
    });

    it('answers 413 over 1,000 events or over 5 MiB, storing nothing', async () => {
      const before = await countLogs(h.store);
      const many = await post({ events: Array.from({ length: 1001 }, (_, i) => ev.created(`t${i}`)) });
      assert.equal(many.status, 413);
      assert.equal(many.body.code, 41301);
      assert.match(String(many.body.error), /1001, at most 1000/);
      const big = 'x'.repeat(6000);
      const large = await post({ events: Array.from({ length: 1000 }, (_, i) => ev.created(`t${i}`, { description: big })) });
      assert.equal(large.status, 413);
      assert.equal(large.body.code, 41302);
      assert.equal(await countLogs(h.store), before);
    });

    it('stores a retried batch once and answers success both times', async () => {
      const events = Array.from({ length: 20 }, (_, i) => ev.created(`retry-${i}`, { id: uuidv7() }));
      const before = await countLogs(h.store);
      const first = await post({ events });
      const second = await post({ events });
      assert.equal(first.status, 200);
      assert.equal(second.status, 200);
      assert.deepEqual(
        (second.body.results as { id: string }[]).map((r) => r.id),
        events.map((e) => e.id),
      );
      // Partly new: half the batch again plus new events.
      const third = await post({ events: [...events.slice(10), ev.created('retry-new', { id: uuidv7() })] });
      assert.equal(third.status, 200);
      assert.equal(await countLogs(h.store), before + 21);
    });

    it('stores the same id sent twice within one batch once', async () => {
      const id = uuidv7();
      const before = await countLogs(h.store);
      const r = await post({ events: [ev.created('dup', { id }), ev.created('dup', { id })] });
      assert.equal(r.status, 200);
      assert.equal(await countLogs(h.store), before + 1);
    });

    it('commits concurrent requests, answering each after its own events are stored', async () => {
      const before = await countLogs(h.store);
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post({ events: [ev.created(`c${i}-a`), ev.created(`c${i}-b`)] })));
      assert.ok(answers.every((a) => a.status === 200));
      assert.equal(await countLogs(h.store), before + 60);
      const m = h.app.vigil.metrics;
      assert.ok(m.eventsAccepted.get({ event_type: 'task_created' }) >= 60);
    });

    it('counts accepted and refused events per type in /metrics', async () => {
      const r = await http(`${h.url}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.match(r.text, /vigil_events_accepted_total\{event_type="task_created"\} \d+/);
      assert.match(r.text, /vigil_events_refused_total\{event_type="model_called",reason="invalid"\} 1/);
      assert.match(r.text, /vigil_commit_duration_seconds_bucket\{le="\+Inf",outcome="ok"\} \d+/);
      assert.match(r.text, /vigil_http_request_duration_seconds_count\{method="POST",route="\/v1\/events",status="200"\} \d+/);
      assert.match(r.text, /vigil_ingest_request_events_count \d+/);
      assert.match(r.text, /vigil_commit_pending_rows 0/);
    });
  });
}

describe('POST /v1/events with the database down', () => {
  it('answers 503 with Retry-After, and /readyz says not ready', async () => {
    // A PostgreSQL URL where nothing listens: every query fails to connect.
    const store = new PostgresStore('postgres://vigil@127.0.0.1:1/none', { connectTimeoutMs: 2000 });
    const app = await buildApp({ store, log: pino({ level: 'silent' }), localKey: 'vgl_local-test-key' });
    try {
      const auth = { authorization: 'Bearer vgl_local-test-key' };
      const r = await app.inject({ method: 'POST', url: '/v1/events', headers: auth, payload: ev.created('down') });
      assert.equal(r.statusCode, 503);
      assert.equal(r.headers['retry-after'], '2');
      assert.equal(JSON.parse(r.body).code, 50301);
      const q = await app.inject({ method: 'GET', url: '/v1/events', headers: auth });
      assert.equal(q.statusCode, 503);
      assert.equal(JSON.parse(q.body).code, 50301);
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      const live = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(live.statusCode, 200);
      // An unknown key cannot be checked either: 503, not 401.
      const unknown = await app.inject({ method: 'GET', url: '/v1/events', headers: { authorization: 'Bearer vgl_other' } });
      assert.equal(unknown.statusCode, 503);
    } finally {
      await app.close();
      await store.close();
    }
    assert.deepEqual(await remainingHandles(), []);
  });
});

describe('POST /v1/events while the server closes', () => {
  it('answers 503 (50302) with Retry-After to requests arriving once closing began', async () => {
    const h = await startHarness(BACKENDS[0]);
    const key = await h.key(['ingest']);
    const before = await countLogs(h.store);
    const closing = h.app.close();
    const r = await h.app.inject({ method: 'POST', url: '/v1/events', headers: { authorization: `Bearer ${key}` }, payload: ev.created('late') });
    assert.equal(r.statusCode, 503);
    assert.equal(r.headers['retry-after'], '2');
    assert.equal(JSON.parse(r.body).code, 50302);
    await closing;
    assert.equal(await countLogs(h.store), before);
    await h.close();
    assert.deepEqual(await remainingHandles(), []);
  });
});
