import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChannelTarget, Notification, SendResult } from '../../src/channels/channel.js';
import { createPushChannel, type PushChannel } from '../../src/channels/push/index.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { ManualClock } from '../../src/util/clock.js';
import { ApnsPeer, type PeerAnswer } from '../helpers/peers/apns.js';
import { openHandles } from '../helpers/stores.js';
import { captureLogs as captureLogger } from './fixtures.js';

function notification(over: Partial<Notification> = {}): Notification {
  return {
    delivery_id: 'del_1',
    intervention_id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    task_id: 'task_77',
    level: 'URGENT',
    title: 'Intervention Required for Task task_77',
    message: 'Task task_77 is marked critical and needs a person to look at it now.',
    reasons: ['CRITICAL_PRIORITY'],
    context: {},
    timestamp: '2026-01-01T00:00:00.000Z',
    action_url: null,
    ...over,
  };
}

const target = (token: string): ChannelTarget => ({ channel: 'push', address: token, options: { platform: 'apns' } });
const MIN = 60 * 1000;
const guard = new UrlGuard({ allow: ['127.0.0.1'] });

describe('push channel: APNs over HTTP/2 against a local h2c peer', () => {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const { logger, lines } = captureLogger();
  const results: SendResult[] = [];
  const tokens: string[] = [];
  let peer: ApnsPeer;
  let channel: PushChannel;

  const token = () => {
    const t = ApnsPeer.deviceToken();
    tokens.push(t);
    return t;
  };
  const send = async (nt: Notification, t: ChannelTarget, ch: PushChannel = channel) => {
    const r = await ch.send(nt, t);
    results.push(r);
    return r;
  };
  const make = (timeoutMs?: number) =>
    createPushChannel(
      { allowHttp: true, timeoutMs, apns: { teamId: peer.teamId, keyId: peer.keyId, privateKey: peer.privateKey, topic: peer.topic, baseUrl: peer.url } },
      { clock, logger, guard },
    );

  before(async () => {
    peer = await ApnsPeer.start({ now: () => clock.now() });
    channel = make();
  });

  after(async () => {
    await channel.close();
    await peer.close();
    assert.deepEqual(openHandles(), []);
  });

  it('POSTs /3/device/{token} with the APNs headers and the original payload under aps', async () => {
    const t = token();
    const r = await send(notification(), target(t));
    assert.equal(r.outcome, 'ok');
    assert.equal(r.status, 200);
    assert.match(r.providerId!, /^[0-9a-f-]{36}$/);
    const req = peer.requests.at(-1)!;
    assert.equal(req.deviceToken, t);
    assert.equal(req.headers['apns-topic'], 'com.example.vigil');
    assert.equal(req.headers['apns-push-type'], 'alert');
    assert.equal(req.headers['apns-priority'], '10');
    assert.equal(req.headers['apns-expiration'], String(clock.now() / 1000 + 86400));
    assert.equal(req.headers['apns-collapse-id'], '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b');
    assert.deepEqual(req.payload, {
      aps: {
        alert: { title: 'Intervention Required for Task task_77', body: notification().message },
        badge: 1,
        sound: 'default',
        'interruption-level': 'time-sensitive',
      },
      data: { task_id: 'task_77', level: 'URGENT', timestamp: '2026-01-01T00:00:00.000Z' },
      action: '/tasks/task_77/review',
    });
  });

  it('signs the provider token ES256 with kid = key id, iss = team id, iat', () => {
    const req = peer.requests[0];
    assert.deepEqual(req.jwtHeader, { kid: 'KEY1234567', alg: 'ES256' });
    assert.deepEqual(req.claims, { iss: 'TEAM123456', iat: clock.now() / 1000 });
  });

  it('sends priority 5 for WARNING and INFO, 10 for URGENT and CRITICAL', async () => {
    for (const [level, priority] of [['CRITICAL', '10'], ['URGENT', '10'], ['WARNING', '5'], ['INFO', '5']] as const) {
      assert.equal((await send(notification({ level }), target(token()))).outcome, 'ok');
      assert.equal(peer.requests.at(-1)!.headers['apns-priority'], priority, level);
    }
    assert.deepEqual((peer.requests.at(-1)!.payload as { aps: unknown }).aps, {
      alert: { title: 'Intervention Required for Task task_77', body: notification().message },
      badge: 1,
    });
  });

  it('reuses one provider token for 50 minutes and one HTTP/2 session throughout', async () => {
    const issued = channel.apns!.tokensIssued;
    await Promise.all(Array.from({ length: 10 }, () => send(notification(), target(token()))));
    clock.advance(49 * MIN);
    assert.equal((await send(notification(), target(token()))).outcome, 'ok');
    assert.equal(channel.apns!.tokensIssued, issued, 'same token at 49 min');
    const before = peer.requests.at(-1)!.authorization;

    clock.advance(1 * MIN);
    assert.equal((await send(notification(), target(token()))).outcome, 'ok');
    assert.equal(channel.apns!.tokensIssued, issued + 1, 'new token at 50 min');
    assert.notEqual(peer.requests.at(-1)!.authorization, before);
    assert.equal(new Set(peer.requests.map((r) => r.authorization)).size, 2);
    assert.equal(peer.sessions, 1);
    assert.equal(channel.apns!.sessionsOpened, 1);
  });

  it('reads each APNs answer as ok, retryable or permanent', async () => {
    const table: { answer: PeerAnswer; outcome: string; gone?: boolean; retryAfterMs?: number }[] = [
      { answer: { status: 200 }, outcome: 'ok' },
      { answer: { status: 410, reason: 'Unregistered' }, outcome: 'permanent', gone: true },
      { answer: { status: 400, reason: 'BadDeviceToken' }, outcome: 'permanent' },
      { answer: { status: 400, reason: 'DeviceTokenNotForTopic' }, outcome: 'permanent' },
      { answer: { status: 403, reason: 'InvalidProviderToken' }, outcome: 'permanent' },
      { answer: { status: 413, reason: 'PayloadTooLarge' }, outcome: 'permanent' },
      { answer: { status: 429, reason: 'TooManyRequests', headers: { 'retry-after': '9' } }, outcome: 'retryable', retryAfterMs: 9000 },
      { answer: { status: 429, reason: 'TooManyRequests' }, outcome: 'retryable' },
      { answer: { status: 500, reason: 'InternalServerError' }, outcome: 'retryable' },
      { answer: { status: 503, reason: 'ServiceUnavailable' }, outcome: 'retryable' },
    ];
    for (const row of table) {
      peer.answer(row.answer);
      const r = await send(notification(), target(token()));
      const label = `answer ${row.answer.status} ${row.answer.reason ?? ''}`;
      assert.equal(r.outcome, row.outcome, label);
      assert.equal(r.status, row.answer.status, label);
      assert.equal(r.targetGone ?? false, row.gone ?? false, label);
      assert.equal(r.retryAfterMs, row.retryAfterMs, label);
      if (row.answer.reason) assert.match(r.error!, new RegExp(row.answer.reason), label);
    }
  });

  it('flags an unregistered device token as gone (410)', async () => {
    const t = token();
    assert.equal((await send(notification(), target(t))).outcome, 'ok');
    peer.unregister(t);
    const r = await send(notification(), target(t));
    assert.deepEqual([r.outcome, r.status, r.targetGone], ['permanent', 410, true]);
  });

  it('signs a new token once when APNs says ExpiredProviderToken, and retries', async () => {
    const issued = channel.apns!.tokensIssued;
    peer.answer({ status: 403, reason: 'ExpiredProviderToken' });
    const r = await send(notification(), target(token()));
    assert.equal(r.outcome, 'ok');
    assert.equal(channel.apns!.tokensIssued, issued + 1);
  });

  it('refuses a device token that is not hex without calling APNs', async () => {
    const count = peer.requests.length;
    const r = await send(notification(), target('../../3/device/xyz'));
    assert.deepEqual([r.outcome, r.status], ['permanent', 'BadDeviceToken']);
    assert.equal(peer.requests.length, count);
  });

  it('cancels a slow answer after timeoutMs (retryable) and keeps using the session', async () => {
    const slow = make(150);
    try {
      peer.answer({ status: 200, delayMs: 2000 });
      const r = await send(notification(), target(token()), slow);
      assert.deepEqual([r.outcome, r.status], ['retryable', 'timeout']);
      assert.equal((await send(notification(), target(token()), slow)).outcome, 'ok');
      assert.equal(slow.apns!.sessionsOpened, 1);
    } finally {
      await slow.close();
    }
  });

  it('reconnects when the session is closed or the server sends GOAWAY, and reports an unreachable APNs as retryable', async () => {
    const ch = make();
    try {
      assert.equal((await send(notification(), target(token()), ch)).outcome, 'ok');
      await ch.apns!.close();
      assert.equal((await send(notification(), target(token()), ch)).outcome, 'ok');
      assert.equal(ch.apns!.sessionsOpened, 2);
      // The server ends the connection (GOAWAY): the next send opens a new one.
      await peer.goAway();
      await new Promise((r) => setImmediate(r));
      assert.equal((await send(notification(), target(token()), ch)).outcome, 'ok');
      assert.equal(ch.apns!.sessionsOpened, 3);
    } finally {
      await ch.close();
    }
    const down = createPushChannel(
      { allowHttp: true, apns: { teamId: peer.teamId, keyId: peer.keyId, privateKey: peer.privateKey, topic: peer.topic, baseUrl: 'http://127.0.0.1:9' } },
      { clock, logger, guard },
    );
    // Loopback not allow-listed: refused before connecting, permanently.
    const strict = createPushChannel(
      { allowHttp: true, apns: { teamId: peer.teamId, keyId: peer.keyId, privateKey: peer.privateKey, topic: peer.topic, baseUrl: peer.url } },
      { clock, logger },
    );
    try {
      const r = await send(notification(), target(token()), down);
      assert.equal(r.outcome, 'retryable');
      assert.equal(typeof r.status, 'string');
      const r2 = await send(notification(), target(token()), strict);
      assert.deepEqual([r2.outcome, r2.status], ['permanent', 'url_refused']);
      assert.equal(strict.apns!.sessionsOpened, 0);
    } finally {
      await down.close();
      await strict.close();
    }
  });

  it('masks a device token to its first characters', () => {
    assert.equal(channel.mask(target('a1b2c3d4e5f60718293a4b5c6d7e8f90')), 'apns:a1b2…****');
  });

  it('never puts a secret in an error or a log line', () => {
    assert.ok(results.some((r) => r.outcome !== 'ok'));
    assert.ok(lines.length > 0);
    const keyBody = peer.privateKey.split('\n')[1];
    const jwts = peer.requests.map((r) => r.authorization?.replace('bearer ', '') ?? '').filter(Boolean);
    for (const text of [...results.map((r) => r.error ?? ''), ...lines]) {
      for (const secret of [...tokens, ...jwts, keyBody]) assert.ok(!text.includes(secret), `secret leaked in: ${text}`);
      assert.ok(!/eyJ|bearer |PRIVATE KEY/i.test(text), `credential leaked in: ${text}`);
    }
  });
});
