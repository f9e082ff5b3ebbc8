import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InAppChannel } from '../../src/channels/inapp.js';
import { WebSocketChannel } from '../../src/channels/websocket.js';
import { createUser } from '../../src/notifications/users.js';
import { createKey, revokeKey } from '../../src/http/apiKeys.js';
import { StreamHub } from '../../src/http/stream/hub.js';
import { BACKENDS } from '../helpers/stores.js';
import { ev, http, remainingHandles, startHarness, type Harness } from './harness.js';
import { notification, StreamClient } from './streamClient.js';

for (const backend of BACKENDS) {
  describe(`the WebSocket stream on ${backend.name}`, { skip: backend.skip }, () => {
    let h: Harness;
    let hub: StreamHub;
    const clients: StreamClient[] = [];
    const open = async (...args: Parameters<typeof StreamClient.open>) => {
      const c = await StreamClient.open(...args);
      clients.push(c);
      return c;
    };

    before(async () => {
      hub = new StreamHub({ heartbeatMs: 250, maxQueueBytes: 64 * 1024, authTimeoutMs: 300, recheckMs: 100 });
      await hub.start();
      h = await startHarness(backend, { hub, rateLimitPerMinute: 0, keyCacheTtlMs: 50 });
    });
    after(async () => {
      for (const c of clients) await c.close();
      await h.close();
      await hub.close();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });

    it('sends each client exactly what its key or user may see', async () => {
      const alice = await createUser(h.store, 'alice');
      const bob = await createUser(h.store, 'bob');
      const readKey = await h.key(['read']);
      const ingestKey = await h.key(['ingest']);

      const a = await open(h.url, 'alice', alice.token, { header: true });
      const b = await open(h.url, 'bob', bob.token); // first-message auth, as a browser does
      const reader = await open(h.url, 'reader', readKey, { header: true });
      const tail = await open(h.url, 'tail', readKey); // first-message auth
      for (const c of [a, b, reader, tail]) await c.welcome();
      assert.equal(((await a.welcome()).principal as { user_id: string }).user_id, alice.id);
      assert.equal(((await reader.welcome()).principal as { user_id: string | null }).user_id, null);

      tail.send({ type: 'subscribe', events: true, event_type: ['task_created'] });
      assert.deepEqual((await tail.next((m) => m.type === 'subscribed')).filter, { event_type: ['task_created'] });
      b.send({ type: 'subscribe', events: true });
      assert.match(String((await b.next((m) => m.type === 'error')).error), /only streamed to API keys with the "read" scope/);

      // An intervention to everyone, an in-app notification for alice only, two events.
      const n = notification();
      const ws = new WebSocketChannel(hub);
      assert.equal((await ws.send(n, { channel: 'websocket', address: '*' })).outcome, 'ok');
      const inApp = new InAppChannel(h.store, hub);
      const sent = await inApp.send(notification({ title: 'for alice' }), { channel: 'in_app', address: alice.id });
      assert.equal(sent.outcome, 'ok');
      const posted = await http(`${h.url}/v1/events`, { key: ingestKey, json: { events: [ev.created('t1'), ev.model('gpt-4o')] } });
      assert.equal(posted.status, 200);

      for (const c of [a, b, reader, tail]) await c.sync();
      const kinds = (c: StreamClient) => c.payload().map((m) => `${m.type}:${String(m.data?.title ?? m.data?.event_type)}`);
      assert.deepEqual(kinds(a), [`intervention:${n.title}`, 'notification:for alice']);
      assert.deepEqual(kinds(b), ['error:undefined', `intervention:${n.title}`]);
      assert.deepEqual(kinds(reader), [`intervention:${n.title}`]);
      assert.deepEqual(kinds(tail), [`intervention:${n.title}`, 'event:task_created']);

      const alert = a.payload()[0].data!;
      assert.equal(alert.event_type, 'intervention_alert');
      assert.equal(alert.id, n.intervention_id);
      assert.equal(alert.status, 'open');
      assert.equal(alert.task_id, 'task_42');
      assert.equal(alert.level, 'URGENT');
      assert.equal(alert.reason, 'ERROR_THRESHOLD');
      assert.deepEqual(alert.context, { error_count: 3 });
      assert.equal(typeof alert.timestamp, 'string');
      const inbox = a.payload()[1].data!;
      assert.equal(inbox.user_id, alice.id);
      assert.equal(inbox.notification_type, 'intervention_urgent');
      assert.equal(inbox.is_read, false);

      // An intervention addressed to bob reaches bob only.
      await ws.send(notification({ title: 'for bob' }), { channel: 'websocket', address: bob.id });
      for (const c of [a, b, reader, tail]) await c.sync();
      assert.equal(b.payload().at(-1)?.data?.title, 'for bob');
      for (const c of [a, reader, tail]) assert.ok(!c.payload().some((m) => m.data?.title === 'for bob'), c.label);

      // Unsubscribing stops events.
      tail.send({ type: 'subscribe', events: false });
      await tail.next((m) => m.type === 'subscribed' && m.events === false);
      await http(`${h.url}/v1/events`, { key: ingestKey, json: ev.created('t2') });
      await tail.sync();
      assert.equal(tail.payload().filter((m) => m.type === 'event').length, 1);
      for (const c of [a, b, reader, tail]) await c.close();
    });

    it('refuses keys without read, unknown tokens, and a first message that is not auth', async () => {
      const ingestKey = await h.key(['ingest']);
      await assert.rejects(StreamClient.open(h.url, 'ingest-header', ingestKey, { header: true }), (e: Error & { status?: number }) => e.status === 403);
      await assert.rejects(StreamClient.open(h.url, 'bad-header', 'vgl_nope', { header: true }), (e: Error & { status?: number }) => e.status === 401);

      const ingest = await open(h.url, 'ingest-msg', ingestKey);
      assert.equal((await ingest.closed).code, 4403);
      assert.match(String(ingest.messages[0]?.error), /lacks the "read" scope/);
      const unknown = await open(h.url, 'unknown', 'vgu_not-a-token');
      assert.equal((await unknown.closed).code, 4401);
      assert.doesNotMatch(JSON.stringify(unknown.messages), /not-a-token/, 'the token is not echoed');
      const rude = await open(h.url, 'rude', null);
      rude.send({ type: 'subscribe', events: true });
      assert.equal((await rude.closed).code, 4401);
      const mute = await open(h.url, 'mute', null);
      assert.equal((await mute.closed).code, 4408, 'no auth message in time');
      const garbage = await open(h.url, 'garbage', null);
      garbage.ws.send('not json');
      assert.equal((await garbage.closed).code, 4400);

      // Nothing published reaches a client that has not authenticated.
      const waiting = await open(h.url, 'waiting', null);
      await new WebSocketChannel(hub).send(notification(), { channel: 'websocket', address: '*' });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(waiting.messages, []);
    });

    it('ends the open streams of a key when it is revoked, and of a user token when it is revoked', async () => {
      const { key, id } = await createKey(h.store, { name: 'revoked while streaming', scopes: ['read'] });
      const viaHeader = await open(h.url, 'revoked-header', key, { header: true });
      const viaMessage = await open(h.url, 'revoked-msg', key);
      const other = await open(h.url, 'other', await h.key(['read']));
      await viaMessage.next(() => viaMessage.messages.some((m) => m.type === 'welcome'));
      await revokeKey(h.store, id);
      for (const c of [viaHeader, viaMessage]) {
        const closed = await c.closed;
        assert.equal(closed.code, 4401);
        assert.match(String(c.messages.at(-1)?.error), /unknown or revoked/);
      }
      const user = await createUser(h.store, 'streaming-user');
      const mine = await open(h.url, 'user', user.token);
      await mine.next(() => mine.messages.some((m) => m.type === 'welcome'));
      await h.store.query('UPDATE user_tokens SET revoked_at = now() WHERE user_id = $1', [user.id]);
      assert.equal((await mine.closed).code, 4401);
      // A stream whose key is still valid stays open.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(other.ws.readyState, other.ws.OPEN);
      await other.close();
    });

    it('terminates a client that stops answering heartbeats', async () => {
      const readKey = await h.key(['read']);
      const before = hub.clientCount;
      const silent = await open(h.url, 'silent', readKey, { header: true, autoPong: false });
      await silent.welcome();
      assert.equal(hub.clientCount, before + 1);
      const closed = await silent.closed;
      assert.equal(closed.code, 1006, 'terminated without a close frame');
      assert.equal(hub.clientCount, before);
    });

    it('drops a client that cannot keep up with a clear close code', async () => {
      const readKey = await h.key(['read']);
      const slow = await open(h.url, 'slow', readKey, { header: true });
      await slow.welcome();
      const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      const droppedBefore = hub.dropped;
      const big = { blob: 'x'.repeat(256 * 1024) };
      const ws = new WebSocketChannel(hub);
      for (let i = 0; i < 400 && hub.dropped === droppedBefore; i++) {
        await ws.send(notification({ context: big }), { channel: 'websocket', address: '*' });
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(hub.dropped, droppedBefore + 1);
      socket.resume();
      const closed = await slow.closed;
      assert.ok(closed.code === 4008 || closed.code === 1006, `closed with ${closed.code}`);
      if (closed.code === 4008) assert.match(closed.reason, /too slow/);
    });
  });
}
