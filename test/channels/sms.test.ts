import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SendResult } from '../../src/channels/channel.js';
import { HttpClient } from '../../src/channels/http.js';
import { normalizeE164, renderSms, SmsChannel } from '../../src/channels/sms.js';
import { countSegments, fitToSegments, smartEncode } from '../../src/channels/smsSegments.js';
import { HANG, type HttpPeer, type Scripted } from '../helpers/peers/httpPeer.js';
import { startTwilioPeer, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, twilioError, twilioRateLimited } from '../helpers/peers/twilio.js';
import { assertNoSecrets, assertResult, captureLogs, notification, testHttp, settledHandles, type Expect } from './fixtures.js';

const FROM = '+15005550006';
const TO = '+1-555-123-4567';
const TO_E164 = '+15551234567';

describe('E.164 and SMS segments', () => {
  it('normalises and validates E.164 numbers', () => {
    assert.equal(normalizeE164('+1-555-123-4567'), '+15551234567');
    assert.equal(normalizeE164(' +44 (20) 7946.0958 '), '+442079460958');
    assert.equal(normalizeE164('0044 20 7946 0958'), '+442079460958');
    for (const bad of ['5551234567', '+0123456', '+1234567890123456', '+1555abc4567', '', '+']) assert.equal(normalizeE164(bad), null, bad);
  });

  it('counts GSM-7 and UCS-2 segments, extension characters as two', () => {
    const t: [string, string, number, number][] = [
      ['a'.repeat(160), 'GSM-7', 160, 1],
      ['a'.repeat(161), 'GSM-7', 161, 2],
      ['a'.repeat(306), 'GSM-7', 306, 2],
      ['a'.repeat(307), 'GSM-7', 307, 3],
      ['{'.repeat(80), 'GSM-7', 160, 1],
      ['{'.repeat(81), 'GSM-7', 162, 2],
      ['€|^~[]\\}', 'GSM-7', 16, 1],
      ['Üñicödé: ü, ö, é, à, ÆØÅ, £$¥ are GSM-7', 'GSM-7', 39, 1],
      ['ï is not', 'UCS-2', 8, 1],
      // An escape pair never straddles two parts: 152 + (2) does not fit the first part's 153.
      ['a'.repeat(152) + '€' + 'a'.repeat(152), 'GSM-7', 306, 3],
      ['ж'.repeat(70), 'UCS-2', 70, 1],
      ['ж'.repeat(71), 'UCS-2', 71, 2],
      ['ж'.repeat(134), 'UCS-2', 134, 2],
      ['ж'.repeat(135), 'UCS-2', 135, 3],
      ['a'.repeat(69) + '😀', 'UCS-2', 71, 2],
      ['a'.repeat(66) + '😀' + 'a'.repeat(66), 'UCS-2', 134, 3],
      ['ç', 'UCS-2', 1, 1],
    ];
    for (const [text, encoding, units, segments] of t) assert.deepEqual(countSegments(text), { encoding, units, segments }, text.slice(0, 20));
  });

  it('shortens to the segment budget with an ellipsis in the text\'s own encoding', () => {
    const gsm = fitToSegments('word '.repeat(100), 1);
    assert.ok(gsm.endsWith('...') && countSegments(gsm).segments === 1 && countSegments(gsm).units <= 160, gsm);
    const ucs = fitToSegments('слово '.repeat(100), 1);
    assert.ok(ucs.endsWith('…') && countSegments(ucs).segments === 1 && ucs.length <= 70, ucs);
    const three = fitToSegments('{'.repeat(1000), 3);
    assert.equal(countSegments(three).segments, 3);
    assert.equal(fitToSegments('short', 1), 'short');
    assert.equal(smartEncode('“Don’t” – wait…'), '"Don\'t" - wait...');
  });

  it('renders the original\'s text and keeps it to one segment by default', () => {
    const n = notification({ level: 'CRITICAL', message: 'The agent’s budget “ran out” — '.repeat(20) });
    const text = renderSms(n);
    assert.ok(text.startsWith('CRITICAL: Task task_123 Reason: ERROR_THRESHOLD, COMPLIANCE_CHECK - The agent\'s budget "ran out" - '), text);
    assert.deepEqual([countSegments(text).encoding, countSegments(text).segments], ['GSM-7', 1]);
    assert.equal(countSegments(renderSms(n, 3)).segments, 3);
    assert.equal(countSegments(renderSms(n, 1, false)).encoding, 'UCS-2');
  });
});

