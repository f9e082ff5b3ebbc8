import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildChannels, DEFAULT_LEVELS, resolveChannelsConfig } from '../../src/channels/registry.js';
import { generateWebhookSecret } from '../../src/channels/webhook.js';
import { startDiscordPeer } from '../helpers/peers/discord.js';
import type { HttpPeer } from '../helpers/peers/httpPeer.js';
import { startSlackPeer } from '../helpers/peers/slack.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/peers/smtp.js';
import { startTwilioPeer, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../helpers/peers/twilio.js';
import { startWebhookReceiver } from '../helpers/peers/webhook.js';
import { assertNoSecrets, captureLogs, notification, settledHandles } from './fixtures.js';

describe('channel registry: config file and environment', () => {
  it('builds channels and targets from the environment, with the original\'s levels', async () => {
    const set = buildChannels({
      env: {
        DISCORD_WEBHOOK_URL: 'https://discord.com/api/webhooks/123456789/tokenA',
        SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T1/B1/aaa, https://hooks.slack.com/services/T1/B2/bbb',
        SMTP_URL: 'smtp://mailer:pw-secret@smtp.example.com:2525',
        SMTP_FROM: 'vigil@example.com',
        ALERT_EMAIL_TO: 'a@example.com,b@example.com',
        TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        TWILIO_PHONE_NUMBER: '+15005550006',
        ALERT_SMS_TO: '+1-555-123-4567',
        WEBHOOK_URL: 'https://hooks.example.com/vigil',
        WEBHOOK_SECRET: generateWebhookSecret(),
      },
    });
    try {
      assert.deepEqual([...set.channels.keys()], ['discord', 'slack', 'email', 'sms', 'webhook']);
      assert.deepEqual(
        set.targets.map((t) => [t.channel, t.options?.levels]),
        [
          ['discord', DEFAULT_LEVELS.discord],
          ['slack', DEFAULT_LEVELS.slack],
          ['slack', DEFAULT_LEVELS.slack],
          ['email', ['URGENT', 'CRITICAL']],
          ['email', ['URGENT', 'CRITICAL']],
          ['sms', ['CRITICAL']],
          ['webhook', DEFAULT_LEVELS.webhook],
        ],
      );
      const summary = JSON.stringify(set.summary());
      for (const secret of ['tokenA', '/B1/aaa', 'a@example.com', '5551234567', '/vigil']) assert.ok(!summary.includes(secret), `${secret} in ${summary}`);
      assert.match(summary, /discord\.com\/api\/webhooks\/12…\/\*\*\*\*/);
    } finally {
      await set.close();
    }
  });

  it('reads the file in snake_case and lets environment variables override it', () => {
    const file = {
      channels: {
        allow_outbound: ['10.0.0.0/8'],
        discord: { webhook_urls: ['https://discord.com/api/webhooks/1/fromfile'], username: 'FromFile', levels: ['CRITICAL'] },
        email: { host: 'file.example.com', port: 25, from: 'file@example.com', to: ['x@example.com'] },
        sms: { max_segments: 2 },
      },
    };
    const cfg = resolveChannelsConfig(file, {
      DISCORD_WEBHOOK_URL: 'https://discord.com/api/webhooks/2/fromenv',
      SMTP_FROM: 'env@example.com',
      SMS_MAX_SEGMENTS: '4',
      VIGIL_OUTBOUND_ALLOW: '127.0.0.1, ::1',
    });
    assert.deepEqual(cfg.discord, { webhookUrls: ['https://discord.com/api/webhooks/2/fromenv'], username: 'FromFile', levels: ['CRITICAL'] });
    assert.deepEqual(cfg.email, { host: 'file.example.com', port: 25, from: 'env@example.com', to: ['x@example.com'] });
    assert.equal(cfg.sms?.maxSegments, 4);
    assert.deepEqual(cfg.allowOutbound, ['127.0.0.1', '::1']);
    assert.equal(resolveChannelsConfig(file, {}).sms?.maxSegments, 2);
    assert.deepEqual(resolveChannelsConfig(file, {}).allowOutbound, ['10.0.0.0/8']);
    assert.equal(buildChannels({ file: {}, env: {} }).channels.size, 0);
  });

  it('names targets: by position, or as the file names them', async () => {
    const set = buildChannels({
      file: {
        slack: { webhook_urls: ['https://hooks.slack.com/services/T1/B1/a', { name: 'ops', url: 'https://hooks.slack.com/services/T1/B2/b' }], timeout_ms: 2000 },
        webhook: { urls: [{ name: 'partner', url: 'https://h.example/x', secret_name: 'p' }], secret: generateWebhookSecret(), secrets: { p: generateWebhookSecret() } },
      },
      env: {},
    });
    try {
      assert.deepEqual(set.targets.map((t) => [t.channel, t.name]), [['slack', 'slack-1'], ['slack', 'ops'], ['webhook', 'partner']]);
      assert.deepEqual([...set.targetsByChannel().keys()], ['slack', 'webhook']);
      assert.equal(set.targets[2].options?.secretName, 'p');
      assert.deepEqual(set.summary()[1], { channel: 'slack', name: 'ops', target: 'https://hooks.slack.com/services/T1…/****', levels: DEFAULT_LEVELS.slack });
    } finally {
      await set.close();
    }
    assert.throws(() => buildChannels({ file: { slack: { webhook_urls: [{ name: 'a', url: 'https://x/1' }, { name: 'a', url: 'https://x/2' }] } }, env: {} }), /two targets are named "a"/);
    assert.throws(() => buildChannels({ file: { slack: { webhook_urls: [{ name: 'a b', url: 'https://x/1' }] } }, env: {} }), /channels\.slack\.webhook_urls\[0\]/);
  });

  it('names the option or variable at fault, never its value', () => {
    assert.throws(() => buildChannels({ env: { WEBHOOK_URL: 'https://h.example/x' } }), /channels\.webhook\.secret: is required .*\(environment: WEBHOOK_SECRET\)/);
    assert.throws(() => buildChannels({ env: { ALERT_SMS_TO: '+15551234567', TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID } }), /channels\.sms\.auth_token: is required \(or set TWILIO_AUTH_TOKEN\)/);
    assert.throws(() => buildChannels({ env: { ALERT_EMAIL_TO: 'a@b.co', SMTP_URL: 'smtp://u:pw@h.example' } }), /channels\.email\.from: is required.*SMTP_FROM/);
    assert.throws(() => buildChannels({ env: { SMTP_URL: 'mailto:u:topsecret@h' } }), (err: Error) => /SMTP_URL/.test(err.message) && !err.message.includes('topsecret'));
    assert.throws(() => buildChannels({ file: { slack: { webhook_urls: 'https://x' } }, env: {} }), /channels\.slack\.webhook_urls: must be a list/);
    assert.throws(() => buildChannels({ file: { slack: { webhook_urls: ['https://x'], levels: ['LOUD'] } }, env: {} }), /channels\.slack\.levels: unknown level "LOUD"/);
    assert.throws(() => buildChannels({ env: { DISCORD_WEBHOOK_URL: 'https://d/x', VIGIL_CHANNEL_TIMEOUT_MS: 'soon' } }), /channels\.timeout_ms: .*VIGIL_CHANNEL_TIMEOUT_MS/);
    assert.throws(() => buildChannels({ env: { WEBHOOK_URL: 'https://h/x', WEBHOOK_SECRET: 'whsec_short' } }), /WEBHOOK_SECRET/);
  });
});

describe('channel registry: every channel from the environment, against local peers', () => {
  let discord: HttpPeer & { hookUrl: string };
  let slack: HttpPeer & { hookUrl: string };
  let twilio: HttpPeer;
  let receiver: HttpPeer;
  let smtp: SmtpPeer;
  const secret = generateWebhookSecret();
  before(async () => {
    [discord, slack, twilio, receiver, smtp] = await Promise.all([startDiscordPeer(), startSlackPeer(), startTwilioPeer(), startWebhookReceiver(secret), startSmtpPeer({ hideStartTls: true })]);
  });
  after(async () => {
    await Promise.all([discord.close(), slack.close(), twilio.close(), receiver.close(), smtp.close()]);
    assert.deepEqual(await settledHandles(), [], 'the test left sockets or servers open');
  });

  it('sends one notification through each, masking everything it logs', async () => {
    const logs = captureLogs();
    const env = {
      VIGIL_OUTBOUND_ALLOW: '127.0.0.1',
      DISCORD_WEBHOOK_URL: discord.hookUrl,
      SLACK_WEBHOOK_URL: slack.hookUrl,
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}?starttls=never`,
      SMTP_FROM: 'vigil@example.com',
      ALERT_EMAIL_TO: 'oncall@example.com',
      TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      TWILIO_PHONE_NUMBER: '+15005550006',
      TWILIO_API_BASE: twilio.url,
      ALERT_SMS_TO: '+15551234567',
      WEBHOOK_URL: `${receiver.url}/hook`,
      WEBHOOK_SECRET: secret,
    };
    const set = buildChannels({ env }, { logger: logs.logger });
    try {
      const results = await Promise.all(set.targets.map((t) => set.channels.get(t.channel as 'sms')!.send(notification({ level: 'CRITICAL' }), t)));
      assert.deepEqual(results.map((r) => [r.outcome, r.error]), set.targets.map(() => ['ok', undefined]));
      assert.equal(discord.received.length + slack.received.length + twilio.received.length + receiver.received.length + smtp.mails.length, 5);
      assertNoSecrets(results, logs.lines, [discord.hookUrl, slack.hookUrl, TEST_AUTH_TOKEN, '5551234567', 'oncall@', secret]);
    } finally {
      await set.close();
    }
  });
});
