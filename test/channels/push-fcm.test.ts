import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ChannelTarget, Notification, SendResult } from '../../src/channels/channel.js';
import { createPushChannel, type PushChannel } from '../../src/channels/push/index.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { ManualClock } from '../../src/util/clock.js';
import { FCM_SCOPE, FcmPeer, fcmErrorBody, type PeerAnswer } from '../helpers/peers/fcm.js';
import { openHandles } from '../helpers/stores.js';
import { captureLogs as captureLogger } from './fixtures.js';

function notification(over: Partial<Notification> = {}): Notification {
  return {
    delivery_id: 'del_1',
    intervention_id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    task_id: 'task_123',
    level: 'CRITICAL',
    title: 'Intervention Required for Task task_123',
    message: 'Budget exceeded: 142.50 USD used this month, over the 100.00 threshold set for the content agents of this workspace.',
    reasons: ['BUDGET_EXCEEDED'],
    context: {},
    timestamp: '2026-01-01T00:00:00.000Z',
    action_url: null,
    ...over,
  };
}

let n = 0;
/** A registration token shaped like FCM's (long, URL-safe). */
const deviceToken = () => `fHk3${(++n).toString().padStart(4, '0')}:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx${'x'.repeat(100)}`;
const target = (token: string): ChannelTarget => ({ channel: 'push', address: token, options: { platform: 'fcm' } });

