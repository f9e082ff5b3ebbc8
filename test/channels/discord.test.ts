import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SendResult } from '../../src/channels/channel.js';
import { DISCORD_COLORS, DISCORD_LIMITS, DiscordChannel, renderDiscord, type DiscordEmbed } from '../../src/channels/discord.js';
import { HttpClient } from '../../src/channels/http.js';
import { INTERVENTION_LEVELS } from '../../src/channels/levels.js';
import { UrlGuard } from '../../src/channels/urlGuard.js';
import { DISCORD_HOOK_PATH, discordError, discordRateLimited, discordUnknownWebhook, startDiscordPeer } from '../helpers/peers/discord.js';
import { HANG, type HttpPeer, type Scripted } from '../helpers/peers/httpPeer.js';
import { assertNoSecrets, assertResult, captureLogs, notification, testHttp, settledHandles, type Expect } from './fixtures.js';

describe('Discord channel against a local Discord peer', () => {
  let peer: HttpPeer & { hookUrl: string };
  let http: HttpClient;
  let channel: DiscordChannel;
  const logs = captureLogs();
  const results: SendResult[] = [];
  const target = () => ({ channel: 'discord', address: peer.hookUrl });

  before(async () => {
    peer = await startDiscordPeer();
    http = testHttp();
    channel = new DiscordChannel({ timeoutMs: 300, username: 'Vigil' }, { http, logger: logs.logger });
  });
  after(async () => {
    await channel.close();
    await http.close();
    await peer.close();
    assert.deepEqual(await settledHandles(), [], 'the test left sockets or servers open');
  });

  const table: [string, Scripted | undefined, Expect][] = [
    ['200 with the message (wait=true)', undefined, { outcome: 'ok', status: 200 }],
    ['429 retry_after 1.5 s in the body (header says 2)', discordRateLimited(1.5), { outcome: 'retryable', status: 429, retryAfterMs: 1500, error: /rate limited/ }],
    ['429 global', discordRateLimited(0.25, true), { outcome: 'retryable', status: 429, retryAfterMs: 250, error: /global/ }],
    ['429 with only a Retry-After header', { status: 429, headers: { 'retry-after': '3' }, body: { message: 'slow down' } }, { outcome: 'retryable', status: 429, retryAfterMs: 3000 }],
    ['404 Unknown Webhook', discordUnknownWebhook(), { outcome: 'permanent', status: 404, targetGone: true, error: /10015: Unknown Webhook.*deleted/ }],
    ['401 Invalid Webhook Token', discordError(401, 50027, 'Invalid Webhook Token'), { outcome: 'permanent', status: 401, error: /50027/ }],
    ['400 Invalid Form Body', discordError(400, 50035, 'Invalid Form Body'), { outcome: 'permanent', status: 400 }],
    ['403 Missing Access', discordError(403, 50001, 'Missing Access'), { outcome: 'permanent', status: 403 }],
    ['500', { status: 500, body: 'internal error' }, { outcome: 'retryable', status: 500 }],
    ['502 from a proxy, HTML', { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>Bad Gateway</html>' }, { outcome: 'retryable', status: 502 }],
    ['503 with Retry-After', { status: 503, headers: { 'retry-after': '5' }, body: '' }, { outcome: 'retryable', status: 503, retryAfterMs: 5000 }],
    ['a redirect', { status: 301, headers: { location: 'http://169.254.169.254/' } }, { outcome: 'permanent', status: 301, error: /redirect/ }],
    ['a peer that never answers', HANG, { outcome: 'retryable', status: 'timeout', error: /no answer within 300 ms/ }],
  ];
  for (const [label, reply, expect] of table) {
    it(`${label} → ${expect.outcome}`, async () => {
      if (reply) peer.script(reply);
      const r = await channel.send(notification(), target());
      results.push(r);
      assertResult(r, expect, label);
      if (expect.outcome === 'ok') assert.match(r.providerId ?? '', /^\d+$/);
    });
  }

  it('posts embeds with the level colour, timestamp, footer and no mentions', async () => {
    for (const level of INTERVENTION_LEVELS) {
      peer.reset();
      const r = await channel.send(notification({ level, message: '@everyone look' }), target());
      assert.equal(r.outcome, 'ok');
      const req = peer.received[0];
      assert.equal(req.url, `${DISCORD_HOOK_PATH}?wait=true`);
      assert.equal(req.headers['content-type'], 'application/json');
      const body = JSON.parse(req.body) as { username: string; embeds: DiscordEmbed[]; allowed_mentions: unknown };
      assert.equal(body.username, 'Vigil');
      assert.deepEqual(body.allowed_mentions, { parse: [] });
      const [e] = body.embeds;
      assert.equal(e.color, DISCORD_COLORS[level]);
      assert.equal(e.timestamp, '2026-01-01T12:00:00.000Z');
      assert.equal(e.title, 'Intervention Required for Task task_123');
      assert.match(e.footer.text, /intervention int_0192a7b3/);
      assert.deepEqual(e.fields.slice(0, 3).map((f) => [f.name, f.value]), [['Level', level], ['Task', 'task_123'], ['Reasons', 'ERROR_THRESHOLD, COMPLIANCE_CHECK']]);
    }
    assert.deepEqual(DISCORD_COLORS, { INFO: 3447003, WARNING: 15105570, URGENT: 16711680, CRITICAL: 10038562 });
  });

  it('answers 204 without wait, and links to the dashboard when configured', async () => {
    const ch = new DiscordChannel({ wait: false, publicUrl: 'https://vigil.example.com' }, { http });
    peer.reset();
    const r = await ch.send(notification(), target());
    assert.equal(r.outcome, 'ok');
    assert.equal(r.status, 204);
    assert.equal(peer.received[0].url, DISCORD_HOOK_PATH);
    assert.equal((JSON.parse(peer.received[0].body) as { embeds: DiscordEmbed[] }).embeds[0].url, 'https://vigil.example.com/interventions/int_0192a7b3');
    await ch.close();
  });

  it('keeps every embed within Discord\'s limits, cutting with an ellipsis', () => {
    const context = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key_${i}_${'k'.repeat(300)}`, 'v'.repeat(2000)]));
    const p = renderDiscord(notification({ title: 'T'.repeat(1000), message: 'M'.repeat(10_000), reasons: ['R'.repeat(3000)], context }));
    const e = p.embeds[0];
    assert.equal(e.title.length, DISCORD_LIMITS.title);
    assert.ok(e.title.endsWith('…'));
    assert.ok(e.description.length <= DISCORD_LIMITS.description && e.description.endsWith('…'));
    assert.ok(e.fields.length <= DISCORD_LIMITS.fields);
    for (const f of e.fields) assert.ok(f.name.length <= DISCORD_LIMITS.fieldName && f.value.length <= DISCORD_LIMITS.fieldValue);
    const total = e.title.length + e.description.length + e.footer.text.length + e.fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
    assert.ok(total <= DISCORD_LIMITS.total, `total ${total}`);
    const small = renderDiscord(notification({ context: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])) }));
    assert.equal(small.embeds[0].fields.length, 25);
  });

  it('a webhook URL on a non-allowed address is refused before anything is sent', async () => {
    const strict = new DiscordChannel({}, { guard: new UrlGuard(), logger: logs.logger });
    peer.reset();
    const r = await strict.send(notification(), target());
    results.push(r);
    assertResult(r, { outcome: 'permanent', status: 'url_refused', error: /loopback/ }, 'refused');
    assert.equal(peer.received.length, 0);
    await strict.close();
    results.push(await channel.send(notification(), { channel: 'discord', address: 'http://127.0.0.1:1/api/webhooks/1234567/tok' }));
    results.push(await channel.send(notification(), { channel: 'discord', address: 'not-a-url/api/webhooks/123/dIsCoRdSeCrEtToKeN_abcdefghijklmnop' }));
  });

  it('no secret of the webhook URL appears in any result or log line', () => {
    assert.ok(results.length > 10);
    assert.ok(logs.lines.length > 10);
    assertNoSecrets(results, logs.lines, [peer.hookUrl, DISCORD_HOOK_PATH, 'dIsCoRdSeCrEtToKeN_abcdefghijklmnop', '123456789012345678']);
    assert.equal(channel.mask(target()), `${peer.url}/api/webhooks/12…/****`);
  });
});
