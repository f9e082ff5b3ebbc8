import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InAppChannel } from '../../src/channels/inapp.js';
import { BACKENDS } from '../helpers/stores.js';
import { http, remainingHandles, startHarness, type Harness } from './harness.js';
import { notification } from './streamClient.js';

for (const backend of BACKENDS) {
  describe(`users and the in-app inbox on ${backend.name}`, { skip: backend.skip }, () => {
    let h: Harness;
    let alice: { id: string; token: string };
    let bob: { id: string; token: string };
    let inApp: InAppChannel;

    before(async () => {
      h = await startHarness(backend, { rateLimitPerMinute: 0 });
      inApp = new InAppChannel(h.store);
    });
    after(async () => {
      await h.close();
      assert.deepEqual(await remainingHandles(), [], 'the test left sockets or servers open');
    });

    it('creates and lists users with an admin key; the token is shown once', async () => {
      const a = await http(`${h.url}/v1/users`, { key: h.adminKey, json: { name: 'alice' } });
      assert.equal(a.status, 201);
      assert.match(String(a.body.token), /^vgu_[A-Za-z0-9_-]{43}$/);
      alice = { id: a.body.id as string, token: a.body.token as string };
      const b = await http(`${h.url}/v1/users`, { key: h.adminKey, json: { name: 'bob' } });
      bob = { id: b.body.id as string, token: b.body.token as string };
      const dup = await http(`${h.url}/v1/users`, { key: h.adminKey, json: { name: 'alice' } });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.code, 40920);
      const list = await http(`${h.url}/v1/users`, { key: h.adminKey });
      assert.deepEqual((list.body.users as { name: string }[]).map((u) => u.name), ['alice', 'bob']);
      assert.doesNotMatch(list.text, /vgu_/, 'no token in the list');
      const readKey = await h.key(['read']);
      assert.equal((await http(`${h.url}/v1/users`, { key: readKey })).status, 403);
      // A second token works, and so does the first.
      const t2 = await http(`${h.url}/v1/users/alice/tokens`, { key: h.adminKey, method: 'POST' });
      assert.equal(t2.status, 201);
      assert.notEqual(t2.body.token, alice.token);
      for (const t of [alice.token, t2.body.token as string]) assert.equal((await http(`${h.url}/v1/notifications/unread-count`, { key: t })).status, 200);
      assert.equal((await http(`${h.url}/v1/users/nobody/tokens`, { key: h.adminKey, method: 'POST' })).status, 404);
    });

    it('refuses user tokens everywhere but their inbox, stream and push subscriptions (403)', async () => {
      for (const [method, path] of [
        ['GET', '/v1/events'],
        ['GET', '/v1/keys'],
        ['GET', '/v1/users'],
        ['GET', '/v1/stats/costs'],
      ]) {
        const r = await http(`${h.url}${path}`, { key: alice.token, method });
        assert.equal(r.status, 403, path);
        assert.equal(r.body.code, 40320, path);
      }
      const posted = await http(`${h.url}/v1/events`, { key: alice.token, json: { event_type: 'task_created', task_id: 't', task_type: 'x', created_by: 'u' } });
      assert.equal(posted.status, 403);
      const unknown = await http(`${h.url}/v1/notifications`, { key: 'vgu_unknown-token' });
      assert.equal(unknown.status, 401);
      assert.doesNotMatch(unknown.text, /unknown-token/);
    });

    it('stores one row per recipient with the seed columns; a retried delivery adds none', async () => {
      const n = notification({ level: 'CRITICAL', title: 'to everyone' });
      const all = await inApp.send(n, { channel: 'in_app', address: '*' });
      assert.equal(all.outcome, 'ok');
      assert.equal((await inApp.send(n, { channel: 'in_app', address: '*' })).status, '0 stored', 'a retry is idempotent');
      for (let i = 0; i < 4; i++) await inApp.send(notification({ title: `alice ${i}` }), { channel: 'in_app', address: 'alice' });
      const gone = await inApp.send(notification(), { channel: 'in_app', address: 'nobody' });
      assert.equal(gone.outcome, 'permanent');
      const { rows } = await h.store.query<Record<string, unknown>>('SELECT * FROM notifications WHERE title = $1 ORDER BY user_id', ['to everyone']);
      assert.equal(rows.length, 2);
      assert.equal(rows[0].notification_type, 'intervention_critical');
      assert.equal(rows[0].is_read, false);
      assert.equal(rows[0].read_at, null);
      assert.equal(rows[0].action_url, n.action_url);
      assert.deepEqual((rows[0].metadata as Record<string, unknown>).reasons, ['ERROR_THRESHOLD']);
      assert.equal((rows[0].metadata as Record<string, unknown>).intervention_id, n.intervention_id);
    });

    it('lists only the signed-in user’s notifications, newest first, with a cursor and the unread count', async () => {
      const first = await http(`${h.url}/v1/notifications?limit=2`, { key: alice.token });
      assert.equal(first.status, 200);
      const page1 = first.body.notifications as { id: string; title: string; user_id: string }[];
      assert.deepEqual(page1.map((x) => x.title), ['alice 3', 'alice 2']);
      assert.equal(first.body.unread_count, 5);
      const second = await http(`${h.url}/v1/notifications?limit=2&cursor=${String(first.body.next_cursor)}`, { key: alice.token });
      const third = await http(`${h.url}/v1/notifications?limit=2&cursor=${String(second.body.next_cursor)}`, { key: alice.token });
      assert.deepEqual((second.body.notifications as { title: string }[]).map((x) => x.title), ['alice 1', 'alice 0']);
      assert.deepEqual((third.body.notifications as { title: string }[]).map((x) => x.title), ['to everyone']);
      assert.equal(third.body.next_cursor, null);
      const bobs = await http(`${h.url}/v1/notifications`, { key: bob.token });
      assert.deepEqual((bobs.body.notifications as { title: string; user_id: string }[]).map((x) => [x.title, x.user_id]), [['to everyone', bob.id]]);
      assert.equal((await http(`${h.url}/v1/notifications?cursor=bogus`, { key: alice.token })).body.code, 40005);
    });

    it('marks read, one or all, only in its own inbox', async () => {
      const bobs = await http(`${h.url}/v1/notifications`, { key: bob.token });
      const bobsId = (bobs.body.notifications as { id: string }[])[0].id;
      const stolen = await http(`${h.url}/v1/notifications/${bobsId}/read`, { key: alice.token, method: 'POST' });
      assert.equal(stolen.status, 404);
      assert.equal(stolen.body.code, 40421);
      assert.equal((await http(`${h.url}/v1/notifications/unread-count`, { key: bob.token })).body.unread_count, 1);
      const other = await http(`${h.url}/v1/notifications?user_id=${bob.id}`, { key: alice.token });
      assert.equal(other.status, 403);

      const mine = (await http(`${h.url}/v1/notifications`, { key: alice.token })).body.notifications as { id: string }[];
      const read = await http(`${h.url}/v1/notifications/${mine[0].id}/read`, { key: alice.token, method: 'POST' });
      assert.equal(read.status, 200);
      assert.equal(read.body.is_read, true);
      assert.equal(typeof read.body.read_at, 'string');
      assert.equal((await http(`${h.url}/v1/notifications/unread-count`, { key: alice.token })).body.unread_count, 4);
      const unread = await http(`${h.url}/v1/notifications?unread=true`, { key: alice.token });
      assert.equal((unread.body.notifications as unknown[]).length, 4);
      const all = await http(`${h.url}/v1/notifications/read-all`, { key: alice.token, method: 'POST' });
      assert.deepEqual(all.body, { marked: 4, unread_count: 0 });
      assert.equal((await http(`${h.url}/v1/notifications/unread-count`, { key: bob.token })).body.unread_count, 1, "bob's untouched");
    });

    it('lets an admin key read any inbox with user_id, and requires it', async () => {
      const r = await http(`${h.url}/v1/notifications?user_id=${bob.id}`, { key: h.adminKey });
      assert.equal(r.status, 200);
      assert.equal(r.body.unread_count, 1);
      assert.equal((await http(`${h.url}/v1/notifications`, { key: h.adminKey })).status, 400);
      const readKey = await h.key(['read']);
      assert.equal((await http(`${h.url}/v1/notifications?user_id=${bob.id}`, { key: readKey })).status, 403);
      const all = await http(`${h.url}/v1/notifications/read-all?user_id=${bob.id}`, { key: h.adminKey, method: 'POST' });
      assert.deepEqual(all.body, { marked: 1, unread_count: 0 });
    });
  });
}
