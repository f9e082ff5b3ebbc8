import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChannelTarget, Notification, SendResult } from '../../src/channels/channel.js';
import { createPushChannel, generateVapidKeys, type PushChannel } from '../../src/channels/push/index.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { WebPushPeer, type PeerSubscription } from '../helpers/peers/webpush.js';
import { openHandles } from '../helpers/stores.js';
import { captureLogs as captureLogger } from './fixtures.js';

const MESSAGE =
  'Task task_123 hit 3 errors in 10 minutes; the agent ContentAgent keeps failing on the compliance review step of the contract draft.';

function notification(over: Partial<Notification> = {}): Notification {
  return {
    delivery_id: 'del_1',
    intervention_id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    task_id: 'task_123',
    level: 'URGENT',
    title: 'Intervention Required for Task task_123',
    message: MESSAGE,
    reasons: ['ERROR_THRESHOLD'],
    context: { errors: 3 },
    timestamp: '2026-11-27T04:00:00.000Z',
    action_url: '/interventions/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    ...over,
  };
}

/** Tests reach 127.0.0.1 only because it is allow-listed, as in production config. */
const guard = new UrlGuard({ allow: ['127.0.0.1'] });

const target = (sub: PeerSubscription): ChannelTarget => ({ channel: 'push', address: JSON.stringify(sub), options: { platform: 'webpush' } });

