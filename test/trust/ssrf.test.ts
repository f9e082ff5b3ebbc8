/**
 * SSRF, end to end through every outbound channel's send path (the URL guard's own policy table is
 * in test/channels/urlGuard.test.ts): private, link-local, loopback, unspecified, IPv4-mapped and
 * oddly spelled addresses, and DNS names resolving to them, are refused with a clear, masked error
 * unless the config allow-lists them; redirects are never followed; and the outbox records a
 * refused target as a dead delivery whose attempt is permanent with a masked error.
 */
import assert from 'node:assert/strict';
import { createECDH, generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Channel, ChannelTarget, SendResult } from '../../src/channels/channel.js';
import { DiscordChannel } from '../../src/channels/discord.js';
import { EmailChannel } from '../../src/channels/email.js';
import { HttpClient } from '../../src/channels/http.js';
import { createPushChannel, generateVapidKeys } from '../../src/channels/push/index.js';
import { buildChannels } from '../../src/channels/registry.js';
import { SlackChannel } from '../../src/channels/slack.js';
import { SmsChannel } from '../../src/channels/sms.js';
import { UrlGuard, type UrlGuardOptions } from '../../src/channels/urlGuard.js';
import { generateWebhookSecret, WebhookChannel } from '../../src/channels/webhook.js';
import { buildDirectory } from '../../src/outbox/channelDirectory.js';
import { attemptsOf } from '../../src/outbox/sql.js';
import { ApnsPeer } from '../helpers/peers/apns.js';
import { FcmPeer } from '../helpers/peers/fcm.js';
import { HttpPeer } from '../helpers/peers/httpPeer.js';
import { startSlackPeer } from '../helpers/peers/slack.js';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, startTwilioPeer } from '../helpers/peers/twilio.js';
import { WebPushPeer } from '../helpers/peers/webpush.js';
import { BACKENDS } from '../helpers/stores.js';
import { http as request, remainingHandles } from '../http/harness.js';
import { startTestServer, until, writeConfig } from '../outbox/serverFixture.js';
import { captureLogs, notification, settledHandles } from '../channels/fixtures.js';

/** Secret parts every aimed URL carries: in the path, the query and the credentials. */
const PATH_SECRET = 'pAtHsEcReT_0123456789abcdef';
const QUERY_SECRET = 'qUeRySeCrEt_0123456789abcdef';
const USER_SECRET = 'uSeRpAsS_0123456789abcdef';
const SECRETS = [PATH_SECRET, QUERY_SECRET, USER_SECRET, TEST_AUTH_TOKEN];

/** One key pair for the FCM service account and one for APNs, made once (RSA is slow). */
const RSA_PEM = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const EC_PEM = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const VAPID = generateVapidKeys();

/** A browser-like Web Push subscription (a real P-256 point and a 16-byte auth secret) to `endpoint`. */
function subscription(endpoint: string): string {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return JSON.stringify({ endpoint, keys: { p256dh: ecdh.getPublicKey('base64url'), auth: randomBytes(16).toString('base64url') } });
}

/** An outbound channel aimed at a base URL (`http://host:port`): the channel and the target to send to. */
interface Aimed {
  channel: Channel;
  target: ChannelTarget;
}

/**
 * Every channel that calls out, aimed at `base` in the place its config or target puts a URL.
 * The guard is the one under test (FCM's token endpoint is aimed there too, so it is checked first).
 */
