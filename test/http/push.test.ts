import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { vapidKeyProblem } from '../../src/channels/push/vapid.js';
import { inboxChannels, type InboxChannels } from '../../src/notifications/inboxChannels.js';
import type { ExtraChannel } from '../../src/outbox/assemble.js';
import { loadVapidKeys, pushTargets } from '../../src/notifications/pushSubscriptions.js';
import { createUser } from '../../src/notifications/users.js';
import { StreamHub } from '../../src/http/stream/hub.js';
import { BACKENDS } from '../helpers/stores.js';
import { http, remainingHandles, startHarness, type Harness } from './harness.js';

function subscription(host = 'push.example.com') {
  const ua = createECDH('prime256v1');
  ua.generateKeys();
  return {
    endpoint: `https://${host}/send/${randomBytes(8).toString('hex')}`,
    expirationTime: null,
    keys: { p256dh: ua.getPublicKey('base64url'), auth: randomBytes(16).toString('base64url') },
  };
}

for (const backend of BACKENDS) {
  describe(`Web Push opt-in on ${backend.name}`, { skip: backend.skip }, () => {
    let h: Harness;
    let hub: StreamHub;
    let inbox: InboxChannels;
    let alice: { id: string; token: string };
    let bob: { id: string; token: string };

    before(async () => {
      hub = new StreamHub();
      await hub.start();
      h = await startHarness(backend, { hub, rateLimitPerMinute: 0 });
      alice = await createUser(h.store, 'alice');
      bob = await createUser(h.store, 'bob');
      inbox = await inboxChannels(h.store, hub);
    });
    after(async () => {
      await inbox.close();
      await h.close();
      await hub.close();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });

    it('answers the VAPID public key made on first start, the same every time', async () => {
      const r = await http(`${h.url}/v1/push/vapid-public-key`, { key: alice.token });
      assert.equal(r.status, 200);
      const pub = String(r.body.public_key);
      assert.equal(Buffer.from(pub, 'base64url').length, 65);
      const stored = await loadVapidKeys(h.store);
      assert.equal(stored.publicKey, pub, 'stored, not made again');
      assert.equal(vapidKeyProblem(stored), null);
      assert.doesNotMatch(r.text, new RegExp(stored.privateKey), 'the private key is never answered');
      assert.equal((await http(`${h.url}/v1/push/vapid-public-key`)).status, 401);
    });

    it("adds and removes the signed-in user's subscriptions, which become push targets", async () => {
      const s1 = subscription();
      const added = await http(`${h.url}/v1/push/subscriptions`, { key: alice.token, json: s1 });
      assert.equal(added.status, 201);
      await http(`${h.url}/v1/push/subscriptions`, { key: bob.token, json: subscription() });
      const again = await http(`${h.url}/v1/push/subscriptions`, { key: alice.token, json: s1 });
      assert.equal(again.status, 201, 'the same endpoint twice is one subscription');

      const targets = await pushTargets(h.store, alice.id);
      assert.equal(targets.length, 1);
      assert.equal(targets[0].channel, 'push');
      assert.deepEqual(targets[0].options?.platform, 'webpush');
      assert.deepEqual(JSON.parse(targets[0].address), { endpoint: s1.endpoint, keys: s1.keys });
      assert.doesNotMatch(targets[0].name, /example\.com/, 'the target name does not reveal the endpoint');

      // The outbox's view follows (the route told the hub).
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(inbox.get('push')!.targets().length, 2);

      const bad = await http(`${h.url}/v1/push/subscriptions`, { key: alice.token, json: { ...s1, endpoint: 'http://push.example.com/x' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 40020);
      const badKeys = await http(`${h.url}/v1/push/subscriptions`, { key: alice.token, json: { ...s1, keys: { p256dh: 'AAAA', auth: 'AAAA' } } });
      assert.equal(badKeys.status, 400);
      const admin = await http(`${h.url}/v1/push/subscriptions`, { key: h.adminKey, json: subscription() });
      assert.equal(admin.status, 400, 'subscriptions belong to a user');
      const readKey = await h.key(['read']);
      assert.equal((await http(`${h.url}/v1/push/subscriptions`, { key: readKey, json: subscription() })).status, 403);

      // Bob cannot remove alice's subscription.
      // node:http sends a DELETE body unframed unless told its length (fetch in browsers does).
      const del = (key: string, endpoint: string) => {
        const body = JSON.stringify({ endpoint });
        return http(`${h.url}/v1/push/subscriptions`, { key, method: 'DELETE', body, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } });
      };
      const notHis = await del(bob.token, s1.endpoint);
      assert.deepEqual(notHis.body, { deleted: false }, notHis.text);
      const removed = await del(alice.token, s1.endpoint);
      assert.deepEqual(removed.body, { deleted: true });
      assert.equal((await pushTargets(h.store, alice.id)).length, 0);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(inbox.get('push')!.targets().length, 1);
    });

    it('offers the websocket, in_app and push channels for the outbox directory', async () => {
      // What the outbox takes as its extra channels (checked by the compiler).
      const extra: ReadonlyMap<string, ExtraChannel> = inbox;
      assert.deepEqual([...extra.keys()].sort(), ['in_app', 'push', 'websocket']);
      assert.deepEqual(inbox.get('websocket')!.targets().map((t) => [t.name, t.address]), [['all', '*']]);
      assert.deepEqual(inbox.get('in_app')!.targets().map((t) => [t.name, t.address]), [['all-users', '*']]);
      assert.equal(inbox.get('push')!.channel.name, 'push');
      const gone = inbox.get('push')!.targets()[0];
      await inbox.get('push')!.onTargetGone!(gone);
      assert.equal(inbox.get('push')!.targets().length, 0);
      assert.equal((await pushTargets(h.store)).length, 0);
    });
  });
}
