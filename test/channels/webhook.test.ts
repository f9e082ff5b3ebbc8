import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SendResult } from '../../src/channels/channel.js';
import { HttpClient } from '../../src/channels/http.js';
import { generateWebhookSecret, signWebhook, verifyWebhook, WebhookChannel } from '../../src/channels/webhook.js';
import { HANG, type HttpPeer, type Scripted } from '../helpers/peers/httpPeer.js';
import { startWebhookReceiver, type Verified } from '../helpers/peers/webhook.js';
import { assertNoSecrets, assertResult, captureLogs, notification, testHttp, settledHandles, type Expect } from './fixtures.js';

// The Standard Webhooks specification's own test vector.
const SPEC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SPEC_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const SPEC_TS = 1614265330;
const SPEC_BODY = '{"test": 2432232314}';
const SPEC_SIG = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

describe('webhook signing (Standard Webhooks)', () => {
  it('signs the specification\'s example exactly', () => {
    assert.equal(signWebhook(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
  });

  it('verifies a good signature and refuses tampered, stale or unsigned requests', () => {
    const headers = { 'webhook-id': SPEC_ID, 'webhook-timestamp': String(SPEC_TS), 'webhook-signature': `v1,bm9wZQ== ${SPEC_SIG}` };
    const nowMs = SPEC_TS * 1000 + 10_000;
    assert.deepEqual(verifyWebhook(SPEC_SECRET, headers, SPEC_BODY, { nowMs }), { test: 2432232314 });
    assert.throws(() => verifyWebhook(SPEC_SECRET, headers, SPEC_BODY.replace('2432', '9999'), { nowMs }), /no matching signature/);
    assert.throws(() => verifyWebhook(SPEC_SECRET, { ...headers, 'webhook-id': 'msg_other' }, SPEC_BODY, { nowMs }), /no matching signature/);
    assert.throws(() => verifyWebhook(generateWebhookSecret(), headers, SPEC_BODY, { nowMs }), /no matching signature/);
    assert.throws(() => verifyWebhook(SPEC_SECRET, { ...headers, 'webhook-signature': SPEC_SIG.replace('v1,', 'v2,') }, SPEC_BODY, { nowMs }), /no matching/);
    assert.throws(() => verifyWebhook(SPEC_SECRET, headers, SPEC_BODY, { nowMs: nowMs + 600_000 }), /too far/);
    assert.throws(() => verifyWebhook(SPEC_SECRET, { 'webhook-id': SPEC_ID }, SPEC_BODY, { nowMs }), /missing/);
  });

  it('validates its configuration, naming the option', () => {
    assert.throws(() => new WebhookChannel({}), /channels\.webhook\.secret: is required/);
    assert.throws(() => new WebhookChannel({ secret: 'plain-secret' }), /channels\.webhook\.secret: must be "whsec_"/);
    assert.throws(() => new WebhookChannel({ secret: 'whsec_c2hvcnQ=' }), /24 to 64 bytes/);
    assert.throws(() => new WebhookChannel({ secret: generateWebhookSecret(), secrets: { b: 'x' } }), /channels\.webhook\.secrets\.b/);
    assert.throws(() => new WebhookChannel({ secret: generateWebhookSecret(), timeoutMs: -1 }), /channels\.webhook\.timeout_ms/);
  });
});

describe('webhook channel against a receiver that verifies signatures', () => {
  const secret = generateWebhookSecret();
  let peer: HttpPeer & { verified: Verified[] };
  let http: HttpClient;
  let channel: WebhookChannel;
  let now = Date.now();
  const logs = captureLogs();
  const results: SendResult[] = [];
  const SECRET_URL_PART = 'hookPathSecret_7f3a9c';
  const target = () => ({ channel: 'webhook', address: `${peer.url}/in/${SECRET_URL_PART}?key=queryKeySecret99` });

  before(async () => {
    peer = await startWebhookReceiver(secret);
    http = testHttp();
    channel = new WebhookChannel({ secret, timeoutMs: 300 }, { http, logger: logs.logger, now: () => now });
  });
  after(async () => {
    await channel.close();
    await http.close();
    await peer.close();
    assert.deepEqual(await settledHandles(), [], 'the test left sockets or servers open');
  });

  const table: [string, Scripted | undefined, Expect][] = [
    ['200 from a receiver that verified the signature', undefined, { outcome: 'ok', status: 200 }],
    ['202', { status: 202 }, { outcome: 'ok', status: 202 }],
    ['429 with Retry-After', { status: 429, headers: { 'retry-after': '12' } }, { outcome: 'retryable', status: 429, retryAfterMs: 12_000 }],
    ['408', { status: 408 }, { outcome: 'retryable', status: 408 }],
    ['500', { status: 500, body: 'boom' }, { outcome: 'retryable', status: 500, error: /HTTP 500: boom/ }],
    ['400', { status: 400, body: { error: 'bad' } }, { outcome: 'permanent', status: 400 }],
    ['410 Gone', { status: 410 }, { outcome: 'permanent', status: 410, targetGone: true }],
    ['a redirect', { status: 307, headers: { location: `/elsewhere` } }, { outcome: 'permanent', status: 307 }],
    ['a peer that never answers', HANG, { outcome: 'retryable', status: 'timeout' }],
  ];
  for (const [label, reply, expect] of table) {
    it(`${label} → ${expect.outcome}`, async () => {
      if (reply) peer.script(reply);
      const r = await channel.send(notification(), target());
      results.push(r);
      assertResult(r, expect, label);
    });
  }

  it('signs each attempt; webhook-id is the delivery id on every retry', async () => {
    peer.reset();
    peer.verified.length = 0;
    const n = notification({ delivery_id: 'dlv_stable_42' });
    peer.script({ status: 503 });
    assert.equal((await channel.send(n, target())).outcome, 'retryable');
    now += 30_000;
    assert.equal((await channel.send(n, target())).outcome, 'ok');
    const [a, b] = peer.received;
    assert.equal(a.headers['webhook-id'], 'dlv_stable_42');
    assert.equal(b.headers['webhook-id'], 'dlv_stable_42');
    assert.equal(Number(b.headers['webhook-timestamp']) - Number(a.headers['webhook-timestamp']), 30);
    assert.match(String(b.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.equal(peer.verified.length, 1);
    assert.equal(peer.verified[0].ok, true);
    assert.equal(peer.verified[0].payload?.type, 'intervention.notification');
    assert.deepEqual(peer.verified[0].payload?.data, n);
    // The recorded request verifies; the same request with one byte changed does not.
    assert.doesNotThrow(() => verifyWebhook(secret, b.headers, b.body, { nowMs: now }));
    assert.throws(() => verifyWebhook(secret, b.headers, b.body.replace('task_123', 'task_124'), { nowMs: now }), /no matching signature/);
  });

  it('a receiver with another secret refuses the request: 401 permanent', async () => {
    const other = new WebhookChannel({ secret: generateWebhookSecret() }, { http, logger: logs.logger });
    const r = await other.send(notification(), target());
    results.push(r);
    assertResult(r, { outcome: 'permanent', status: 401, error: /no matching signature/ }, 'wrong secret');
  });

  it('targets can pick a named secret', async () => {
    const named = new WebhookChannel({ secret: generateWebhookSecret(), secrets: { partner: secret } }, { http });
    assert.equal((await named.send(notification(), { ...target(), options: { secretName: 'partner' } })).outcome, 'ok');
    const r = await named.send(notification(), { ...target(), options: { secretName: 'nope' } });
    assertResult(r, { outcome: 'permanent', status: 'invalid_target', error: /no secret named "nope"/ }, 'unknown secret');
  });

  it('no secret (signing secret, URL path, query) appears in any result or log line', () => {
    assertNoSecrets(results, logs.lines, [secret, secret.slice(6), SECRET_URL_PART, 'queryKeySecret99']);
  });
});