const AIM: Record<string, (base: string, guard: UrlGuard, http: HttpClient) => Aimed> = {
  slack: (base, _g, http) => ({
    channel: new SlackChannel({ timeoutMs: 2000 }, { http }),
    target: { channel: 'slack', address: `${withUser(base)}/services/T0SSRF/B0SSRF/${PATH_SECRET}?t=${QUERY_SECRET}` },
  }),
  discord: (base, _g, http) => ({
    channel: new DiscordChannel({ timeoutMs: 2000 }, { http }),
    target: { channel: 'discord', address: `${withUser(base)}/api/webhooks/987654321098765432/${PATH_SECRET}?t=${QUERY_SECRET}` },
  }),
  webhook: (base, _g, http) => ({
    channel: new WebhookChannel({ secret: generateWebhookSecret(), timeoutMs: 2000 }, { http }),
    target: { channel: 'webhook', address: `${withUser(base)}/hooks/${PATH_SECRET}?token=${QUERY_SECRET}` },
  }),
  sms: (base, _g, http) => ({
    channel: new SmsChannel({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN, from: '+15005550006', apiBase: base, timeoutMs: 2000 }, { http, env: {} }),
    target: { channel: 'sms', address: '+15551234567' },
  }),
  webpush: (base, _g, http) => ({
    channel: createPushChannel({ allowHttp: true, timeoutMs: 2000, webpush: { subject: 'mailto:ops@example.com', vapidPublicKey: VAPID.publicKey, vapidPrivateKey: VAPID.privateKey } }, { http }),
    target: { channel: 'push', address: subscription(`${base}/push/v2/${PATH_SECRET}?q=${QUERY_SECRET}`), options: { platform: 'webpush' } },
  }),
  fcm: (base, _g, http) => ({
    channel: createPushChannel(
      {
        allowHttp: true,
        timeoutMs: 2000,
        fcm: {
          serviceAccount: { project_id: 'ssrf-test', client_email: 'push@ssrf-test.iam.gserviceaccount.com', private_key: RSA_PEM },
          baseUrl: base,
          tokenUri: `${base}/token/${PATH_SECRET}`,
        },
      },
      { http },
    ),
    target: { channel: 'push', address: `fcmToken:${PATH_SECRET}`, options: { platform: 'fcm' } },
  }),
  apns: (base, guard) => ({
    channel: createPushChannel(
      { allowHttp: true, timeoutMs: 2000, apns: { teamId: 'TEAM123456', keyId: 'KEY1234567', privateKey: EC_PEM, topic: 'com.example.vigil', baseUrl: base } },
      { guard },
    ),
    target: { channel: 'push', address: 'ab'.repeat(32), options: { platform: 'apns' } },
  }),
};

/** Credentials in the URL: they must never show either. */
function withUser(base: string): string {
  return base.replace('://', `://vigil:${USER_SECRET}@`);
}

function assertClean(texts: string[]): void {
  for (const t of texts) for (const s of SECRETS) assert.ok(!t.includes(s) && !t.includes(encodeURIComponent(s)), `secret ${s.slice(0, 6)}… leaked into: ${t}`);
}

/** Hosts as an attacker (or a careless config) writes them, and the kind of address each is. */
const REFUSED: [host: string, kind: RegExp][] = [
  ['10.1.2.3', /a private address \(10\.1\.2\.3\)/],
  ['172.16.0.5', /a private address/],
  ['172.31.255.254', /a private address/],
  ['192.168.1.1', /a private address/],
  ['[fc00::1]', /a unique-local address \(fc00::1\)/],
  ['[fd12:3456::1]', /a unique-local address/],
  ['169.254.169.254', /a link-local address \(169\.254\.169\.254\)/],
  ['[fe80::1]', /a link-local address/],
  ['127.0.0.1', /a loopback address \(127\.0\.0\.1\)/],
  ['127.1.2.3', /a loopback address/],
  ['[::1]', /a loopback address \(::1\)/],
  ['localhost', /localhost resolves to a loopback address/],
  ['LocalHost', /localhost resolves to a loopback address/],
  ['0.0.0.0', /an unspecified \("this network"\) address/],
  ['[::]', /an unspecified address/],
  ['100.64.0.1', /a CGNAT \(shared\) address/],
  // IPv4-mapped, NAT64: judged by the IPv4 address inside.
  ['[::ffff:127.0.0.1]', /a loopback address/],
  ['[::ffff:169.254.169.254]', /a link-local address/],
  ['[::ffff:10.0.0.1]', /a private address/],
  ['[64:ff9b::7f00:1]', /a loopback address/],
  // Decimal, octal, hex and short spellings (the URL parser reads them as the IPv4 address).
  ['2130706433', /a loopback address \(127\.0\.0\.1\)/],
  ['0x7f.1', /a loopback address \(127\.0\.0\.1\)/],
  ['0x7f000001', /a loopback address \(127\.0\.0\.1\)/],
  ['0177.0.0.1', /a loopback address \(127\.0\.0\.1\)/],
  ['017700000001', /a loopback address \(127\.0\.0\.1\)/],
  ['127.1', /a loopback address \(127\.0\.0\.1\)/],
  ['0xa9.0xfe.0xa9.0xfe', /a link-local address \(169\.254\.169\.254\)/],
  ['2852039166', /a link-local address \(169\.254\.169\.254\)/],
  ['3232235777', /a private address \(192\.168\.1\.1\)/],
  ['0', /an unspecified/],
];

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