describe('SMS channel against a local Twilio peer', () => {
  let peer: HttpPeer & { form(i: number): URLSearchParams };
  let http: HttpClient;
  let channel: SmsChannel;
  const logs = captureLogs();
  const results: SendResult[] = [];
  const target = { channel: 'sms', address: TO };

  before(async () => {
    peer = await startTwilioPeer();
    http = testHttp();
    channel = new SmsChannel({ apiBase: peer.url, timeoutMs: 300 }, { http, logger: logs.logger, env: { TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID, TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN, TWILIO_PHONE_NUMBER: FROM } });
  });
  after(async () => {
    await channel.close();
    await http.close();
    await peer.close();
    assert.deepEqual(await settledHandles(), [], 'the test left sockets or servers open');
  });

  const table: [string, Scripted | undefined, Expect][] = [
    ['201 queued', undefined, { outcome: 'ok', status: 201 }],
    ['21211 invalid To (echoing the number)', twilioError(400, 21211, `The 'To' number ${TO_E164} is not a valid phone number.`), { outcome: 'permanent', status: 400, targetGone: true, error: /21211.*\+1555…67/ }],
    ['21610 unsubscribed recipient', twilioError(400, 21610, 'Attempt to send to unsubscribed recipient'), { outcome: 'permanent', status: 400, targetGone: true }],
    ['21408 region not enabled', twilioError(400, 21408, 'Permission to send an SMS has not been enabled for the region'), { outcome: 'permanent', status: 400 }],
    ['20003 bad credentials', twilioError(401, 20003, 'Authenticate'), { outcome: 'permanent', status: 401, error: /20003/ }],
    ['20429 with Retry-After', twilioRateLimited(2), { outcome: 'retryable', status: 429, retryAfterMs: 2000 }],
    ['500', twilioError(500, 20500, 'Internal Server Error'), { outcome: 'retryable', status: 500 }],
    ['503 HTML', { status: 503, body: '<html>unavailable</html>' }, { outcome: 'retryable', status: 503 }],
    ['201 already failed', { status: 201, body: { sid: 'SMfailed', status: 'failed', error_code: 30007 } }, { outcome: 'permanent', status: 201, error: /failed.*30007/ }],
    ['a peer that never answers', HANG, { outcome: 'retryable', status: 'timeout' }],
  ];
  for (const [label, reply, expect] of table) {
    it(`${label} → ${expect.outcome}`, async () => {
      if (reply) peer.script(reply);
      const r = await channel.send(notification({ level: 'CRITICAL' }), target);
      results.push(r);
      assertResult(r, expect, label);
    });
  }

  it('posts the form with Basic auth, E.164 numbers and a one-segment body', async () => {
    peer.reset();
    const r = await channel.send(notification({ level: 'CRITICAL', message: 'x'.repeat(500) }), target);
    assert.equal(r.outcome, 'ok');
    assert.match(r.providerId ?? '', /^SM\d{32}$/);
    const req = peer.received[0];
    assert.equal(req.url, `/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Messages.json`);
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = peer.form(0);
    assert.equal(form.get('To'), TO_E164);
    assert.equal(form.get('From'), FROM);
    assert.equal(countSegments(form.get('Body')!).segments, 1);
    assert.match(form.get('Body')!, /^CRITICAL: Task task_123 Reason: ERROR_THRESHOLD, COMPLIANCE_CHECK - x+\.\.\.$/);
  });

  it('uses a messaging service and a larger segment budget when configured', async () => {
    const ch = new SmsChannel(
      { accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef', apiBase: peer.url, maxSegments: 3 },
      { http, env: {} },
    );
    peer.reset();
    assert.equal((await ch.send(notification({ message: 'y'.repeat(1000) }), target)).outcome, 'ok');
    const form = peer.form(0);
    assert.equal(form.get('MessagingServiceSid'), 'MG0123456789abcdef0123456789abcdef');
    assert.equal(form.get('From'), null);
    assert.equal(countSegments(form.get('Body')!).segments, 3);
  });

  it('refuses a target that is not E.164 without calling Twilio', async () => {
    peer.reset();
    const r = await channel.send(notification(), { channel: 'sms', address: '555-1234-ext-9' });
    results.push(r);
    assertResult(r, { outcome: 'permanent', status: 'invalid_target', targetGone: true, error: /not an E\.164/ }, 'bad number');
    assert.equal(peer.received.length, 0);
  });

  it('validates its configuration, naming the option', () => {
    assert.throws(() => new SmsChannel({}, { env: {} }), /channels\.sms\.account_sid: is required \(or set TWILIO_ACCOUNT_SID\)/);
    assert.throws(() => new SmsChannel({ accountSid: 'nope' }, { env: {} }), /channels\.sms\.account_sid: must be "AC"/);
    assert.throws(() => new SmsChannel({ accountSid: TEST_ACCOUNT_SID }, { env: {} }), /channels\.sms\.auth_token/);
    assert.throws(() => new SmsChannel({ accountSid: TEST_ACCOUNT_SID, authToken: 'x' }, { env: {} }), /channels\.sms\.from: is required unless/);
    assert.throws(() => new SmsChannel({ accountSid: TEST_ACCOUNT_SID, authToken: 'x', from: '12' }, { env: {} }), /channels\.sms\.from: must be an E\.164/);
    assert.throws(() => new SmsChannel({ accountSid: TEST_ACCOUNT_SID, authToken: 'x', from: FROM, maxSegments: 11 }, { env: {} }), /channels\.sms\.max_segments: must be a whole number from 1 to 10/);
    const err = (() => {
      try {
        new SmsChannel({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN, from: 'bad' }, { env: {} });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    assert.ok(err && !err.includes(TEST_AUTH_TOKEN));
  });

  it('no credential or phone number appears in any result or log line', async () => {
    const wrong = new SmsChannel({ accountSid: TEST_ACCOUNT_SID, authToken: 'wrongTokenSecret123456', from: FROM, apiBase: peer.url }, { http, logger: logs.logger });
    results.push(await wrong.send(notification(), target));
    assert.equal(results.at(-1)?.status, 401);
    const basic = Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');
    assertNoSecrets(results, logs.lines, [TEST_AUTH_TOKEN, 'wrongTokenSecret123456', basic, TO, TO_E164, '5551234567', FROM, TEST_ACCOUNT_SID]);
    assert.equal(channel.mask(target), '+1555…67');
  });
});
