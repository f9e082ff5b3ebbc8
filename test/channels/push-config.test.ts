import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import webpush from 'web-push';
import type { Notification } from '../../src/channels/channel.js';
import {
  createPushChannel,
  generateVapidKeys,
  PushConfigError,
  renderPushPayload,
  resolvePushConfig,
  type PushConfigInput,
} from '../../src/channels/push/index.js';
import { maskToken, maskUrl, redact } from '../../src/channels/push/mask.js';
import { collapseId } from '../../src/channels/push/payload.js';
import { VapidSigner, vapidKeyProblem } from '../../src/channels/push/vapid.js';
import { openHandles } from '../helpers/stores.js';

const vapid = generateVapidKeys();
const ecKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const serviceAccount = {
  type: 'service_account',
  project_id: 'vigil-prod',
  private_key_id: 'abc123',
  private_key: rsaKey,
  client_email: 'push@vigil-prod.iam.gserviceaccount.com',
  token_uri: 'https://oauth2.googleapis.com/token',
};
const apns = { teamId: 'TEAM123456', keyId: 'KEY1234567', privateKey: ecKey, topic: 'com.example.vigil' };
const webpushCfg = { subject: 'mailto:ops@example.com', vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey };

function problems(input: PushConfigInput): string[] {
  try {
    resolvePushConfig(input);
  } catch (e) {
    assert.ok(e instanceof PushConfigError);
    for (const secret of [vapid.privateKey, ecKey.split('\n')[1], rsaKey.split('\n')[1]]) assert.ok(!e.message.includes(secret), 'secret in a config error');
    return e.problems;
  }
  return [];
}

function notification(over: Partial<Notification> = {}): Notification {
  return {
    delivery_id: 'd',
    intervention_id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    task_id: 'task_1',
    level: 'WARNING',
    title: 'Intervention Required for Task task_1',
    message: 'm',
    reasons: [],
    context: {},
    timestamp: '2026-01-01T00:00:00.000Z',
    action_url: '/interventions/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    ...over,
  };
}