describe('SSRF: loopback reached only when the config allow-lists it', () => {
  let slack: HttpPeer & { hookUrl: string };
  let twilio: Awaited<ReturnType<typeof startTwilioPeer>>;
  let webpush: WebPushPeer;
  let v6: { url: string; hits: number; close(): Promise<void> };

  before(async () => {
    slack = await startSlackPeer();
    twilio = await startTwilioPeer();
    webpush = await WebPushPeer.start({ vapidPublicKey: VAPID.publicKey });
    v6 = await startV6Peer();
  });
  after(async () => {
    await Promise.all([slack.close(), twilio.close(), webpush.close(), v6.close()]);
    assert.deepEqual(await remainingHandles(), []);
  });

  const config = (extra: Record<string, unknown> = {}) => ({
    slack: { webhook_urls: [{ name: 'team', url: slack.hookUrl }] },
    sms: { account_sid: TEST_ACCOUNT_SID, auth_token: TEST_AUTH_TOKEN, from: '+15005550006', api_base: twilio.url, to: ['+15551234567'] },
    ...extra,
  });
  const sendAll = async (file: object, env: NodeJS.ProcessEnv = {}): Promise<SendResult[]> => {
    const set = buildChannels({ file, env });
    try {
      return await Promise.all(set.targets.map((t) => set.channels.get(t.channel as 'slack')!.send(notification({ level: 'CRITICAL' }), t)));
    } finally {
      await set.close();
    }
  };

  it('without allow_outbound, the configured local Slack and Twilio peers are refused and receive nothing', async () => {
    slack.reset();
    twilio.reset();
    for (const file of [config(), config({ allow_outbound: ['10.0.0.0/8', '169.254.169.254', 'fd00::/8', 'example.com'] })]) {
      const rs = await sendAll(file);
      assert.equal(rs.length, 2);
      for (const r of rs) {
        assert.equal(r.outcome, 'permanent', r.error);
        assert.equal(r.status, 'url_refused');
        assert.match(r.error ?? '', /127\.0\.0\.1 resolves to a loopback address \(127\.0\.0\.1\); allow-list the host or its range/);
      }
    }
    assert.equal(slack.received.length + twilio.received.length, 0);
  });

  it('allow_outbound in the file, or VIGIL_OUTBOUND_ALLOW, lets exactly those addresses through', async () => {
    slack.reset();
    twilio.reset();
    for (const [file, env] of [
      [config({ allow_outbound: ['127.0.0.1'] }), {}],
      [config({ allow_outbound: ['127.0.0.0/8'] }), {}],
      [config(), { VIGIL_OUTBOUND_ALLOW: '10.0.0.0/8, 127.0.0.1' }],
    ] as [object, NodeJS.ProcessEnv][]) {
      const rs = await sendAll(file, env);
      assert.deepEqual(rs.map((r) => r.outcome), ['ok', 'ok'], JSON.stringify(rs));
    }
    assert.equal(slack.received.length, 3);
    assert.equal(twilio.received.length, 3);
    // The allow-list of one address does not open its neighbours nor the metadata service.
    const set = buildChannels({ file: { allow_outbound: ['127.0.0.1'], slack: { webhook_urls: ['http://127.0.0.2:9/services/T/B/x', 'http://169.254.169.254/latest/meta-data/iam'] } }, env: {} });
    try {
      for (const t of set.targets) assert.equal((await set.channels.get('slack')!.send(notification(), t)).status, 'url_refused', t.address);
    } finally {
      await set.close();
    }
  });

  it('allow-listing the name localhost, or the IPv6 loopback ::1, opens that target only', async () => {
    slack.reset();
    const port = new URL(slack.url).port;
    const byName = await sendAll({ allow_outbound: ['localhost'], slack: { webhook_urls: [`http://localhost:${port}/services/T/B/${PATH_SECRET}`] } });
    assert.equal(byName[0].outcome, 'ok', byName[0].error);
    const v6url = `${v6.url}/services/T/B/${PATH_SECRET}`;
    const refused = await sendAll({ allow_outbound: ['127.0.0.1'], slack: { webhook_urls: [v6url] } });
    assert.equal(refused[0].status, 'url_refused');
    assert.match(refused[0].error ?? '', /::1 resolves to a loopback address \(::1\)/);
    assert.equal(v6.hits, 0);
    const allowed = await sendAll({ allow_outbound: ['::1'], slack: { webhook_urls: [v6url] } });
    assert.equal(allowed[0].outcome, 'ok', allowed[0].error);
    assert.equal(v6.hits, 1);
  });

  it('push targets of channels.push follow the same allow_outbound as every other channel', async () => {
    const push = {
      allow_http: true,
      webpush: { subject: 'mailto:ops@example.com', vapid_public_key: VAPID.publicKey, vapid_private_key: VAPID.privateKey },
      targets: [{ name: 'laptop', address: JSON.stringify(webpush.subscribe()), platform: 'webpush' }],
    };
    for (const [allow, outcome] of [
      [[], 'permanent'],
      [['127.0.0.1'], 'ok'],
    ] as [string[], string][]) {
      const dir = buildDirectory({ sections: { channels: { allow_outbound: allow, push } }, env: {} });
      try {
        const configured = dir.targets('push')[0];
        const r = await dir.channel('push')!.send(notification(), configured);
        assert.equal(r.outcome, outcome, `allow_outbound ${JSON.stringify(allow)}: ${r.error}`);
        if (outcome === 'permanent') assert.equal(r.status, 'url_refused');
        // A subscription a user registered (through the API) never gets the operator's allow-list.
        const fromUser = { ...configured, name: 'user:u1:s1', options: { platform: 'webpush', user_id: 'u1', subscription_id: 's1' } };
        const u = await dir.channel('push')!.send(notification(), fromUser);
        assert.equal(u.status, 'url_refused', `a user's subscription with allow_outbound ${JSON.stringify(allow)}: ${u.error}`);
      } finally {
        await dir.close();
      }
    }
    assert.equal(webpush.requests.length, 1);
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

for (const backend of BACKENDS) {
  describe(`SSRF in the outbox on ${backend.name}: a refused target is a dead delivery with a masked error`, { skip: backend.skip }, () => {
    it('records one permanent url_refused attempt per refused target, masked in the store and the API', async () => {
      const env = await backend.setup();
      const config = writeConfig(env.dataDir, {
        channels: {
          // A loopback allow-list entry must not open the other ranges.
          allow_outbound: ['127.0.0.1'],
          slack: { webhook_urls: [{ name: 'team', url: `http://10.0.0.7/services/T0SSRF/B0SSRF/${PATH_SECRET}` }] },
          discord: { webhook_urls: [{ name: 'ops', url: `http://169.254.169.254/api/webhooks/987654321098765432/${PATH_SECRET}` }] },
          webhook: { urls: [{ name: 'partner', url: `http://vigil:${USER_SECRET}@[::ffff:192.168.0.1]/hooks/${PATH_SECRET}?token=${QUERY_SECRET}` }], secret: generateWebhookSecret() },
          sms: { account_sid: TEST_ACCOUNT_SID, auth_token: TEST_AUTH_TOKEN, from: '+15005550006', api_base: 'http://0x7f.0.0.2', to: ['+15551234567'] },
          email: { host: '10.0.0.9', port: 25, user: 'vigil', pass: USER_SECRET, from: 'vigil@example.com', to: ['oncall@example.com'] },
          push: {
            allow_http: true,
            webpush: { subject: 'mailto:ops@example.com', vapid_public_key: VAPID.publicKey, vapid_private_key: VAPID.privateKey },
            fcm: {
              service_account: { project_id: 'ssrf-test', client_email: 'push@ssrf-test.iam.gserviceaccount.com', private_key: RSA_PEM },
              base_url: 'http://[fe80::1]',
              token_uri: `http://169.254.169.254/computeMetadata/v1/${PATH_SECRET}`,
            },
            apns: { team_id: 'TEAM123456', key_id: 'KEY1234567', private_key: EC_PEM, topic: 'com.example.vigil', base_url: 'http://2130706434:2197' },
            targets: [
              { name: 'laptop', address: subscription(`http://[fd00::7]/push/v2/${PATH_SECRET}`), platform: 'webpush' },
              { name: 'android', address: `fcm${PATH_SECRET}`, platform: 'fcm' },
              { name: 'iphone', address: 'ab'.repeat(32), platform: 'apns' },
            ],
          },
        },
        interventions: { routes: [{ name: 'everything', channels: ['email', 'slack', 'discord', 'webhook', 'sms', 'push'] }] },
        worker: { poll_interval_ms: 50, unhealthy_after: 0 },
      });
      const server = await startTestServer(env, config);
      try {
        // A signed-in user registers Web Push subscriptions whose endpoints (https, as browsers give) aim inside.
        const user = await request(`${server.url}/v1/users`, { key: server.firstAdminKey!, json: { name: 'mallory' } });
        assert.equal(user.status, 201, user.text);
        const endpoints = [`https://169.254.169.254/latest/meta-data/${PATH_SECRET}`, `https://[::ffff:7f00:1]/push/${PATH_SECRET}`, `https://2130706433/push/${PATH_SECRET}`];
        for (const endpoint of endpoints) {
          const sub = await request(`${server.url}/v1/push/subscriptions`, { key: String(user.body.token), json: JSON.parse(subscription(endpoint)) });
          assert.equal(sub.status, 201, sub.text);
        }
        const created = await request(`${server.url}/v1/interventions`, { key: server.firstAdminKey!, json: { level: 'CRITICAL', title: 'SSRF probe', task_id: 'ssrf-1' } });
        assert.equal(created.status, 201, created.text);
        // email, slack, discord, webhook, sms, three configured push targets and three subscriptions.
        const expected = 11;
        let last = '';
        const page = await until(async () => {
          const r = await request(`${server.url}/v1/deliveries?attempts=true&limit=100`, { key: server.firstAdminKey! });
          last = r.text;
          const ds = r.body.deliveries as { status: string }[];
          return ds.length === expected && ds.every((d) => d.status === 'dead') ? r : null;
        }, `${expected} dead deliveries`).catch((err: Error) => assert.fail(`${err.message}: ${last}`));
        const ds = page.body.deliveries as { id: string; channel: string; attempt_count: number; last_error: string; target_masked: string; attempts: { outcome: string; provider_status: string | null; error: string | null }[] }[];
        for (const d of ds) {
          assert.equal(d.attempt_count, 1, `${d.channel}: refused at once, never retried`);
          assert.equal(d.attempts.length, 1);
          assert.equal(d.attempts[0].outcome, 'permanent', d.channel);
          assert.equal(d.attempts[0].provider_status, 'url_refused', d.channel);
          assert.match(d.last_error, /refused (https?:\/\/\S+: \S+|host \S+: it) resolves to an? [\w (")-]+ address/, d.channel);
        }
        const rows = await attemptsOf(server.store, ds.map((d) => d.id));
        assert.equal(rows.length, expected);
        assertClean([page.text, ...rows.map((r) => JSON.stringify(r))]);
        assert.ok(!page.text.includes('PRIVATE KEY') && !page.text.includes(VAPID.privateKey));
      } finally {
        await server.close();
        await env.cleanup();
      }
      assert.deepEqual(await remainingHandles(), []);
    });
  });
}

/** An HTTP server on the IPv6 loopback that answers like a Slack webhook. */
async function startV6Peer(): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const state = { hits: 0 };
  const server = http.createServer((req, res) => {
    state.hits++;
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://[::1]:${port}`,
    get hits() {
      return state.hits;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise((r) => setTimeout(r, 1));
    },
  };
}
