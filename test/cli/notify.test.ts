/** `vigil notify test`: a test notification through a channel now, against local provider peers. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/stores.js';
import { DISCORD_HOOK_PATH, discordUnknownWebhook, startDiscordPeer } from '../helpers/peers/discord.js';
import type { HttpPeer } from '../helpers/peers/httpPeer.js';
import { SLACK_HOOK_PATH, slackError, startSlackPeer } from '../helpers/peers/slack.js';
import { remainingHandles } from '../http/harness.js';
import { peerChannels, writeConfig } from '../outbox/serverFixture.js';
import { vigil } from './cli.js';

const SECRETS = [DISCORD_HOOK_PATH.split('/').pop()!, SLACK_HOOK_PATH.split('/').pop()!];
const clean = (...texts: string[]) => {
  for (const t of texts) for (const s of SECRETS) assert.ok(!t.includes(s), `secret in output: ${t}`);
};

describe('vigil notify test', () => {
  let discord: HttpPeer & { hookUrl: string };
  let slack: HttpPeer & { hookUrl: string };
  let config: string;
  before(async () => {
    discord = await startDiscordPeer();
    slack = await startSlackPeer();
    config = writeConfig(tempDir(), { channels: peerChannels(discord.hookUrl, slack.hookUrl) });
  });
  after(async () => {
    await Promise.all([discord.close(), slack.close()]);
    assert.deepEqual(await remainingHandles(), []);
  });

  it('sends through Discord now and prints the provider\'s answer with the target masked', async () => {
    discord.reset();
    const r = await vigil(['notify', 'test', '--channel', 'discord', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^discord ops http:\/\/127\.0\.0\.1:\d+\/api\/webhooks\/12…\/\*\*\*\*: ok \(status 200\) in [\d.]+ ms, provider id \d+\n$/);
    assert.equal(discord.received.length, 1);
    assert.match(discord.received[0].body, /Vigil test notification/);
    clean(r.stdout, r.stderr);
  });

  it('exits non-zero when the provider refuses (a deleted Discord webhook), target still masked', async () => {
    discord.reset();
    discord.script(discordUnknownWebhook());
    const r = await vigil(['notify', 'test', '--channel', 'discord', '--target', 'ops', '--config', config, '--json']);
    assert.equal(r.code, 1);
    const [res] = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(res.outcome, 'permanent');
    assert.equal(res.status, '404');
    assert.equal(res.target_gone, true);
    assert.match(String(res.target_masked), /\/api\/webhooks\/12…\/\*\*\*\*$/);
    assert.match(r.stderr, /1 of 1 target did not accept the test notification/);
    clean(r.stdout, r.stderr);
  });

  it('reports Slack\'s error code, and takes channels from the environment', async () => {
    slack.reset();
    slack.script(slackError('channel_is_archived'));
    const r = await vigil(['notify', 'test', '--channel', 'slack', '--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /slack team .*: permanent \(status 410\).*the target is gone\n {2}.*channel_is_archived/s);
    clean(r.stdout, r.stderr);

    discord.reset();
    const env = { DISCORD_WEBHOOK_URL: discord.hookUrl, VIGIL_OUTBOUND_ALLOW: '127.0.0.1' };
    const e = await vigil(['notify', 'test', '--channel', 'discord'], { env, cwd: tempDir() });
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /^discord discord-1 .*: ok/);
  });

  it('names the configured channels and targets when asked for another', async () => {
    const r = await vigil(['notify', 'test', '--channel', 'sms', '--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /channel "sms" is not configured here \(configured: discord, slack\)/);
    const t = await vigil(['notify', 'test', '--channel', 'discord', '--target', 'nope', '--config', config]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /no target named "nope" \(targets: ops\)/);
  });
});
