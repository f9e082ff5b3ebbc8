/**
 * Several processes on one PostgreSQL: two servers (each its own hub) and a worker (a hub without
 * clients). Whatever any of them publishes reaches the stream clients of every server, once.
 */
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { InAppChannel } from '../../src/channels/inapp.js';
import { WebSocketChannel } from '../../src/channels/websocket.js';
import { createKey } from '../../src/http/apiKeys.js';
import { buildApp, type VigilApp } from '../../src/http/app.js';
import { StreamHub } from '../../src/http/stream/hub.js';
import { inboxChannels, type InboxChannels } from '../../src/notifications/inboxChannels.js';
import { createUser } from '../../src/notifications/users.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, openTestStore } from '../helpers/stores.js';
import { http, remainingHandles } from './harness.js';
import { notification, StreamClient, type Msg } from './streamClient.js';

const pgBackend = BACKENDS.find((b) => b.name === 'postgres')!;
const settle = () => new Promise((r) => setTimeout(r, 250));

describe('the stream across processes (LISTEN/NOTIFY)', { skip: pgBackend.skip }, () => {
  let env: Awaited<ReturnType<typeof pgBackend.setup>>;
  let stores: Store[];
  let hubs: StreamHub[];
  let apps: VigilApp[];
  let urls: string[];
  let worker: StreamHub;
  let inbox: InboxChannels;
  const clients: StreamClient[] = [];

  before(async () => {
    env = await pgBackend.setup();
    stores = [await openTestStore(env), await openTestStore(env), await openTestStore(env)];
    const log = pino({ level: 'silent' });
    hubs = [new StreamHub({ store: stores[0], log }), new StreamHub({ store: stores[1], log })];
    worker = new StreamHub({ store: stores[2], log });
    for (const hub of [...hubs, worker]) await hub.start();
    apps = [await buildApp({ store: stores[0], log, hub: hubs[0] }), await buildApp({ store: stores[1], log, hub: hubs[1] })];
    urls = [];
    for (const app of apps) {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      urls.push(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
    }
    inbox = await inboxChannels(stores[2], worker);
  });
  after(async () => {
    for (const c of clients) await c.close();
    await inbox.close();
    for (const app of apps) await app.close();
    for (const hub of [...hubs, worker]) await hub.close();
    for (const s of stores) await s.close();
    await env.cleanup();
    assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
  });

  it('delivers what a worker or either server publishes to the clients of both servers, once', async () => {
    const alice = await createUser(stores[0], 'alice');
    const bob = await createUser(stores[0], 'bob');
    const readKey = (await createKey(stores[0], { name: 'reader', scopes: ['read'] })).key;
    const a = await StreamClient.open(urls[0], 'alice@1', alice.token);
    const b = await StreamClient.open(urls[1], 'bob@2', bob.token);
    const r = await StreamClient.open(urls[1], 'reader@2', readKey, { header: true });
    clients.push(a, b, r);
    for (const c of clients) await c.welcome();

    // The worker stores an in-app notification for alice: she sees it live on server 1; no one else does.
    const sent = await new InAppChannel(stores[2], worker).send(notification({ title: 'inbox for alice' }), { channel: 'in_app', address: alice.id });
    assert.equal(sent.outcome, 'ok');
    await a.next((m) => m.type === 'notification');

    // The worker's websocket channel: everyone, on both servers.
    await new WebSocketChannel(worker).send(notification({ title: 'from the worker' }), { channel: 'websocket', address: '*' });
    // Server 1's own hub: its clients directly, server 2's through the relay.
    await new WebSocketChannel(hubs[0]).send(notification({ title: 'from server 1' }), { channel: 'websocket', address: '*' });
    // Too large for NOTIFY: the context is dropped on the way, the rest arrives.
    await new WebSocketChannel(hubs[1]).send(notification({ title: 'large', context: { blob: 'x'.repeat(20_000) } }), { channel: 'websocket', address: '*' });

    for (const c of clients) await c.next((m) => m.data?.title === 'large');
    await settle();
    // Exactly once each; the order between publishers is not defined (local delivery is immediate, relayed is not).
    const titles = (c: StreamClient) => c.payload().map((m: Msg) => `${m.type}:${String(m.data?.title)}`).sort();
    const everyone = ['intervention:from server 1', 'intervention:from the worker', 'intervention:large'];
    assert.deepEqual(titles(a), [...everyone, 'notification:inbox for alice']);
    assert.deepEqual(titles(b), everyone);
    assert.deepEqual(titles(r), everyone);
    const large = (c: StreamClient) => c.payload().find((m) => m.data?.title === 'large')!.data!;
    assert.deepEqual(large(a).context, { truncated: true }, 'relayed: context dropped');
    assert.equal((large(b).context as { blob: string }).blob.length, 20_000, 'local: complete');
  });

  it('reloads the worker’s push targets when a user subscribes on a server', async () => {
    assert.equal(inbox.get('push')!.targets().length, 0);
    const carol = await createUser(stores[0], 'carol');
    const ua = createECDH('prime256v1');
    ua.generateKeys();
    const sub = { endpoint: `https://push.example.com/${randomBytes(6).toString('hex')}`, keys: { p256dh: ua.getPublicKey('base64url'), auth: randomBytes(16).toString('base64url') } };
    assert.equal((await http(`${urls[0]}/v1/push/subscriptions`, { key: carol.token, json: sub })).status, 201);
    for (let i = 0; i < 50 && inbox.get('push')!.targets().length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(inbox.get('push')!.targets().length, 1);
  });
});
