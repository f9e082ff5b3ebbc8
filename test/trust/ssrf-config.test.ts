/**
 * SSRF, configured: loopback is reached only when the config allow-lists it (the file,
 * VIGIL_OUTBOUND_ALLOW, push targets alike), and the outbox records a refused target as a dead
 * delivery whose attempt is permanent with a masked error, in the store and the API.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { SendResult } from '../../src/channels/channel.js';
import { buildChannels } from '../../src/channels/registry.js';
import { generateWebhookSecret } from '../../src/channels/webhook.js';
import { buildDirectory } from '../../src/outbox/channelDirectory.js';
import { attemptsOf } from '../../src/outbox/sql.js';
import { HttpPeer } from '../helpers/peers/httpPeer.js';
import { startSlackPeer } from '../helpers/peers/slack.js';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, startTwilioPeer } from '../helpers/peers/twilio.js';
import { WebPushPeer } from '../helpers/peers/webpush.js';
import { BACKENDS } from '../helpers/stores.js';
import { http as request, remainingHandles } from '../http/harness.js';
import { startTestServer, until, writeConfig } from '../outbox/serverFixture.js';
import { notification } from '../channels/fixtures.js';
import { assertClean, EC_PEM, PATH_SECRET, QUERY_SECRET, RSA_PEM, subscription, USER_SECRET, VAPID } from './ssrf-fixtures.js';

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