describe('push channel: Web Push (RFC 8030 + 8291 + 8292) against a local push service', () => {
  const keys = generateVapidKeys();
  const { logger, lines } = captureLogger();
  const results: SendResult[] = [];
  const subs: PeerSubscription[] = [];
  let peer: WebPushPeer;
  let channel: PushChannel;

  const subscribe = () => {
    const s = peer.subscribe();
    subs.push(s);
    return s;
  };
  const send = async (n: Notification, t: ChannelTarget, ch: PushChannel = channel) => {
    const r = await ch.send(n, t);
    results.push(r);
    return r;
  };

  before(async () => {
    peer = await WebPushPeer.start({ vapidPublicKey: keys.publicKey });
    channel = createPushChannel(
      { allowHttp: true, webpush: { subject: 'mailto:ops@example.com', vapidPublicKey: keys.publicKey, vapidPrivateKey: keys.privateKey } },
      { logger, guard },
    );
  });

  after(async () => {
    await channel.close();
    await peer.close();
    assert.deepEqual(openHandles(), []);
  });

  it('delivers the original payload shape, encrypted so that only the subscription can read it', async () => {
    const sub = subscribe();
    const r = await send(notification(), target(sub));
    assert.equal(r.outcome, 'ok');
    assert.equal(r.status, 201);
    assert.ok(r.durationMs >= 0);
    const req = peer.requests.at(-1)!;
    assert.equal(req.vapidProblem, null);
    assert.equal(req.decryptError, undefined);
    assert.deepEqual(JSON.parse(req.payload!), {
      title: 'Intervention Required for Task task_123',
      body: MESSAGE.slice(0, 100),
      badge: 1,
      data: { task_id: 'task_123', level: 'URGENT', timestamp: '2026-11-27T04:00:00.000Z' },
      action: '/tasks/task_123/review',
    });
    assert.equal(req.headers['content-encoding'], 'aes128gcm');
    assert.equal(req.headers.ttl, '86400');
    assert.equal(req.headers.topic, '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b');
  });

  it('signs VAPID: ES256 JWT, aud = push service origin, sub, exp within 24 h, k = public key', async () => {
    const sub = subscribe();
    const before = Math.floor(Date.now() / 1000);
    await send(notification(), target(sub));
    const req = peer.requests.at(-1)!;
    assert.equal(req.vapidProblem, null);
    assert.deepEqual(req.vapidHeader, { typ: 'JWT', alg: 'ES256' });
    assert.equal(req.vapidClaims!.aud, peer.url);
    assert.equal(req.vapidClaims!.sub, 'mailto:ops@example.com');
    const exp = Number(req.vapidClaims!.exp);
    assert.ok(exp > before + 11 * 3600 && exp <= before + 24 * 3600, `exp ${exp - before}s ahead`);
    assert.match(String(req.headers.authorization), new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${keys.publicKey}$`));
  });

  it('maps levels to Urgency: CRITICAL/URGENT high, WARNING normal, INFO low', async () => {
    const sub = subscribe();
    for (const [level, urgency] of [['CRITICAL', 'high'], ['URGENT', 'high'], ['WARNING', 'normal'], ['INFO', 'low']] as const) {
      const r = await send(notification({ level }), target(sub));
      assert.equal(r.outcome, 'ok');
      assert.equal(peer.requests.at(-1)!.headers.urgency, urgency, level);
      assert.equal(JSON.parse(peer.requests.at(-1)!.payload!).data.level, level);
    }
  });

  it('reads each push service answer as ok, retryable or permanent', async () => {
    const table: { answer: Parameters<WebPushPeer['answer']>[0]; outcome: string; gone?: boolean; retryAfterMs?: number }[] = [
      { answer: { status: 201 }, outcome: 'ok' },
      { answer: { status: 202 }, outcome: 'ok' },
      { answer: { status: 404, body: 'not found' }, outcome: 'permanent', gone: true },
      { answer: { status: 410, body: 'gone' }, outcome: 'permanent', gone: true },
      { answer: { status: 429, headers: { 'Retry-After': '7' } }, outcome: 'retryable', retryAfterMs: 7000 },
      { answer: { status: 500 }, outcome: 'retryable' },
      { answer: { status: 502 }, outcome: 'retryable' },
      { answer: { status: 503, headers: { 'Retry-After': '120' } }, outcome: 'retryable', retryAfterMs: 120_000 },
      { answer: { status: 400, body: 'bad request' }, outcome: 'permanent', gone: false },
      { answer: { status: 413, body: 'payload too large' }, outcome: 'permanent', gone: false },
    ];
    const sub = subscribe();
    for (const row of table) {
      peer.answer(row.answer);
      const r = await send(notification(), target(sub));
      const label = `answer ${row.answer.status}`;
      assert.equal(r.outcome, row.outcome, label);
      assert.equal(r.status, row.answer.status, label);
      assert.equal(r.targetGone ?? false, row.gone ?? false, label);
      assert.equal(r.retryAfterMs, row.retryAfterMs, label);
      if (r.outcome !== 'ok') assert.match(r.error!, new RegExp(`answered ${row.answer.status}`));
    }
  });

  it('flags an unsubscribed browser as gone (410)', async () => {
    const sub = subscribe();
    assert.equal((await send(notification(), target(sub))).outcome, 'ok');
    peer.unsubscribe(sub);
    const r = await send(notification(), target(sub));
    assert.deepEqual([r.outcome, r.status, r.targetGone], ['permanent', 410, true]);
  });

  it('is refused (403, permanent) when signed with a key the subscription was not made for', async () => {
    const other = generateVapidKeys();
    const ch = createPushChannel({ allowHttp: true, webpush: { subject: 'https://vigil.example.com/contact', vapidPublicKey: other.publicKey, vapidPrivateKey: other.privateKey } }, { logger, guard });
    try {
      const r = await send(notification(), target(subscribe()), ch);
      assert.deepEqual([r.outcome, r.status, r.targetGone], ['permanent', 403, undefined]);
    } finally {
      await ch.close();
    }
  });

  it('gives up on a slow push service after timeoutMs (retryable), and on a closed port (retryable)', async () => {
    const ch = createPushChannel(
      { allowHttp: true, timeoutMs: 150, webpush: { subject: 'mailto:ops@example.com', vapidPublicKey: keys.publicKey, vapidPrivateKey: keys.privateKey } },
      { logger, guard },
    );
    try {
      peer.answer({ status: 201, delayMs: 2000 });
      const r = await send(notification(), target(subscribe()), ch);
      assert.deepEqual([r.outcome, r.status], ['retryable', 'timeout']);
      const dead = { ...subscribe(), endpoint: 'http://127.0.0.1:9/push/v2/nobody-listens-here' };
      const r2 = await send(notification(), target(dead), ch);
      assert.equal(r2.outcome, 'retryable');
      assert.equal(r2.status, 'ECONNREFUSED');
    } finally {
      await ch.close();
    }
  });

  it('refuses malformed subscriptions and, unless allowHttp, http endpoints — permanently', async () => {
    const sub = subscribe();
    const cases = [
      'not json at all',
      JSON.stringify({ endpoint: sub.endpoint }),
      JSON.stringify({ ...sub, keys: { p256dh: 'AAAA', auth: sub.keys.auth } }),
      JSON.stringify({ ...sub, keys: { p256dh: sub.keys.p256dh, auth: 'AAAA' } }),
      JSON.stringify({ ...sub, keys: { p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url'), auth: sub.keys.auth } }),
    ];
    for (const address of cases) {
      const r = await send(notification(), { channel: 'push', address, options: { platform: 'webpush' } });
      assert.deepEqual([r.outcome, r.status], ['permanent', 'INVALID_SUBSCRIPTION'], address);
    }
    const webpush = { subject: 'mailto:ops@example.com', vapidPublicKey: keys.publicKey, vapidPrivateKey: keys.privateKey };
    const strict = createPushChannel({ webpush }, { guard });
    // http allowed, but loopback not allow-listed: the outbound guard refuses it (no request made).
    const unguarded = createPushChannel({ allowHttp: true, webpush }, { logger });
    try {
      const r = await send(notification(), target(sub), strict);
      assert.equal(r.outcome, 'permanent');
      assert.match(r.error!, /must be https/);
      const count = peer.requests.length;
      const r2 = await send(notification(), target(sub), unguarded);
      assert.deepEqual([r2.outcome, r2.status], ['permanent', 'url_refused']);
      assert.match(r2.error!, /loopback/);
      assert.equal(peer.requests.length, count);
    } finally {
      await strict.close();
      await unguarded.close();
    }
  });

  it('masks a subscription down to its push service origin', () => {
    const sub = subscribe();
    assert.equal(channel.mask(target(sub)), `webpush:${peer.url}/****`);
  });

  it('never puts a secret in an error or a log line', () => {
    assert.ok(results.some((r) => r.outcome !== 'ok'));
    assert.ok(lines.length > 0);
    const texts = [...results.map((r) => r.error ?? ''), ...lines];
    const secrets = [keys.privateKey];
    for (const s of subs) secrets.push(new URL(s.endpoint).pathname, s.keys.p256dh, s.keys.auth);
    for (const text of texts) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `secret leaked in: ${text}`);
      assert.ok(!/vapid t=|eyJ/.test(text), `credential leaked in: ${text}`);
    }
  });
});
