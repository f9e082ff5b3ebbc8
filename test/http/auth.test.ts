import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from '../helpers/stores.js';
import { ev, http, remainingHandles, startHarness, type Harness } from './harness.js';

const LOCAL_KEY = 'vgl_local-key-for-tests-0123456789abcdefghijklmnop';

for (const backend of BACKENDS) {
  describe(`keys, scopes and limits on ${backend.name}`, { skip: backend.skip }, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness(backend, { localKey: LOCAL_KEY, rateLimitPerMinute: 1000 });
    });
    after(async () => {
      await h.close();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });

    it('answers 401 without a key, with an unknown key, or a malformed header, saying which', async () => {
      const none = await http(`${h.url}/v1/events`);
      assert.equal(none.status, 401);
      assert.equal(none.body.code, 40101);
      assert.match(String(none.body.error), /Authorization: Bearer <key>.*"read" scope/);
      const unknown = await http(`${h.url}/v1/events`, { key: 'vgl_not-a-key' });
      assert.equal(unknown.status, 401);
      assert.equal(unknown.body.code, 40102);
      assert.doesNotMatch(unknown.text, /not-a-key/, 'the key is not echoed');
      const basic = await http(`${h.url}/v1/events`, { headers: { authorization: 'Basic dTpw' } });
      assert.equal(basic.status, 401);
      assert.equal(basic.body.code, 40103);
      const ingest = await http(`${h.url}/v1/events`, { json: ev.created('x') });
      assert.equal(ingest.status, 401);
      assert.match(String(ingest.body.error), /"ingest" scope/);
    });

    it('answers 403 when the key lacks the scope, naming the key, the scope and what it has', async () => {
      const ingestOnly = await h.key(['ingest']);
      const r = await http(`${h.url}/v1/events`, { key: ingestOnly });
      assert.equal(r.status, 403);
      assert.equal(r.body.code, 40301);
      assert.match(String(r.body.error), /"test ingest" lacks the "read" scope .*\(it has: ingest\)/);
      const readOnly = await h.key(['read']);
      const w = await http(`${h.url}/v1/events`, { key: readOnly, json: ev.created('x') });
      assert.equal(w.status, 403);
      assert.match(String(w.body.error), /"ingest" scope/);
      const keys = await http(`${h.url}/v1/keys`, { key: readOnly });
      assert.equal(keys.status, 403);
      assert.match(String(keys.body.error), /"admin" scope/);
      const stats = await http(`${h.url}/v1/stats/costs`, { key: ingestOnly });
      assert.equal(stats.status, 403);
    });

    it('lets admin keys do everything', async () => {
      assert.equal((await http(`${h.url}/v1/events`, { key: h.adminKey, json: ev.created('admin') })).status, 200);
      assert.equal((await http(`${h.url}/v1/events`, { key: h.adminKey })).status, 200);
      assert.equal((await http(`${h.url}/v1/keys`, { key: h.adminKey })).status, 200);
    });

    it('creates, lists and revokes keys over HTTP; a revoked key is refused at once', async () => {
      const created = await http(`${h.url}/v1/keys`, { key: h.adminKey, json: { name: 'collector', scopes: ['ingest', 'read'] } });
      assert.equal(created.status, 201);
      const key = String(created.body.key);
      assert.match(key, /^vgl_[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(created.body.scopes, ['ingest', 'read']);
      assert.equal((await http(`${h.url}/v1/events`, { key })).status, 200);
      const list = await http(`${h.url}/v1/keys`, { key: h.adminKey });
      const listed = (list.body.keys as Record<string, unknown>[]).find((k) => k.id === created.body.id)!;
      assert.equal(listed.name, 'collector');
      assert.equal(listed.prefix, key.slice(0, 10));
      assert.ok(!list.text.includes(key), 'keys are never listed');
      const { rows } = await h.store.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE id = $1', [created.body.id]);
      assert.match(rows[0].key_hash, /^[0-9a-f]{64}$/, 'stored hashed');
      assert.notEqual(rows[0].key_hash, key);
      const revoked = await http(`${h.url}/v1/keys/collector`, { method: 'DELETE', key: h.adminKey });
      assert.equal(revoked.status, 200);
      assert.ok(revoked.body.revoked_at);
      const after = await http(`${h.url}/v1/events`, { key });
      assert.equal(after.status, 401);
      assert.equal(after.body.code, 40102);
      const again = await http(`${h.url}/v1/keys/collector`, { method: 'DELETE', key: h.adminKey });
      assert.equal(again.status, 404);
      assert.equal(again.body.code, 40403);
      const bad = await http(`${h.url}/v1/keys`, { key: h.adminKey, json: { name: 'x', scopes: ['root'] } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 40006);
    });

    it('rate-limits per key with 429 and Retry-After; other keys are not affected', async () => {
      const limited = await h.key(['read'], 2);
      const other = await h.key(['read']);
      assert.equal((await http(`${h.url}/v1/events?limit=1`, { key: limited })).status, 200);
      assert.equal((await http(`${h.url}/v1/events?limit=1`, { key: limited })).status, 200);
      const r = await http(`${h.url}/v1/events?limit=1`, { key: limited });
      assert.equal(r.status, 429);
      assert.equal(r.body.code, 42901);
      assert.match(String(r.body.error), /at most 2 per minute/);
      assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal((await http(`${h.url}/v1/events?limit=1`, { key: other })).status, 200);
    });

    it('accepts the local CLI key from loopback, with every scope and no rate limit', async () => {
      for (let i = 0; i < 3; i++) assert.equal((await http(`${h.url}/v1/keys`, { key: LOCAL_KEY })).status, 200);
      const remote = await h.app.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '10.1.2.3', headers: { authorization: `Bearer ${LOCAL_KEY}` } });
      assert.equal(remote.statusCode, 403);
      assert.equal(JSON.parse(remote.body).code, 40302);
    });

    it('serves health, readiness, OpenAPI and the reference without a key', async () => {
      assert.deepEqual((await http(`${h.url}/healthz`)).body, { status: 'ok' });
      const ready = await http(`${h.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(ready.body.store, backend.name);
      const spec = await http(`${h.url}/openapi.json`);
      assert.equal(spec.status, 200);
      assert.equal(spec.body.openapi, '3.1.0');
      const paths = spec.body.paths as Record<string, Record<string, Record<string, unknown>>>;
      for (const p of ['/v1/events', '/v1/events/export', '/v1/events/{id}', '/v1/stats/{name}', '/v1/keys', '/v1/stream', '/healthz', '/readyz']) assert.ok(paths[p], p);
      assert.deepEqual(paths['/v1/events'].post.security, [{ bearerAuth: [] }]);
      assert.equal(paths['/healthz'].get.security, undefined);
      // The WebSocket stream is described too, though its plugin hides its route.
      assert.deepEqual(paths['/v1/stream'].get.security, [{ bearerAuth: [] }]);
      assert.ok(paths['/v1/stream'].get.responses);
      // The ingest body schema comes from the catalogue: every event type is in it.
      const body = JSON.stringify(paths['/v1/events'].post.requestBody);
      for (const t of ['task_created', 'model_called', 'cache_operation', 'tokens_used']) assert.ok(body.includes(t), t);
      const docs = await http(`${h.url}/docs/`);
      assert.equal(docs.status, 200);
      assert.match(docs.text, /swagger/i);
    });

    it('answers unknown endpoints with the catalogue 404', async () => {
      const r = await http(`${h.url}/v2/nothing`);
      assert.equal(r.status, 404);
      assert.equal(r.body.code, 40401);
      assert.match(String(r.body.error), /GET \/v2\/nothing/);
    });
  });
}
