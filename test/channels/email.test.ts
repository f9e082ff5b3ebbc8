import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { SendResult } from '../../src/channels/channel.js';
import { EMAIL_COLORS, EmailChannel, emailSubject, parseSmtpUrl, type EmailConfig } from '../../src/channels/email.js';
import { INTERVENTION_LEVELS } from '../../src/channels/levels.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { startSmtpPeer, type SmtpPeer, type SmtpScript } from '../helpers/peers/smtp.js';
import { assertNoSecrets, assertResult, captureLogs, notification, testGuard, settledHandles, type Expect } from './fixtures.js';

const USER = 'vigil-mailer@example.com';
const PASS = 'smtpP4ssw0rd-secret';
const TO = 'oncall.person@example.org';

describe('email channel against an in-process SMTP server', () => {
  let peer: SmtpPeer;
  let tlsPeer: SmtpPeer;
  let channel: EmailChannel;
  const logs = captureLogs();
  const results: SendResult[] = [];
  const target = { channel: 'email', address: TO };
  const base = (port: number): EmailConfig => ({
    host: '127.0.0.1',
    port,
    from: 'Vigil <vigil@example.com>',
    user: USER,
    pass: PASS,
    tlsRejectUnauthorized: false, // the peer's self-signed certificate
    socketTimeoutMs: 400,
    greetingTimeoutMs: 2000,
  });

  before(async () => {
    peer = await startSmtpPeer({ auth: { user: USER, pass: PASS } });
    tlsPeer = await startSmtpPeer({ secure: true });
    channel = new EmailChannel({ ...base(peer.port), publicUrl: 'https://vigil.example.com' }, { guard: testGuard(), logger: logs.logger });
  });
  after(async () => {
    await peer.close();
    await tlsPeer.close();
    assert.deepEqual(await settledHandles(), [], 'the test left sockets or servers open');
  });

  it('sends a text and an HTML part with the original\'s subject, over STARTTLS with AUTH', async () => {
    for (const level of INTERVENTION_LEVELS) {
      const r = await channel.send(notification({ level, message: 'Check <the> contract & pay' }), target);
      assert.equal(r.outcome, 'ok', r.error);
      assert.equal(r.status, 250);
      const mail = peer.mails.at(-1)!;
      assert.equal(mail.subject, `[${level}] Intervention Required for Task task_123`);
      assert.match(mail.text ?? '', /Check <the> contract & pay/);
      assert.match(mail.text ?? '', /Review: https:\/\/vigil\.example\.com\/interventions\/int_0192a7b3/);
      assert.match(String(mail.html), new RegExp(`border-left:6px solid ${EMAIL_COLORS[level]}`));
      assert.match(String(mail.html), /Check &lt;the&gt; contract &amp; pay/);
      assert.equal(mail.messageId, '<dlv_0192a7b3c4d5e6f7@vigil>');
      assert.equal(r.providerId, '<dlv_0192a7b3c4d5e6f7@vigil>');
      assert.equal(mail.headers.get('x-vigil-level'), level);
    }
    assert.deepEqual(peer.envelopes.at(-1), { from: 'vigil@example.com', to: [TO], secure: true, user: USER });
    assert.equal(emailSubject(notification({ task_id: null, title: 'Budget\r\nexceeded' })), '[URGENT] Budget exceeded');
  });

  it('sends over implicit TLS (smtps)', async () => {
    const ch = new EmailChannel({ host: '127.0.0.1', port: tlsPeer.port, secure: true, from: 'vigil@example.com', tlsRejectUnauthorized: false }, { guard: testGuard() });
    const r = await ch.send(notification(), { channel: 'email', address: `${TO}, second@example.org` });
    assert.equal(r.outcome, 'ok', r.error);
    assert.deepEqual(tlsPeer.envelopes[0], { from: 'vigil@example.com', to: [TO, 'second@example.org'], secure: true, user: undefined });
  });

  const table: [string, SmtpScript, Expect][] = [
    ['421 at connect', { phase: 'connect', code: 421, message: 'Service not available' }, { outcome: 'retryable', status: 421 }],
    ['451 at MAIL FROM', { phase: 'mail', code: 451, message: 'Local error' }, { outcome: 'retryable', status: 451 }],
    ['452 at RCPT TO', { phase: 'rcpt', code: 452, message: `4.2.2 <${TO}> Mailbox full` }, { outcome: 'retryable', status: 452 }],
    ['550 at RCPT TO', { phase: 'rcpt', code: 550 }, { outcome: 'permanent', status: 550, error: /Recipient address rejected/ }],
    ['451 after DATA', { phase: 'data', code: 451, message: 'try later' }, { outcome: 'retryable', status: 451 }],
    ['554 after DATA', { phase: 'data', code: 554, message: 'Message rejected as spam' }, { outcome: 'permanent', status: 554 }],
    ['a server that never answers DATA', { phase: 'data', hang: true }, { outcome: 'retryable', status: 'ETIMEDOUT' }],
  ];
  for (const [label, script, expect] of table) {
    it(`${label} → ${expect.outcome}`, async () => {
      peer.script(script);
      const r = await channel.send(notification(), target);
      results.push(r);
      assertResult(r, expect, label);
    });
  }

  it('wrong credentials: 535, permanent', async () => {
    const ch = new EmailChannel({ ...base(peer.port), pass: 'wrongPassSecret99' }, { guard: testGuard(), logger: logs.logger });
    const r = await ch.send(notification(), target);
    results.push(r);
    assertResult(r, { outcome: 'permanent', status: 535 }, 'auth');
  });

  it('STARTTLS required but not offered: permanent', async () => {
    const plain = await startSmtpPeer({ hideStartTls: true });
    try {
      const ch = new EmailChannel({ ...base(plain.port), user: undefined, pass: undefined, starttls: 'required' }, { guard: testGuard(), logger: logs.logger });
      const r = await ch.send(notification(), target);
      results.push(r);
      assert.equal(r.outcome, 'permanent', r.error);
      const open = new EmailChannel({ ...base(plain.port), user: undefined, pass: undefined, starttls: 'never' }, { guard: testGuard() });
      assert.equal((await open.send(notification(), target)).outcome, 'ok');
      assert.equal(plain.envelopes[0].secure, false);
    } finally {
      await plain.close();
    }
  });

  it('a closed port and a resolver that cannot answer are retryable; a host not allow-listed is refused', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const closed = await new EmailChannel(base(port), { guard: testGuard(), logger: logs.logger }).send(notification(), target);
    results.push(closed);
    assertResult(closed, { outcome: 'retryable', error: /ECONNREFUSED|ESOCKET|ECONNECTION/ }, 'closed port');
    const refused = await new EmailChannel(base(peer.port), { guard: new UrlGuard(), logger: logs.logger }).send(notification(), target);
    results.push(refused);
    assertResult(refused, { outcome: 'permanent', status: 'url_refused', error: /loopback/ }, 'guard');
    // A resolver that cannot answer for now: retried later, not given up.
    const dnsDown = new UrlGuard({ resolve: async () => Promise.reject(Object.assign(new Error('dns'), { code: 'EAI_AGAIN' })) });
    const later = await new EmailChannel({ ...base(peer.port), host: 'smtp.example' }, { guard: dnsDown, logger: logs.logger }).send(notification(), target);
    results.push(later);
    assertResult(later, { outcome: 'retryable', status: 'EAI_AGAIN', error: /cannot resolve the host of smtp\.example for now/ }, 'resolver down');
    const bad = await channel.send(notification(), { channel: 'email', address: 'not-an-address' });
    assertResult(bad, { outcome: 'permanent', status: 'invalid_target' }, 'bad address');
  });

  it('reads SMTP_URL and validates its configuration, naming the option', () => {
    assert.deepEqual(parseSmtpUrl('smtps://u%40x.com:p%3Ass@mail.example.com:2465'), { host: 'mail.example.com', secure: true, port: 2465, user: 'u@x.com', pass: 'p:ss' });
    assert.deepEqual(parseSmtpUrl('smtp://mail.example.com?starttls=never'), { host: 'mail.example.com', secure: false, starttls: 'never' });
    assert.throws(() => parseSmtpUrl('http://x'), /SMTP_URL: must start with smtp/);
    assert.throws(() => new EmailChannel({ from: 'a@b.co' }), /channels\.email\.host: is required/);
    assert.throws(() => new EmailChannel({ host: 'h' }), /channels\.email\.from: is required/);
    assert.throws(() => new EmailChannel({ host: 'h', from: 'nope' }), /channels\.email\.from: must be an email address/);
    assert.throws(() => new EmailChannel({ host: 'h', from: 'a@b.co', user: 'u' }), /channels\.email\.pass: is required/);
    assert.throws(() => new EmailChannel({ host: 'h', from: 'a@b.co', port: 70000 }), /channels\.email\.port/);
    assert.throws(() => new EmailChannel({ host: 'h', from: 'a@b.co', starttls: 'maybe' as never }), /channels\.email\.starttls/);
  });

  it('no password, user name or recipient address appears in any result or log line', () => {
    assert.ok(results.length >= 10);
    assertNoSecrets(results, logs.lines, [PASS, 'wrongPassSecret99', USER, TO]);
    assert.equal(channel.mask(target), 'on…@example.org');
  });
});
