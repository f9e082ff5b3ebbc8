/** What the SSRF tests share: secrets carried by aimed URLs, keys, the channels' aims, the refused hosts. */
import assert from 'node:assert/strict';
import { createECDH, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Channel, ChannelTarget } from '../../src/channels/channel.js';
import { DiscordChannel } from '../../src/channels/discord.js';
import { HttpClient } from '../../src/channels/http.js';
import { createPushChannel, generateVapidKeys } from '../../src/channels/push/index.js';
import { SlackChannel } from '../../src/channels/slack.js';
import { SmsChannel } from '../../src/channels/sms.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { generateWebhookSecret, WebhookChannel } from '../../src/channels/webhook.js';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../helpers/peers/twilio.js';


/** Secret parts every aimed URL carries: in the path, the query and the credentials. */
export const PATH_SECRET = 'pAtHsEcReT_0123456789abcdef';
export const QUERY_SECRET = 'qUeRySeCrEt_0123456789abcdef';
export const USER_SECRET = 'uSeRpAsS_0123456789abcdef';
export const SECRETS = [PATH_SECRET, QUERY_SECRET, USER_SECRET, TEST_AUTH_TOKEN];

/** One key pair for the FCM service account and one for APNs, made once (RSA is slow). */
export const RSA_PEM = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
export const EC_PEM = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
export const VAPID = generateVapidKeys();

/** A browser-like Web Push subscription (a real P-256 point and a 16-byte auth secret) to `endpoint`. */
export function subscription(endpoint: string): string {
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
export const AIM: Record<string, (base: string, guard: UrlGuard, http: HttpClient) => Aimed> = {
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
export function withUser(base: string): string {
  return base.replace('://', `://vigil:${USER_SECRET}@`);
}

export function assertClean(texts: string[]): void {
  for (const t of texts) for (const s of SECRETS) assert.ok(!t.includes(s) && !t.includes(encodeURIComponent(s)), `secret ${s.slice(0, 6)}… leaked into: ${t}`);
}

/** Hosts as an attacker (or a careless config) writes them, and the kind of address each is. */
export const REFUSED: [host: string, kind: RegExp][] = [
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