describe('push configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-push-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fills defaults: one-day TTL, 10 s timeout, production APNs, the service account token_uri', () => {
    const c = resolvePushConfig({ webpush: webpushCfg, fcm: { serviceAccount }, apns });
    assert.equal(c.ttlSeconds, 86400);
    assert.equal(c.timeoutMs, 10_000);
    assert.equal(c.allowHttp, false);
    assert.equal(c.apns!.baseUrl, 'https://api.push.apple.com');
    assert.equal(c.fcm!.baseUrl, 'https://fcm.googleapis.com');
    assert.equal(c.fcm!.tokenUri, 'https://oauth2.googleapis.com/token');
    assert.equal(resolvePushConfig({ apns: { ...apns, environment: 'sandbox' } }).apns!.baseUrl, 'https://api.sandbox.push.apple.com');
  });

  it('reads the service account and the .p8 key from files', () => {
    const sa = join(dir, 'sa.json');
    const p8 = join(dir, 'AuthKey_KEY1234567.p8');
    writeFileSync(sa, JSON.stringify(serviceAccount));
    writeFileSync(p8, ecKey);
    const c = resolvePushConfig({ fcm: { serviceAccountFile: sa }, apns: { ...apns, privateKey: undefined, privateKeyFile: p8 } });
    assert.equal(c.fcm!.serviceAccount.client_email, serviceAccount.client_email);
    assert.equal(c.apns!.privateKey, ecKey);
    assert.match(problems({ fcm: { serviceAccountFile: join(dir, 'missing.json') } }).join(), /push\.fcm\.serviceAccountFile cannot be read \(ENOENT\)/);
  });

  it('names each bad option, without repeating any secret', () => {
    assert.deepEqual(problems({}), ['push needs at least one of push.webpush, push.fcm, push.apns']);
    assert.match(problems({ webpush: { ...webpushCfg, subject: 'ops@example.com' } }).join(), /push\.webpush\.subject must be a mailto: address or an https: URL/);
    assert.match(problems({ webpush: { ...webpushCfg, vapidPublicKey: generateVapidKeys().publicKey } }).join(), /push\.webpush: vapidPublicKey does not belong to vapidPrivateKey/);
    assert.match(problems({ webpush: { ...webpushCfg, vapidPrivateKey: 'short' } }).join(), /vapidPrivateKey must be/);
    assert.match(problems({ webpush: { subject: 'mailto:a@b.c' } }).join(), /push\.webpush\.vapidPublicKey and push\.webpush\.vapidPrivateKey are required/);
    assert.match(problems({ fcm: { serviceAccount: '{not json' } }).join(), /push\.fcm\.serviceAccount is not JSON/);
    assert.deepEqual(problems({ fcm: { serviceAccount: { ...serviceAccount, project_id: '', client_email: undefined as unknown as string } } }), [
      'push.fcm.serviceAccount.project_id is required',
      'push.fcm.serviceAccount.client_email is required',
    ]);
    assert.match(problems({ fcm: { serviceAccount: { ...serviceAccount, private_key: ecKey } } }).join(), /private_key must be a PEM RSA private key/);
    assert.match(problems({ fcm: { serviceAccount, baseUrl: 'http://127.0.0.1:1' } }).join(), /push\.fcm\.baseUrl must be an https URL/);
    assert.deepEqual(problems({ fcm: { serviceAccount, baseUrl: 'http://127.0.0.1:1' }, allowHttp: true }), []);
    assert.match(problems({ apns: { ...apns, keyId: 'KEY1' } }).join(), /push\.apns\.keyId must be the 10-character key id/);
    assert.match(problems({ apns: { ...apns, teamId: undefined } }).join(), /push\.apns\.teamId/);
    assert.match(problems({ apns: { ...apns, topic: '' } }).join(), /push\.apns\.topic must be the app bundle id/);
    assert.match(problems({ apns: { ...apns, privateKey: rsaKey } }).join(), /push\.apns\.privateKey must be the PEM text of a P-256 \.p8 key/);
    assert.match(problems({ apns: { ...apns, environment: 'staging' as 'sandbox' } }).join(), /push\.apns\.environment/);
    assert.match(problems({ apns, ttlSeconds: -1 }).join(), /push\.ttlSeconds must be an integer/);
    assert.match(problems({ apns, timeoutMs: 0 }).join(), /push\.timeoutMs must be a positive integer/);
  });

  it('generates VAPID keys the web-push package accepts (65-byte public point, 32-byte private key)', () => {
    const k = generateVapidKeys();
    assert.equal(Buffer.from(k.publicKey, 'base64url').length, 65);
    assert.equal(Buffer.from(k.privateKey, 'base64url').length, 32);
    // generateRequestDetails validates the keys and signs; it sends nothing.
    const details = webpush.generateRequestDetails({ endpoint: 'https://push.example.com/x', keys: { p256dh: vapid.publicKey, auth: 'AAAAAAAAAAAAAAAAAAAAAA' } }, 'x', {
      vapidDetails: { subject: 'mailto:a@b.c', publicKey: k.publicKey, privateKey: k.privateKey },
    });
    assert.match(String(details.headers.Authorization), new RegExp(`k=${k.publicKey}$`));
  });
});

describe('VAPID keys with a leading zero byte', () => {
  it('are always 32 bytes when made (ECDH drops leading zeros: one key in 256 came out 31 bytes), and a 31-byte stored one still signs', () => {
    // 3,000 keys: the chance that none has a leading zero byte is (255/256)^3000, about 1e-5.
    let padded = 0;
    for (let i = 0; i < 3000; i++) {
      const k = generateVapidKeys();
      assert.equal(Buffer.from(k.privateKey, 'base64url').length, 32);
      assert.equal(vapidKeyProblem(k), null);
      if (Buffer.from(k.privateKey, 'base64url')[0] === 0) padded++;
    }
    assert.ok(padded > 0, 'some keys began with a zero byte');
    let k = generateVapidKeys();
    while (Buffer.from(k.privateKey, 'base64url')[0] !== 0) k = generateVapidKeys();
    const short = { ...k, privateKey: Buffer.from(k.privateKey, 'base64url').subarray(1).toString('base64url') };
    assert.equal(vapidKeyProblem(short), null);
    const h = new VapidSigner(short, 'mailto:ops@example.com').header('https://push.example.net', Date.parse('2026-01-01T00:00:00Z'));
    assert.match(h, /^vapid t=.+, k=/);
  });
});

