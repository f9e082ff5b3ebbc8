/**
 * SSRF, end to end through every outbound channel's send path (the URL guard's own policy table is
 * in test/channels/urlGuard.test.ts): private, link-local, loopback, unspecified, IPv4-mapped and
 * oddly spelled addresses, and DNS names resolving to them, are refused with a clear, masked error
 * unless the config allow-lists them (test/trust/ssrf-config.test.ts); redirects are never followed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EmailChannel } from '../../src/channels/email.js';
import { HttpClient } from '../../src/channels/http.js';
import { createPushChannel } from '../../src/channels/push/index.js';
import { SlackChannel } from '../../src/channels/slack.js';
import { UrlGuard, type UrlGuardOptions } from '../../src/channels/urlGuard.js';
import { ApnsPeer } from '../helpers/peers/apns.js';
import { FcmPeer } from '../helpers/peers/fcm.js';
import { HttpPeer } from '../helpers/peers/httpPeer.js';
import { startSlackPeer } from '../helpers/peers/slack.js';
import { captureLogs, notification, settledHandles } from '../channels/fixtures.js';
import { AIM, assertClean, PATH_SECRET, REFUSED, USER_SECRET } from './ssrf-fixtures.js';

describe('SSRF: every outbound channel refuses non-public targets on its send path', () => {
  const { logger, lines } = captureLogs();
  const results: string[] = [];
  const guard = new UrlGuard();
  const client = new HttpClient({ guard });

  after(async () => {
    await client.close();
    assertClean([...results, ...lines]);
    assert.deepEqual(await settledHandles(), []);
  });

  for (const [name, aim] of Object.entries(AIM)) {
    it(`${name}: refuses every private, loopback, link-local, unspecified, mapped and oddly spelled host (permanent, url_refused, masked)`, async () => {
      for (const [host, kind] of REFUSED) {
        const { channel, target } = aim(`http://${host}:9`, guard, client);
        try {
          const r = await channel.send(notification(), target);
          results.push(JSON.stringify(r));
          assert.equal(r.outcome, 'permanent', `${name} ${host}: ${r.error}`);
          assert.equal(r.status, 'url_refused', `${name} ${host}`);
          assert.match(r.error ?? '', /refused http:\/\/\S+: /, `${name} ${host}: the error names the masked URL`);
          assert.match(r.error ?? '', kind, `${name} ${host}: the error names the kind of address`);
          assert.match(r.error ?? '', /allow-list the host or its range/, `${name} ${host}: the error says how to allow it`);
          assertClean([r.error ?? '']);
        } finally {
          await channel.close?.();
        }
      }
    });
  }

  it('email: refuses SMTP hosts by the same rules, however the address is spelled', async () => {
    for (const host of ['10.1.2.3', '169.254.169.254', '127.0.0.1', '::1', '::ffff:127.0.0.1', 'fe80::1', 'localhost', '0.0.0.0', '2130706433', '0x7f.1']) {
      const ch = new EmailChannel({ host, port: 25, from: 'vigil@example.com', user: 'vigil', pass: USER_SECRET }, { guard, logger });
      const r = await ch.send(notification(), { channel: 'email', address: 'oncall@example.com' });
      results.push(JSON.stringify(r));
      assert.equal(r.outcome, 'permanent', `${host}: ${r.error}`);
      assert.equal(r.status, 'url_refused', host);
      assert.match(r.error ?? '', /refused host \S+: it resolves to an? [\w-]+ .*address/, host);
    }
  });
});

describe('SSRF: DNS names resolving to refused addresses (the guard\'s resolver, the channels\' send path)', () => {
  const peers: { slack?: HttpPeer & { hookUrl: string } } = {};
  const lookups: string[] = [];
  const zone: Record<string, { address: string; family: number }[]> = {
    'metadata.attacker.test': [{ address: '169.254.169.254', family: 4 }],
    'intranet.attacker.test': [{ address: '10.20.30.40', family: 4 }],
    'mixed.attacker.test': [
      { address: '93.184.216.34', family: 4 },
      { address: '192.168.0.10', family: 4 },
    ],
    'v6.attacker.test': [{ address: 'fe80::1', family: 6 }],
    'mapped.attacker.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
    'loop.attacker.test': [{ address: '127.0.0.1', family: 4 }],
    'pinned.vigil.test': [{ address: '127.0.0.1', family: 4 }],
  };
  const resolve: NonNullable<UrlGuardOptions['resolve']> = async (host) => {
    lookups.push(host);
    const a = zone[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a;
  };
  let allowAll: { guard: UrlGuard; http: HttpClient };

  before(async () => {
    peers.slack = await startSlackPeer();
    // Allow-listed by name only: the name, not the address behind it, is what the config trusts.
    const guard = new UrlGuard({ resolve, allow: ['pinned.vigil.test'] });
    allowAll = { guard, http: new HttpClient({ guard }) };
  });
  after(async () => {
    await allowAll.http.close();
    await peers.slack?.close();
    assert.deepEqual(await settledHandles(), []);
  });

  const refusedNames: [string, RegExp][] = [
    ['metadata.attacker.test', /metadata\.attacker\.test resolves to a link-local address \(169\.254\.169\.254\)/],
    ['intranet.attacker.test', /resolves to a private address \(10\.20\.30\.40\)/],
    ['mixed.attacker.test', /resolves to a private address \(192\.168\.0\.10\)/],
    ['v6.attacker.test', /resolves to a link-local address \(fe80::1\)/],
    ['mapped.attacker.test', /resolves to a loopback address \(::ffff:127\.0\.0\.1\)/],
    ['loop.attacker.test', /resolves to a loopback address \(127\.0\.0\.1\)/],
    ['nx.attacker.test', /cannot resolve the host of http:\/\/\S+ \(ENOTFOUND\)/],
  ];
  for (const [name, aim] of Object.entries(AIM)) {
    it(`${name}: refuses names whose addresses are not all public, and names that do not resolve`, async () => {
      for (const [host, why] of refusedNames) {
        const port = new URL(peers.slack!.url).port;
        const { channel, target } = aim(`http://${host}:${port}`, allowAll.guard, allowAll.http);
        try {
          const r = await channel.send(notification(), target);
          assert.equal(r.outcome, 'permanent', `${name} ${host}: ${r.error}`);
          assert.equal(r.status, 'url_refused');
          assert.match(r.error ?? '', why, `${name} ${host}`);
          assertClean([r.error ?? '']);
        } finally {
          await channel.close?.();
        }
      }
      assert.equal(peers.slack!.received.length, 0, 'nothing reached the local peer');
    });
  }

  it('an allow-listed name connects to the address checked, resolved once (no second lookup to rebind)', async () => {
    const slack = peers.slack!;
    slack.reset();
    lookups.length = 0;
    const ch = new SlackChannel({}, { http: allowAll.http });
    const port = new URL(slack.url).port;
    // No real DNS knows this name: reaching the peer proves the connection used the guard's answer.
    const r = await ch.send(notification(), { channel: 'slack', address: `http://pinned.vigil.test:${port}/services/T0/B0/${PATH_SECRET}` });
    assert.equal(r.outcome, 'ok', r.error);
    assert.deepEqual(lookups, ['pinned.vigil.test']);
    assert.equal(slack.received.length, 1);
    assert.equal(slack.received[0].headers.host, `pinned.vigil.test:${port}`);
    // The name is trusted, not its address: another name for 127.0.0.1 is still refused, as is the literal.
    for (const url of [`http://loop.attacker.test:${port}/x`, `http://127.0.0.1:${port}/x`]) {
      const no = await ch.send(notification(), { channel: 'slack', address: url });
      assert.equal(no.status, 'url_refused', url);
    }
    assert.equal(slack.received.length, 1);
  });
});

describe('SSRF: redirects are never followed', () => {
  const guard = new UrlGuard({ allow: ['127.0.0.1'] });
  const client = new HttpClient({ guard });
  let inside: HttpPeer;
  let redirector: HttpPeer;
  let fcmToken: FcmPeer;
  let apns: ApnsPeer;
  let location = '';

  before(async () => {
    // What a redirect would reach: a loopback service holding something an attacker wants.
    inside = await HttpPeer.start(() => ({ status: 200, body: 'internal admin' }));
    redirector = await HttpPeer.start(() => ({ status: 302, headers: { location }, body: '' }));
    fcmToken = await FcmPeer.start();
    apns = await ApnsPeer.start();
  });
  after(async () => {
    await client.close();
    await Promise.all([inside.close(), redirector.close(), fcmToken.close(), apns.close()]);
    assert.deepEqual(await settledHandles(), []);
  });

  const targets = () => [`${inside.url}/internal/${PATH_SECRET}`, 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', `${inside.url}/`];

  for (const name of ['slack', 'discord', 'webhook', 'sms', 'webpush', 'fcm']) {
    it(`${name}: a 301/302/303/307/308 is a permanent failure naming the masked location, and nothing follows it`, async () => {
      for (const status of [301, 302, 303, 307, 308]) {
        for (const to of targets()) {
          location = to;
          redirector.reset();
          redirector.script({ status, headers: { location: to } });
          const { channel, target } = AIM[name](redirector.url, guard, client);
          try {
            const r = await channel.send(notification(), target);
            assert.equal(r.outcome, 'permanent', `${name} ${status}: ${r.error}`);
            assert.equal(String(r.status), String(status));
            if (['slack', 'discord', 'webhook', 'sms'].includes(name)) {
              assert.match(r.error ?? '', new RegExp(`HTTP ${status}: redirect to http://\\S+ not followed`));
            }
            assertClean([r.error ?? '']);
            assert.ok(!(r.error ?? '').includes('security-credentials'), r.error);
          } finally {
            await channel.close?.();
          }
          assert.equal(redirector.received.length, 1, `${name}: one request, no retry through the redirect`);
        }
      }
      assert.equal(inside.received.length, 0, `${name}: the redirect target was never called`);
    });
  }

  it('fcm: a redirect from messages:send (after a good token) is not followed either', async () => {
    for (const status of [302, 307]) {
      location = `${inside.url}/internal/${PATH_SECRET}`;
      // A good token from the token peer (it checks assertions against its own account), then messages:send redirects.
      const ch = createPushChannel(
        { allowHttp: true, fcm: { serviceAccount: { ...fcmToken.serviceAccount }, baseUrl: redirector.url, tokenUri: `${fcmToken.url}/token` } },
        { http: client },
      );
      redirector.reset();
      redirector.script({ status, headers: { location } });
      const r = await ch.send(notification(), { channel: 'push', address: `fcmToken:${PATH_SECRET}`, options: { platform: 'fcm' } });
      await ch.close();
      assert.equal(r.outcome, 'permanent', r.error);
      assert.equal(r.status, status);
      assert.equal(redirector.received.length, 1);
      assert.match(redirector.received[0].url, /messages:send$/);
    }
    assert.equal(inside.received.length, 0);
  });

  it('fcm: after a good token, messages:send to a refused base URL is refused too', async () => {
    for (const base of ['http://169.254.169.254', 'http://[::ffff:10.0.0.1]:8080', 'http://0x7f.0.0.2']) {
      const ch = createPushChannel({ allowHttp: true, fcm: { serviceAccount: { ...fcmToken.serviceAccount }, baseUrl: base, tokenUri: `${fcmToken.url}/token` } }, { http: client });
      const before = fcmToken.tokenRequests.length;
      const r = await ch.send(notification(), { channel: 'push', address: `fcmToken:${PATH_SECRET}`, options: { platform: 'fcm' } });
      await ch.close();
      assert.equal(fcmToken.tokenRequests.length, before + 1, 'the token endpoint (allowed) was called');
      assert.equal(r.outcome, 'permanent', r.error);
      assert.equal(r.status, 'url_refused');
      assert.match(r.error ?? '', /^FCM: refused http:\/\/\S+: \S+ resolves to an? [\w-]+ address/);
    }
  });

  it('apns: an HTTP/2 3xx is a permanent failure, not followed', async () => {
    const ch = createPushChannel(
      { allowHttp: true, apns: { teamId: apns.teamId, keyId: apns.keyId, privateKey: apns.privateKey, topic: apns.topic, baseUrl: apns.url } },
      { guard },
    );
    try {
      for (const status of [301, 307, 308]) {
        apns.answer({ status, headers: { location: `${inside.url}/internal/${PATH_SECRET}` } });
        const r = await ch.send(notification(), { channel: 'push', address: 'ab'.repeat(32), options: { platform: 'apns' } });
        assert.equal(r.outcome, 'permanent', r.error);
        assert.equal(r.status, status);
        assertClean([r.error ?? '']);
      }
    } finally {
      await ch.close();
    }
    assert.equal(inside.received.length, 0);
  });
});