describe('push channel: FCM HTTP v1 against a local token endpoint and messages:send', () => {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const { logger, lines } = captureLogger();
  const results: SendResult[] = [];
  const tokens: string[] = [];
  let peer: FcmPeer;
  let channel: PushChannel;

  const token = () => {
    const t = deviceToken();
    tokens.push(t);
    return t;
  };
  const send = async (nt: Notification, t: ChannelTarget, ch: PushChannel = channel) => {
    const r = await ch.send(nt, t);
    results.push(r);
    return r;
  };
  const make = (over: { timeoutMs?: number; private_key?: string } = {}) =>
    createPushChannel(
      {
        allowHttp: true,
        timeoutMs: over.timeoutMs,
        fcm: { serviceAccount: JSON.stringify({ ...peer.serviceAccount, ...(over.private_key ? { private_key: over.private_key } : {}) }), baseUrl: peer.url },
      },
      { clock, logger, guard: new UrlGuard({ allow: ['127.0.0.1'] }) },
    );

  before(async () => {
    peer = await FcmPeer.start({ now: () => clock.now() });
    channel = make();
  });

  after(async () => {
    await channel.close();
    await peer.close();
    assert.deepEqual(openHandles(), []);
  });

  it('sends {message: {token, notification, data}} with a bearer token and returns the message name', async () => {
    const t = token();
    const r = await send(notification(), target(t));
    assert.equal(r.outcome, 'ok');
    assert.equal(r.status, 200);
    assert.match(r.providerId!, /^projects\/vigil-test\/messages\/[0-9a-f]+$/);
    const req = peer.sends.at(-1)!;
    assert.equal(req.path, '/v1/projects/vigil-test/messages:send');
    assert.match(req.authorization!, /^Bearer ya29\.peer-/);
    const m = req.body!.message!;
    assert.equal(m.token, t);
    assert.deepEqual(m.notification, { title: 'Intervention Required for Task task_123', body: notification().message.slice(0, 100) });
    assert.deepEqual(m.data, {
      task_id: 'task_123',
      level: 'CRITICAL',
      timestamp: '2026-01-01T00:00:00.000Z',
      action: '/tasks/task_123/review',
      badge: '1',
    });
    for (const v of Object.values(m.data as Record<string, unknown>)) assert.equal(typeof v, 'string');
    assert.deepEqual(m.android, { priority: 'HIGH', ttl: '86400s', collapse_key: '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b' });
  });

  it('signs the assertion RS256 with iss, scope, aud = token_uri, one hour, kid', () => {
    const tr = peer.tokenRequests[0];
    assert.equal(tr.problem, null);
    assert.deepEqual(tr.header, { typ: 'JWT', kid: peer.serviceAccount.private_key_id, alg: 'RS256' });
    const c = tr.claims!;
    assert.equal(c.iss, peer.serviceAccount.client_email);
    assert.equal(c.scope, FCM_SCOPE);
    assert.equal(c.aud, `${peer.url}/token`);
    assert.equal(c.iat, clock.now() / 1000);
    assert.equal(Number(c.exp) - Number(c.iat), 3600);
  });

  it('asks for one access token for many sends, concurrent ones included, and a new one before expiry', async () => {
    const before = peer.tokenRequests.length;
    await Promise.all(Array.from({ length: 8 }, () => send(notification({ level: 'INFO' }), target(token()))));
    for (let i = 0; i < 4; i++) assert.equal((await send(notification(), target(token()))).outcome, 'ok');
    assert.equal(peer.tokenRequests.length, before, 'the cached token was reused');
    assert.equal(peer.sends.at(-5)!.body!.message!.android && (peer.sends.at(-5)!.body!.message!.android as { priority: string }).priority, 'NORMAL');

    clock.advance(54 * 60 * 1000); // 54 min: still more than 5 min of life left
    assert.equal((await send(notification(), target(token()))).outcome, 'ok');
    assert.equal(peer.tokenRequests.length, before);

    clock.advance(2 * 60 * 1000); // 56 min: inside the refresh margin
    assert.equal((await send(notification(), target(token()))).outcome, 'ok');
    assert.equal(peer.tokenRequests.length, before + 1, 'refreshed before it expired');
    assert.equal(peer.tokenRequests.at(-1)!.problem, null);
    assert.equal(peer.sends.at(-1)!.status, 200);
  });

  it('on 401 refreshes the token once and retries within the same send', async () => {
    const tokensBefore = peer.tokenRequests.length;
    const sendsBefore = peer.sends.length;
    peer.revokeAccessTokens();
    const r = await send(notification(), target(token()));
    assert.equal(r.outcome, 'ok');
    assert.equal(peer.tokenRequests.length, tokensBefore + 1);
    assert.deepEqual(peer.sends.slice(sendsBefore).map((s) => s.status), [401, 200]);

    // A 401 that persists after the refresh is not retried again: permanent.
    const unauth = { status: 401, body: fcmErrorBody(401, 'UNAUTHENTICATED', 'THIRD_PARTY_AUTH_ERROR', 'auth error') };
    peer.answer(unauth, unauth);
    const r2 = await send(notification(), target(token()));
    assert.deepEqual([r2.outcome, r2.status], ['permanent', 401]);
    assert.equal(peer.tokenRequests.length, tokensBefore + 2);
  });

  it('reads each FCM answer as ok, retryable or permanent', async () => {
    const table: { answer: PeerAnswer; outcome: string; gone?: boolean; retryAfterMs?: number; code?: string }[] = [
      { answer: { status: 200, body: { name: 'projects/vigil-test/messages/1' } }, outcome: 'ok' },
      { answer: { status: 404, body: fcmErrorBody(404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.') }, outcome: 'permanent', gone: true, code: 'UNREGISTERED' },
      { answer: { status: 400, body: fcmErrorBody(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token') }, outcome: 'permanent', code: 'INVALID_ARGUMENT' },
      { answer: { status: 403, body: fcmErrorBody(403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH', 'SenderId mismatch') }, outcome: 'permanent', code: 'SENDER_ID_MISMATCH' },
      { answer: { status: 429, headers: { 'Retry-After': '30' }, body: fcmErrorBody(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', 'quota') }, outcome: 'retryable', retryAfterMs: 30_000, code: 'QUOTA_EXCEEDED' },
      { answer: { status: 503, body: fcmErrorBody(503, 'UNAVAILABLE', 'UNAVAILABLE', 'The service is currently unavailable.') }, outcome: 'retryable', code: 'UNAVAILABLE' },
      { answer: { status: 500, body: fcmErrorBody(500, 'INTERNAL', 'INTERNAL', 'Internal error') }, outcome: 'retryable', code: 'INTERNAL' },
      { answer: { status: 502, body: '<html>bad gateway</html>' }, outcome: 'retryable' },
    ];
    for (const row of table) {
      peer.answer(row.answer);
      const r = await send(notification(), target(token()));
      const label = `answer ${row.answer.status} ${row.code ?? ''}`;
      assert.equal(r.outcome, row.outcome, label);
      assert.equal(r.status, row.answer.status, label);
      assert.equal(r.targetGone ?? false, row.gone ?? false, label);
      assert.equal(r.retryAfterMs, row.retryAfterMs, label);
      if (row.code) assert.match(r.error!, new RegExp(row.code), label);
    }
  });

  it('flags an unregistered token as gone', async () => {
    const t = token();
    assert.equal((await send(notification(), target(t))).outcome, 'ok');
    peer.unregister(t);
    const r = await send(notification(), target(t));
    assert.deepEqual([r.outcome, r.status, r.targetGone], ['permanent', 404, true]);
  });

  it('reads token endpoint failures: 5xx retryable (then recovers), invalid_grant permanent', async () => {
    clock.advance(2 * 60 * 60 * 1000); // the cached token has expired
    peer.answerToken({ status: 503, headers: { 'Retry-After': '5' }, body: { error: 'backend_error' } });
    const r = await send(notification(), target(token()));
    assert.deepEqual([r.outcome, r.status, r.retryAfterMs], ['retryable', 503, 5000]);
    assert.match(r.error!, /token endpoint http:\/\/127\.0\.0\.1:\d+\/\*\*\*\* answered 503/);
    assert.equal((await send(notification(), target(token()))).outcome, 'ok');

    // A key the service account does not have: the peer cannot verify the assertion.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const wrong = make({ private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
    try {
      const r2 = await send(notification(), target(token()), wrong);
      assert.deepEqual([r2.outcome, r2.status], ['permanent', 400]);
      assert.match(r2.error!, /invalid_grant/);
      assert.equal(peer.tokenRequests.at(-1)!.problem, 'invalid JWT signature');
    } finally {
      await wrong.close();
    }
  });

  it('gives up on a slow FCM after timeoutMs (retryable)', async () => {
    const slow = make({ timeoutMs: 150 });
    try {
      assert.equal((await send(notification(), target(token()), slow)).outcome, 'ok');
      peer.answer({ status: 200, body: { name: 'late' }, delayMs: 2000 });
      const r = await send(notification(), target(token()), slow);
      assert.deepEqual([r.outcome, r.status], ['retryable', 'timeout']);
    } finally {
      await slow.close();
    }
  });

  it('masks a token to its first characters', () => {
    assert.equal(channel.mask(target('fHk3abcdefghijklmnopqrstuvwxyz')), 'fcm:fHk3…****');
  });

  it('never puts a secret in an error or a log line', () => {
    assert.ok(results.some((r) => r.outcome !== 'ok'));
    assert.ok(lines.length > 0);
    const accessTokens = peer.sends.map((s) => s.authorization?.replace('Bearer ', '') ?? '').filter(Boolean);
    const keyBody = peer.serviceAccount.private_key.split('\n')[1];
    for (const text of [...results.map((r) => r.error ?? ''), ...lines]) {
      for (const secret of [...tokens, ...accessTokens, keyBody]) assert.ok(!text.includes(secret), `secret leaked in: ${text}`);
      assert.ok(!/eyJ|Bearer ya29|PRIVATE KEY/.test(text), `credential leaked in: ${text}`);
    }
  });
});