describe('VAPID signing', () => {
  it('reuses a JWT per push service until an hour before its 12-hour expiry', () => {
    const signer = new VapidSigner(vapid, 'mailto:ops@example.com');
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const h = signer.header('https://push.example.net', t0);
    const claims = JSON.parse(Buffer.from(h.split(' ')[1].slice(2).split('.')[1], 'base64url').toString());
    assert.deepEqual(claims, { aud: 'https://push.example.net', exp: t0 / 1000 + 12 * 3600, sub: 'mailto:ops@example.com' });
    assert.equal(signer.header('https://push.example.net', t0 + 10 * 3600_000), h);
    assert.notEqual(signer.header('https://push.example.net', t0 + 11 * 3600_000 + 1000), h);
    assert.notEqual(signer.header('https://updates.push.services.mozilla.com', t0), h);
  });
});

describe('push payload, dispatch and masking', () => {
  it('renders the original shape: body cut to 100 characters, action /tasks/<id>/review', () => {
    const long = `${'é'.repeat(99)}😀tail`;
    const p = renderPushPayload(notification({ message: long }));
    assert.equal(Array.from(p.body).length, 100);
    assert.ok(p.body.endsWith('😀'), 'a surrogate pair is kept whole');
    assert.deepEqual({ ...p, body: '' }, {
      title: 'Intervention Required for Task task_1',
      body: '',
      badge: 1,
      data: { task_id: 'task_1', level: 'WARNING', timestamp: '2026-01-01T00:00:00.000Z' },
      action: '/tasks/task_1/review',
    });
    assert.equal(renderPushPayload(notification({ task_id: null })).action, '/interventions/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    assert.equal(renderPushPayload(notification({ task_id: 'a/b c' })).action, '/tasks/a%2Fb%20c/review');
  });

  it('derives a collapse id of at most 32 URL-safe characters', () => {
    assert.equal(collapseId('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'), '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b');
    const hashed = collapseId('an intervention id that is much longer than thirty-two characters');
    assert.match(hashed, /^[A-Za-z0-9_-]{32}$/);
  });

  it('answers permanent for an unknown or unconfigured platform', async () => {
    const ch = createPushChannel({ apns });
    assert.equal(ch.name, 'push');
    try {
      const bad = await ch.send(notification(), { channel: 'push', address: 'x', options: { platform: 'gcm' } });
      assert.deepEqual([bad.outcome, bad.status], ['permanent', 'BAD_TARGET']);
      const none = await ch.send(notification(), { channel: 'push', address: 'x', options: {} });
      assert.equal(none.status, 'BAD_TARGET');
      const off = await ch.send(notification(), { channel: 'push', address: 'x', options: { platform: 'fcm' } });
      assert.deepEqual([off.outcome, off.status, off.error], ['permanent', 'NOT_CONFIGURED', 'push platform fcm is not configured (push.fcm)']);
      assert.equal(ch.mask({ channel: 'push', address: 'secret-token-value', options: { platform: 'fcm' } }), 'push:****');
    } finally {
      await ch.close();
    }
    assert.deepEqual(openHandles(), []);
  });

  it('masks and redacts', () => {
    assert.equal(maskToken('short'), '****');
    assert.equal(maskToken('abcdefghijklmnop'), 'abcd…****');
    assert.equal(maskUrl('https://fcm.googleapis.com/fcm/send/dSecretPath:APA91'), 'https://fcm.googleapis.com/****');
    assert.equal(maskUrl('not a url'), '****');
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl';
    assert.equal(redact(`token ${jwt} for device abcdef123456`, ['abcdef123456']), 'token **** for device ****');
    assert.equal(redact('Authorization: Bearer ya29.secret'), 'Authorization: Bearer ****');
    assert.equal(redact(`key ${ecKey.trim()} end`), 'key **** end');
    assert.equal(redact('x'.repeat(500)).length, 201);
  });
});
