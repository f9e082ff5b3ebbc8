import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { buildApp, type VigilApp } from '../../src/http/app.js';
import { createKey, type Scope } from '../../src/http/apiKeys.js';
import { MemoryDeliveryRecorder } from '../../src/interventions/deliveries.js';
import { InterventionService } from '../../src/interventions/service.js';
import { createInterventionClient, InterventionClientError } from '../../src/sdk/interventions.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';
import { http, remainingHandles } from './harness.js';

type J = Record<string, unknown>;
const silent = pino({ level: 'silent' });

for (const backend of BACKENDS) {
  describe(`interventions API on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.setup>>;
    let store: Store;
    let svc: InterventionService;
    let app: VigilApp;
    let url: string;
    const recorder = new MemoryDeliveryRecorder();
    const keys: Record<string, string> = {};
    const key = async (name: string, scopes: Scope[]) => (keys[name] = (await createKey(store, { name, scopes })).key);

    before(async () => {
      env = await backend.setup();
      store = await openTestStore(env);
      svc = new InterventionService({ store, logger: silent, recorder });
      app = await buildApp({ store, log: silent, interventions: svc });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      await key('ops', ['respond']);
      await key('reader', ['read']);
      await key('boss', ['admin']);
    });
    after(async () => {
      await app.close();
      await svc.close();
      await store.close();
      await env.cleanup();
      assert.deepEqual(await remainingHandles(), []);
    });

    const post = (path: string, json: unknown, k = keys.ops) => http(url + path, { key: k, json });
    const get = (path: string, k = keys.reader) => http(url + path, { key: k });

    it('refuses a missing key (401), a key without respond (403 naming it) and bad bodies (400)', async () => {
      const task = { task: { id: 't-refuse', confidence: 0.2 } };
      const none = await http(url + '/v1/interventions/check', { json: task });
      assert.equal(none.status, 401);
      assert.equal(none.body.code, 40101);
      assert.match(none.body.error as string, /"respond" scope/);
      const wrong = await post('/v1/interventions/check', task, keys.reader);
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.code, 40301);
      assert.match(wrong.body.error as string, /lacks the "respond" scope/);
      for (const [path, body] of [
        ['/v1/interventions/check', { task: { id: 't', confidence: 2 } }],
        ['/v1/interventions/check', { task: { id: 't', colour: 'red' } }],
        ['/v1/interventions/check', { context: {} }],
        ['/v1/interventions', { level: 'HIGH', title: 'x' }],
        ['/v1/interventions', { level: 'URGENT' }],
        ['/v1/silences', { matchers: [] }],
      ] as const) {
        const r = await post(path, body);
        assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.body.code, 40006, r.text);
      }
      const silence = await post('/v1/silences', { matchers: [{ field: 'nope', value: 1 }], duration: '1h' });
      assert.equal(silence.status, 400);
      assert.equal(silence.body.code, 40010, silence.text);
      assert.ok((silence.body.problems as string[]).some((p) => /matchers\[0\]\.field/.test(p)), silence.text);
      const past = await post('/v1/silences', { matchers: [{ field: 'level', value: 'INFO' }], ends_at: '2000-01-01T00:00:00Z' });
      assert.equal(past.body.code, 40010);
      assert.match(past.body.error as string, /already in the past/);
      assert.equal((await post('/v1/thresholds', {}, keys.boss)).status, 404);
    });

    it('check: a dry run opens nothing; otherwise it opens the task\'s intervention, then adds occurrences', async () => {
      const body = { task: { id: 'loan-7', text: 'Review the loan contract', priority: 'critical', confidence: 0.5 }, context: { budget_used: 12 } };
      const dry = await post('/v1/interventions/check', { ...body, dry_run: true });
      assert.equal(dry.status, 200, dry.text);
      assert.equal(dry.body.needed, true);
      assert.equal(dry.body.level, 'URGENT');
      assert.deepEqual((dry.body.reasons as J[]).map((r) => [r.code, r.level]), [['LOW_CONFIDENCE', 'WARNING'], ['CRITICAL_PRIORITY', 'URGENT'], ['COMPLIANCE_CHECK', 'WARNING']]);
      assert.equal(dry.body.intervention, null);
      assert.deepEqual(dry.body.facts, { error_count: 0, budget_used: 12 });
      assert.equal((await get('/v1/interventions?task_id=loan-7')).body.interventions instanceof Array, true);
      assert.deepEqual((await get('/v1/interventions?task_id=loan-7')).body.interventions, []);

      const real = await post('/v1/interventions/check', body);
      const i = real.body.intervention as J;
      assert.equal(real.body.created, true);
      assert.equal(i.status, 'open');
      assert.equal(i.level, 'URGENT');
      assert.equal(i.dedupe_key, 'task:loan-7');
      assert.deepEqual(i.reasons, ['LOW_CONFIDENCE', 'CRITICAL_PRIORITY', 'COMPLIANCE_CHECK']);
      const again = await post('/v1/interventions/check', body);
      assert.equal(again.body.created, false);
      assert.equal((again.body.intervention as J).id, i.id);
      assert.equal((again.body.intervention as J).occurrences, 2);
      const fine = await post('/v1/interventions/check', { task: { id: 'fine', confidence: 0.99 } });
      assert.deepEqual([fine.body.needed, fine.body.level, fine.body.reasons, fine.body.intervention], [false, null, [], null]);
    });

    it('open by hand, list with filters and pages, show with occurrences, notifications and deliveries', async () => {
      const opened = await post('/v1/interventions', { level: 'CRITICAL', title: 'Agent looping', task_id: 'loop-1', context: { team: 'ml' } });
      assert.equal(opened.status, 201, opened.text);
      const i = opened.body.intervention as J;
      assert.deepEqual([i.level, i.source, i.reasons, (i.context as J).opened_by, (i.context as J).team], ['CRITICAL', 'manual', ['MANUAL'], 'ops', 'ml']);
      const same = await post('/v1/interventions', { level: 'CRITICAL', title: 'Agent looping', task_id: 'loop-1' });
      assert.equal(same.status, 200);
      assert.equal((same.body.intervention as J).occurrences, 2);

      const crit = await get('/v1/interventions?level=CRITICAL&status=open');
      assert.deepEqual((crit.body.interventions as J[]).map((x) => x.id), [i.id]);
      const p1 = await get('/v1/interventions?limit=1');
      assert.equal((p1.body.interventions as J[]).length, 1);
      assert.equal(typeof p1.body.next_cursor, 'string');
      const p2 = await get(`/v1/interventions?limit=1&cursor=${p1.body.next_cursor as string}`);
      assert.notEqual((p2.body.interventions as J[])[0].id, (p1.body.interventions as J[])[0].id);
      assert.equal((await get('/v1/interventions?cursor=bm9wZQ')).body.code, 40005);
      assert.equal((await get('/v1/interventions?status=closed')).body.code, 40004);
      assert.equal((await get('/v1/interventions', keys.ops)).status, 403, 'respond alone does not read');

      const shown = await get(`/v1/interventions/${i.id as string}`);
      assert.equal(shown.status, 200, shown.text);
      assert.equal((shown.body.intervention as J).id, i.id);
      assert.equal((shown.body.occurrences as J[]).length, 2);
      const [n] = shown.body.notifications as J[];
      assert.equal(n.reason, 'first_time');
      assert.deepEqual(n.channels, ['email', 'slack', 'sms', 'websocket', 'push', 'discord', 'in_app']);
      assert.deepEqual((shown.body.deliveries as J[]).map((d) => d.channel).sort(), ['discord', 'email', 'in_app', 'push', 'slack', 'sms', 'websocket']);
      const missing = await get('/v1/interventions/0190a5c2-0000-7000-8000-000000000000');
      assert.deepEqual([missing.status, missing.body.code], [404, 40410]);
      assert.deepEqual([(await get('/v1/interventions/not-a-uuid')).status, (await get('/v1/interventions/not-a-uuid')).body.code], [400, 40004]);
    });

    it('ack then resolve: who and when recorded, idempotent, a resolved one cannot be acknowledged, a new trigger opens a new one', async () => {
      const { body } = await post('/v1/interventions', { level: 'URGENT', title: 'Payment stuck', task_id: 'pay-1' });
      const id = (body.intervention as J).id as string;
      assert.equal((await http(`${url}/v1/interventions/${id}/ack`, { key: keys.reader, method: 'POST', json: {} })).status, 403);
      const acked = await post(`/v1/interventions/${id}/ack`, {});
      assert.equal(acked.status, 200, acked.text);
      assert.deepEqual([acked.body.status, acked.body.acknowledged_by], ['acknowledged', 'ops']);
      const noBody = await http(`${url}/v1/interventions/${id}/ack`, { key: keys.boss, method: 'POST' });
      assert.equal(noBody.status, 200, noBody.text);
      assert.equal(noBody.body.acknowledged_by, 'ops', 'acknowledging twice changes nothing');
      const resolved = await post(`/v1/interventions/${id}/resolve`, { note: 'restarted the worker' }, keys.boss);
      assert.deepEqual([resolved.body.status, resolved.body.resolved_by], ['resolved', 'boss']);
      const late = await post(`/v1/interventions/${id}/ack`, {});
      assert.deepEqual([late.status, late.body.code], [409, 40910]);
      assert.equal((await post(`/v1/interventions/${id}/resolve`, {})).status, 200);
      const gone = await post('/v1/interventions/0190a5c2-0000-7000-8000-000000000000/resolve', {});
      assert.deepEqual([gone.status, gone.body.code], [404, 40410]);
      const { rows } = await store.query<{ event_type: string; m: J }>(
        "SELECT event_type, log_metadata AS m FROM logs WHERE log_metadata->>'intervention_id' = $1 ORDER BY seq",
        [id],
      );
      assert.deepEqual(rows.map((r) => [r.event_type, r.m.by ?? null]), [['intervention.triggered', null], ['intervention.acknowledged', 'ops'], ['intervention.resolved', 'boss']]);
      const reopened = await post('/v1/interventions', { level: 'URGENT', title: 'Payment stuck', task_id: 'pay-1' });
      assert.equal(reopened.status, 201);
      assert.notEqual((reopened.body.intervention as J).id, id);
    });

    it('silences: create, list, a silenced intervention is recorded but not sent, expire', async () => {
      recorder.take();
      const created = await post('/v1/silences', { matchers: [{ field: 'reasons', value: 'DISK_FULL' }], duration: '2h', comment: 'migration' });
      assert.equal(created.status, 201, created.text);
      const s = created.body;
      assert.deepEqual([s.created_by, s.comment, s.expired_at], ['ops', 'migration', null]);
      assert.equal(Date.parse(s.ends_at as string) - Date.parse(s.starts_at as string), 2 * 3_600_000);
      assert.deepEqual(((await get('/v1/silences')).body.silences as J[]).map((x) => x.id), [s.id]);
      assert.deepEqual(((await get('/v1/silences?active=true')).body.silences as J[]).map((x) => x.id), [s.id]);
      assert.equal((await get('/v1/silences', keys.ops)).status, 403);

      const muted = await post('/v1/interventions', { level: 'CRITICAL', title: 'Disk full', reasons: ['DISK_FULL'] });
      const shown = await get(`/v1/interventions/${(muted.body.intervention as J).id as string}`);
      assert.deepEqual((shown.body.notifications as J[])[0].silenced_by, [s.id]);
      assert.deepEqual(shown.body.deliveries, []);
      assert.deepEqual(recorder.take(), []);

      assert.equal((await http(`${url}/v1/silences/${s.id as string}`, { key: keys.reader, method: 'DELETE' })).status, 403);
      const expired = await http(`${url}/v1/silences/${s.id as string}`, { key: keys.ops, method: 'DELETE' });
      assert.equal(expired.status, 200, expired.text);
      assert.equal(expired.body.expired_by, 'ops');
      assert.deepEqual((await get('/v1/silences')).body.silences, []);
      assert.equal(((await get('/v1/silences?all=true')).body.silences as J[]).length, 1);
      const none = await http(`${url}/v1/silences/0190a5c2-0000-7000-8000-000000000000`, { key: keys.ops, method: 'DELETE' });
      assert.deepEqual([none.status, none.body.code], [404, 40411]);
      await post('/v1/interventions', { level: 'CRITICAL', title: 'Disk full again', reasons: ['DISK_FULL'], dedupe_key: 'disk-2' });
      assert.equal(recorder.take().length, 7, 'sent again once the silence expired');
    });

    it('thresholds: read with read, changed at run time with admin only, and the checks follow', async () => {
      const t = await get('/v1/thresholds');
      assert.equal(t.status, 200);
      assert.equal(t.body.confidence_threshold, 0.75);
      assert.equal(t.body.error_threshold, 3);
      const task = { task: { id: 'thr-1', confidence: 0.6 }, dry_run: true };
      assert.equal((await post('/v1/interventions/check', task)).body.needed, true);
      const refused = await http(`${url}/v1/thresholds`, { key: keys.ops, method: 'PUT', json: { confidence_threshold: 0.5 } });
      assert.equal(refused.status, 403);
      assert.match(refused.body.error as string, /"admin" scope/);
      const bad = await http(`${url}/v1/thresholds`, { key: keys.boss, method: 'PUT', json: { confidence_threshold: 3 } });
      assert.deepEqual([bad.status, bad.body.code], [400, 40006]);
      const changed = await http(`${url}/v1/thresholds`, { key: keys.boss, method: 'PUT', json: { confidence_threshold: 0.5, compliance_keywords: ['Audit'] } });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual([changed.body.confidence_threshold, changed.body.compliance_keywords], [0.5, ['audit']]);
      try {
        assert.equal((await post('/v1/interventions/check', task)).body.needed, false, '0.6 is above the new threshold');
        const audit = await post('/v1/interventions/check', { task: { id: 'thr-2', text: 'yearly audit' }, dry_run: true });
        assert.deepEqual((audit.body.reasons as J[]).map((r) => r.code), ['COMPLIANCE_CHECK']);
      } finally {
        await http(`${url}/v1/thresholds`, { key: keys.boss, method: 'PUT', json: { confidence_threshold: 0.75, compliance_keywords: ['financial', 'legal', 'contract', 'compliance', 'regulatory'] } });
      }
    });

    it('task errors: recorded, counted, the third opens ERROR_THRESHOLD, reset forgets them', async () => {
      const rec = (m: string) => post('/v1/tasks/job-9/errors', { message: m, type: 'TimeoutError' });
      const a = await rec('first');
      assert.equal(a.status, 201, a.text);
      assert.deepEqual([a.body.error_count, a.body.interventions], [1, []]);
      await rec('second');
      const c = await rec('third');
      assert.equal(c.body.error_count, 3);
      assert.equal((c.body.interventions as string[]).length, 1);
      const shown = await get(`/v1/interventions/${(c.body.interventions as string[])[0]}`);
      assert.deepEqual([(shown.body.intervention as J).level, (shown.body.intervention as J).reasons], ['URGENT', ['ERROR_THRESHOLD']]);
      assert.equal((await get('/v1/tasks/job-9/errors')).body.error_count, 3);
      assert.equal((await post('/v1/tasks/job-9/errors', { message: 'x' }, keys.reader)).status, 403);
      assert.equal((await post('/v1/tasks/job-9/errors', { type: 'x' })).body.code, 40006);
      const reset = await http(`${url}/v1/tasks/job-9/errors`, { key: keys.ops, method: 'DELETE' });
      assert.deepEqual(reset.body, { task_id: 'job-9', forgotten: 3 });
      assert.equal((await get('/v1/tasks/job-9/errors')).body.error_count, 0);
    });

    it('the SDK client does the same over HTTP, and its errors carry status and code', async () => {
      const c = createInterventionClient({ url, apiKey: keys.ops });
      const r = await c.check({ id: 'sdk-1', confidence: 0.1, requires_review: true });
      assert.deepEqual([r.needed, r.level, r.reasons.map((x) => x.code), r.created], [true, 'WARNING', ['LOW_CONFIDENCE', 'MANUAL_REVIEW'], true]);
      const dry = await c.check({ id: 'sdk-2', confidence: 0.1 }, {}, { dry_run: true });
      assert.equal(dry.intervention, null);
      const o = await c.open({ level: 'INFO', title: 'FYI', task_id: 'sdk-3' });
      assert.equal(o.created, true);
      assert.equal((await c.ack(o.intervention.id)).status, 'acknowledged');
      assert.equal((await c.resolve(o.intervention.id, 'done')).resolved_by, 'ops');
      await c.recordError('sdk-4', new RangeError('a'));
      await c.recordError('sdk-4', 'b');
      const third = await c.recordError('sdk-4', { message: 'c', type: 'X' });
      assert.equal(third.error_count, 3);
      assert.equal(third.interventions.length, 1);
      assert.equal(await c.resetErrorCount('sdk-4'), 3);
      const s = await c.addSilence({ matchers: [{ field: 'task_id', value: 'sdk-5' }], duration: '10m' });
      assert.equal((await c.expireSilence(s.id)).expired_by, 'ops');

      const reader = createInterventionClient({ url, apiKey: keys.reader });
      assert.equal((await reader.list({ task_id: 'sdk-1' })).interventions[0].id, r.intervention!.id);
      assert.equal((await reader.get(r.intervention!.id))!.occurrences.length, 1);
      assert.equal(await reader.get('0190a5c2-0000-7000-8000-000000000000'), null);
      assert.equal(await reader.errorCount('sdk-4'), 0);
      assert.equal((await reader.thresholds()).error_threshold, 3);
      await assert.rejects(reader.ack(r.intervention!.id), (err: unknown) => {
        assert.ok(err instanceof InterventionClientError);
        assert.deepEqual([err.status, err.code], [403, 40301]);
        assert.match(err.message, /respond/);
        return true;
      });
      await assert.rejects(c.updateThresholds({ error_threshold: 5 }), (err: unknown) => err instanceof InterventionClientError && err.status === 403);
      const down = createInterventionClient({ url: 'http://127.0.0.1:1', apiKey: keys.ops });
      await assert.rejects(down.list(), (err: unknown) => err instanceof InterventionClientError && err.status === 0 && !err.message.includes(keys.ops));
      assert.throws(() => createInterventionClient({ url: 'ftp://x', apiKey: 'k' }), /url: expected an http/);
    });

    it('documents every new route in the OpenAPI document with its scope', async () => {
      const doc = (await http(`${url}/openapi.json`)).body as { paths: Record<string, Record<string, { description?: string }>> };
      for (const [path, method, scope] of [
        ['/v1/interventions/check', 'post', 'respond'],
        ['/v1/interventions', 'get', 'read'],
        ['/v1/interventions/{id}/ack', 'post', 'respond'],
        ['/v1/silences/{id}', 'delete', 'respond'],
        ['/v1/thresholds', 'put', 'admin'],
        ['/v1/tasks/{task_id}/errors', 'post', 'respond'],
      ]) {
        assert.match(doc.paths[path]?.[method]?.description ?? '', new RegExp(`\`${scope}\` scope`), `${method} ${path}`);
      }
    });
  });
}
